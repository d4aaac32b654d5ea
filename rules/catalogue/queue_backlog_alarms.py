"""Every source queue (not a DLQ) has age-of-oldest-message and depth alarms that notify someone.

Auto-scaling alarms do not count: an alarm whose actions are all scaling
policies adds workers when the queue grows, but when scaling is capped or the
consumer is broken nobody is told. SG-ACT-002 leaves such alarms alone on
purpose (they act, they do not notify), so this rule is where that gap shows.
"""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.alarms import UPPER, coverage
from rules.support.values import either

SQS = ("AWS/SQS",)
REQUIRED = ("ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible")


def check(queue: Resource, ctx: RuleContext) -> Verdict:
    if ctx.relations.is_dead_letter_queue(queue):
        return NOT_APPLICABLE  # SG-ALM-005 covers dead-letter queues
    gaps = [c.gap(UPPER) for c in (coverage(ctx, queue, metric, SQS, UPPER) for metric in REQUIRED) if not c.counted]
    if gaps:
        return f"no alarm watches the queue's {either(gaps)}"
    return None


RULE = Rule(
    id="SG-ALM-004",
    title="Source queues have message-age and depth alarms",
    severity="high",
    concerns=("alarms",),
    applies_to=("AWS::SQS::Queue",),
    check=check,
    rationale=(
        "When a consumer stops or falls behind, a queue fills up silently and messages expire after their "
        "retention period. ApproximateAgeOfOldestMessage shows that work is stuck, "
        "ApproximateNumberOfMessagesVisible that a backlog builds. Each needs an alarm that fires when it "
        "rises and notifies operators: an alarm whose only actions are auto-scaling policies adds capacity "
        "but tells no one when scaling is capped or the consumer is broken, so it does not count. "
        "Dead-letter queues are covered by SG-ALM-005."
    ),
    remediation=(
        "`cloudwatch.Alarm(self, \"OrdersAge\", metric=queue.metric_approximate_age_of_oldest_message(), "
        "threshold=300, evaluation_periods=3)` and `queue.metric_approximate_number_of_messages_visible()` "
        "with a backlog threshold, each with `alarm.add_alarm_action(cw_actions.SnsAction(topic))`. Keep "
        "scaling alarms, but add these for people."
    ),
    seeds=("000 #1 Comprehensive CloudWatch Alarms", "001 #2 Eight CloudWatch Alarms",
           "003 #3 Missing CloudWatch Alarms"),
)
