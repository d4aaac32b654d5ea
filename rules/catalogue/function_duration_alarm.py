"""Every Lambda function has a duration alarm that fires before the function times out."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.alarms import UPPER, alarms_over_ceiling, coverage
from rules.support.values import fmt, listing, number


def check(function: Resource, ctx: RuleContext) -> Verdict:
    configured = function.properties.get("Timeout")
    if configured is None:
        timeout, default = float(ctx.config.thresholds.function_timeout_default_seconds), True
    else:
        timeout, default = number(ctx, function.stack, configured), False
    found = coverage(ctx, function, "Duration", ("AWS/Lambda",), UPPER)
    late = alarms_over_ceiling(ctx, found, None if timeout is None else timeout * 1000, " ms")
    if late is None:
        return None
    if late:
        note = " (the default)" if default else ""
        return (f"duration alarm {listing(late)} is not below the {fmt(timeout * 1000)} ms timeout{note}, so it "
                "cannot warn before invocations time out; set it to about 80 % of the timeout")
    where = f" (timeout {fmt(timeout)} s{', the default' if default else ''})" if timeout is not None else ""
    return f"function{where} has no alarm on its {found.gap(UPPER)}"


RULE = Rule(
    id="SG-ALM-002",
    title="Functions have a duration alarm below their timeout",
    severity="medium",
    concerns=("alarms",),
    applies_to=("AWS::Lambda::Function",),
    check=check,
    rationale=(
        "A function that slows down towards its timeout is about to fail: once Duration reaches the "
        "timeout the invocation is killed and counts as an error. An alarm on Duration warns while "
        "there is still time to act, but only if its threshold is below the timeout (in milliseconds): "
        "Duration never exceeds the timeout, so an alarm at the timeout fires only once invocations already "
        "time out and one above it never fires. The timeout is "
        "the function's `Timeout`, or `thresholds.function_timeout_default_seconds` (3 s) when unset. "
        "Expression alarms over Duration and anomaly bands are accepted as they are."
    ),
    remediation=(
        "Alarm at about 80 % of the timeout: `cloudwatch.Alarm(self, \"WorkerDuration\", "
        "metric=fn.metric_duration(statistic=\"p99\"), threshold=fn.timeout.to_milliseconds() * 0.8, "
        "evaluation_periods=3, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD)` "
        "with `alarm.add_alarm_action(cw_actions.SnsAction(topic))`."
    ),
    seeds=("000 #1 Comprehensive CloudWatch Alarms",),
)
