"""Every dead-letter queue has an alarm that fires on its first message."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.alarms import UPPER, coverage, is_band, operator, threshold
from rules.support.values import fmt, listing

METRIC = "ApproximateNumberOfMessagesVisible"


def fires_on_first_message(op: str | None, limit: float | None) -> bool:
    """> t fires at one message when 0 <= t < 1; >= t when 0 < t <= 1 (>= 0 is always in alarm)."""
    if limit is None:
        return True  # a threshold we cannot read: give it the benefit of the doubt
    if op == "GreaterThanThreshold":
        return 0 <= limit < 1
    return op == "GreaterThanOrEqualToThreshold" and 0 < limit <= 1


def check(queue: Resource, ctx: RuleContext) -> Verdict:
    if not ctx.relations.is_dead_letter_queue(queue):
        return NOT_APPLICABLE
    found = coverage(ctx, queue, METRIC, ("AWS/SQS",), UPPER)
    late, always = [], []
    for watch in found.counted:
        alarm = watch.alarm
        limit, op = threshold(ctx, alarm), operator(alarm)
        if not is_band(alarm) and fires_on_first_message(op, limit):
            return None
        if limit is None or is_band(alarm):
            late.append(alarm.logical_id)
        elif limit < 0 or (limit == 0 and op == "GreaterThanOrEqualToThreshold"):
            always.append(f"{alarm.logical_id} ({op} {fmt(limit)})")
        else:
            late.append(f"{alarm.logical_id} ({op} {fmt(limit)})")
    fix = "use threshold 0 with GreaterThanThreshold (or 1 with GreaterThanOrEqualToThreshold)"
    if late:
        return f"DLQ alarm {listing(late)} does not fire on the first message; {fix}"
    if always:
        return f"DLQ alarm {listing(always)} is in ALARM even while the DLQ is empty, so it tells nothing; {fix}"
    return f"no alarm watches the DLQ's {found.gap(UPPER)}, so failed messages pile up unseen"

RULE = Rule(
    id="SG-ALM-005",
    title="Dead-letter queues alarm on their first message",
    severity="high",
    concerns=("alarms", "dlq"),
    applies_to=("AWS::SQS::Queue",),
    check=check,
    rationale=(
        "A message in a dead-letter queue is a failure that retries did not fix; every one needs a person. "
        "Without an alarm it sits there until the DLQ's retention ends and the evidence is gone. The alarm "
        "must fire on the first message: ApproximateNumberOfMessagesVisible > 0 (or >= 1). Messages moved "
        "by a redrive policy do not count in NumberOfMessagesSent, so that metric misses them. Expression "
        "alarms over message counts are judged by the same threshold; anomaly bands do not qualify."
    ),
    remediation=(
        "`cloudwatch.Alarm(self, \"OrdersDlqAlarm\", metric=dlq.metric_approximate_number_of_messages_visible("
        "statistic=\"Maximum\", period=Duration.minutes(1)), threshold=0, evaluation_periods=1, "
        "comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD)` plus "
        "`alarm.add_alarm_action(cw_actions.SnsAction(topic))`."
    ),
    seeds=("000 #1 Comprehensive CloudWatch Alarms", "001 #2 Eight CloudWatch Alarms",
           "002 #8 Missing CloudWatch Alarms", "003 #3 Missing CloudWatch Alarms"),
)
