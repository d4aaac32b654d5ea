"""SQS event source mappings report batch item failures."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.event_sources import describe_mapping, mapping_of, source_kind
from rules.support.values import number

REPORT = "ReportBatchItemFailures"


def check(resource: Resource, ctx: RuleContext) -> Verdict:
    mapping = mapping_of(ctx, resource)
    if source_kind(ctx, mapping) != "sqs":
        return NOT_APPLICABLE
    types = resource.properties.get("FunctionResponseTypes") or []
    if isinstance(types, list) and REPORT in types:
        return None
    if number(ctx, resource.stack, resource.properties.get("BatchSize")) == 1:
        return None  # a batch of one message cannot partly fail
    return (f"SQS {describe_mapping(mapping)} does not report batch item failures: one failed message "
            "makes Lambda retry the whole batch, reprocessing the messages that succeeded")


RULE = Rule(
    id="SG-ESM-001",
    title="SQS event source mappings report batch item failures",
    severity="medium",
    concerns=("event-source", "retries"),
    applies_to=("AWS::Lambda::EventSourceMapping",),
    check=check,
    rationale=(
        "Without `ReportBatchItemFailures` a function either succeeds for a whole SQS batch or fails it: "
        "one poison message makes every message of its batch visible again, so they are processed twice "
        "and, after maxReceiveCount rounds, healthy messages land in the dead-letter queue with it."
    ),
    remediation=(
        "Use `lambda_event_sources.SqsEventSource(queue, report_batch_item_failures=True, ...)` and "
        "return `{\"batchItemFailures\": [{\"itemIdentifier\": message_id}, ...]}` from the handler "
        "(CloudFormation: `FunctionResponseTypes: [ReportBatchItemFailures]`)."
    ),
    seeds=("003 #9 Missing SQS Batch Processing Configuration",),
)
