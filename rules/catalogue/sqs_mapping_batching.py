"""SQS event source mappings choose their batch size and batching window."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.event_sources import describe_mapping, is_fifo, mapping_of, source_kind

DEFAULTS = {"BatchSize": "10 messages", "MaximumBatchingWindowInSeconds": "0 s"}


def check(resource: Resource, ctx: RuleContext) -> Verdict:
    mapping = mapping_of(ctx, resource)
    if source_kind(ctx, mapping) != "sqs":
        return NOT_APPLICABLE
    required = ["BatchSize"]
    # FIFO queues do not support a batching window.
    if mapping.source is None or not is_fifo(ctx, mapping.source):
        required.append("MaximumBatchingWindowInSeconds")
    missing = [f"{name} (default {DEFAULTS[name]})" for name in required if resource.properties.get(name) is None]
    if missing:
        return (f"SQS {describe_mapping(mapping)} leaves {' and '.join(missing)} unset, so its batching is "
                "whatever the defaults give rather than a choice")
    return None


RULE = Rule(
    id="SG-ESM-002",
    title="SQS event source mappings set batch size and window",
    severity="low",
    concerns=("event-source",),
    applies_to=("AWS::Lambda::EventSourceMapping",),
    check=check,
    rationale=(
        "Batch size and batching window trade latency against cost and decide how much work one failure "
        "or timeout puts at risk. Left unset, a mapping silently takes the defaults (10 messages, no "
        "window), which fit neither a latency-sensitive nor a high-throughput consumer by design."
    ),
    remediation=(
        "Set both on the event source: `SqsEventSource(queue, batch_size=10, "
        "max_batching_window=Duration.seconds(5), report_batch_item_failures=True)` (CloudFormation: "
        "`BatchSize`, `MaximumBatchingWindowInSeconds`; FIFO queues take only `BatchSize`)."
    ),
    seeds=("003 #9 Missing SQS Batch Processing Configuration",),
)
