"""Kinesis and DynamoDB stream mappings isolate, bound and keep their failures."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.event_sources import describe_mapping, has_on_failure, mapping_of, source_kind
from rules.support.values import flag, number

STREAM_KINDS = {"kinesis": "Kinesis", "dynamodb": "DynamoDB stream"}


def check(resource: Resource, ctx: RuleContext) -> Verdict:
    mapping = mapping_of(ctx, resource)
    kind = source_kind(ctx, mapping)
    if kind not in STREAM_KINDS:
        return NOT_APPLICABLE
    props = resource.properties
    problems = []
    if flag(ctx, resource.stack, props.get("BisectBatchOnFunctionError")) is not True:
        problems.append("does not bisect a failing batch (BisectBatchOnFunctionError)")
    raw_retries = props.get("MaximumRetryAttempts")
    retries = None if raw_retries is None else number(ctx, resource.stack, raw_retries)
    if raw_retries is None or retries == -1:
        problems.append("retries a failing batch until its records expire (MaximumRetryAttempts "
                        f"{'unset' if raw_retries is None else '-1'}), blocking the shard")
    elif retries is None:
        problems.append("has a MaximumRetryAttempts that is not a literal number")
    if not has_on_failure(resource):
        problems.append("has no on-failure destination, so records it gives up on are lost")
    if problems:
        return f"{STREAM_KINDS[kind]} {describe_mapping(mapping)} " + "; ".join(problems)
    return None


RULE = Rule(
    id="SG-ESM-004",
    title="Stream event source mappings bisect, cap retries and keep failures",
    severity="high",
    concerns=("event-source", "retries"),
    applies_to=("AWS::Lambda::EventSourceMapping",),
    check=check,
    rationale=(
        "Lambda reads a Kinesis or DynamoDB stream shard in order: by default a batch that fails is "
        "retried until its records expire, and the whole shard stops behind it. Bisecting the batch "
        "isolates the bad record, a finite MaximumRetryAttempts lets the shard move on, and an "
        "on-failure destination keeps a pointer to the records that were skipped."
    ),
    remediation=(
        "Configure the event source: `KinesisEventSource(stream, bisect_batch_on_error=True, "
        "retry_attempts=3, max_record_age=Duration.hours(1), on_failure=lambda_event_sources.SqsDlq(dlq), "
        "report_batch_item_failures=True, ...)` (the same options on `DynamoEventSource`)."
    ),
    seeds=("004 #3 Missing Advanced Service Configurations",),
)
