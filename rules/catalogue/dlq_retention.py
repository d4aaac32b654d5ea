"""A dead-letter queue keeps its messages long enough for someone to look at them."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.event_sources import retention_seconds
from rules.support.values import fmt, joined

DAY = 24 * 3600


def _days(seconds: float) -> str:
    days = round(seconds / DAY, 2)
    return f"{fmt(days)} day{'' if days == 1 else 's'}"


def check(queue: Resource, ctx: RuleContext) -> Verdict:
    if not ctx.relations.is_dead_letter_queue(queue):
        return NOT_APPLICABLE
    minimum_days = ctx.config.thresholds.dlq_min_retention_days
    retention = retention_seconds(ctx, queue)
    if retention is None:
        return "DLQ's MessageRetentionPeriod is not a literal number, so its retention cannot be checked"
    problems = []
    if retention < minimum_days * DAY:
        default = " (the SQS default)" if queue.properties.get("MessageRetentionPeriod") is None else ""
        problems.append(f"keeps messages {_days(retention)}{default}, less than the {minimum_days}-day minimum")
    shorter_than, unknown = [], []
    for source in ctx.relations.redrive_sources(queue):
        source_retention = retention_seconds(ctx, source)
        if source_retention is None:
            unknown.append(source.logical_id)
        elif retention < source_retention:
            shorter_than.append(f"{source.logical_id} ({_days(source_retention)})")
    if shorter_than:
        problems.append(f"keeps messages for less time ({_days(retention)}) than source queue {joined(shorter_than)}, "
                        "so a message that was retried that long expires as it arrives")
    if unknown:
        problems.append(f"cannot be compared with source queue {joined(unknown)}, whose retention is not a "
                        "literal number")
    if problems:
        return f"DLQ {'; '.join(problems)}"
    return None


RULE = Rule(
    id="SG-DLQ-003",
    title="Dead-letter queues retain messages long enough",
    severity="high",
    concerns=("dlq",),
    applies_to=("AWS::SQS::Queue",),
    check=check,
    rationale=(
        "A dead-letter queue holds the evidence of failures until someone investigates and redrives it. "
        "SQS keeps a message 4 days by default, so a failure on a Friday can expire before it is looked "
        "at. A message's age counts from when it entered the source queue, so a DLQ that retains less "
        "than its source deletes long-retried messages the moment they arrive, before any alarm sees them. "
        "Expected: at least `thresholds.dlq_min_retention_days` (14) and no less than every source queue."
    ),
    remediation=(
        "Create the DLQ with `sqs.Queue(self, \"OrdersDlq\", retention_period=Duration.days(14))` "
        "(CloudFormation: `MessageRetentionPeriod: 1209600`) and keep source queues' retention at or "
        "below it."
    ),
    seeds=("002 #4 Missing SQS Dead Letter Queue", "003 #1 Missing Dead Letter Queue (DLQ) Configuration"),
)
