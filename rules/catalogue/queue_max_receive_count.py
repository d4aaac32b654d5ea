"""A queue's redrive policy moves a poison message to its DLQ after a sensible number of receives."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.event_sources import redrive_policy
from rules.support.values import fmt, number


def check(queue: Resource, ctx: RuleContext) -> Verdict:
    policy = redrive_policy(queue)
    if policy is None:
        return NOT_APPLICABLE  # no redrive policy at all is SG-DLQ-001's finding
    low = ctx.config.thresholds.max_receive_count_min
    high = ctx.config.thresholds.max_receive_count_max
    dlq = ctx.relations.dlq_of(queue)
    target = f"DLQ {dlq.logical_id}" if dlq is not None else "its DLQ"
    if "maxReceiveCount" not in policy:
        return f"redrive policy has no maxReceiveCount, so it never moves a message to {target}"
    count = number(ctx, queue.stack, policy["maxReceiveCount"])
    if count is None:
        return (f"maxReceiveCount is not a literal number, so it cannot be checked against "
                f"{low}..{high}; set it to a number")
    if count < low:
        return f"maxReceiveCount {fmt(count)} is below {low}: messages go to {target} without being retried"
    if count > high:
        return (f"maxReceiveCount {fmt(count)} is above {high}: a poison message is received {fmt(count)} "
                f"times, blocking consumers, before it reaches {target}")
    return None


RULE = Rule(
    id="SG-DLQ-002",
    title="Redrive policies use a bounded maxReceiveCount",
    severity="medium",
    concerns=("dlq", "retries"),
    applies_to=("AWS::SQS::Queue",),
    check=check,
    rationale=(
        "maxReceiveCount decides how often a failing message is retried before it moves to the "
        "dead-letter queue. Too high and a poison message is redelivered for hours, holding up the "
        "batch it arrives in and delaying the DLQ alarm; below the minimum a single transient error "
        "(a throttled consumer, a timeout) dead-letters a message that would have succeeded. The "
        "accepted range is `thresholds.max_receive_count_min`..`max_receive_count_max` (1..10)."
    ),
    remediation=(
        "Set `dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3)` on the source "
        "queue (CloudFormation: `RedrivePolicy.maxReceiveCount`), or adjust the thresholds in "
        "`[tool.stackgrade.thresholds]` if your consumers need a different budget."
    ),
    seeds=("002 #4 Missing SQS Dead Letter Queue", "003 #1 Missing Dead Letter Queue (DLQ) Configuration"),
)
