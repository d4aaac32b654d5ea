"""Every DynamoDB table has a throttle alarm."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.alarms import UPPER, coverage

METRICS = ("ReadThrottleEvents", "WriteThrottleEvents", "ThrottledRequests")


def check(table: Resource, ctx: RuleContext) -> Verdict:
    found = [coverage(ctx, table, metric, ("AWS/DynamoDB",), UPPER) for metric in METRICS]
    if any(c.counted for c in found):
        return None
    noted = [c.gap(UPPER) for c in found if c.scaling_only or c.wrong_direction]
    detail = f" ({'; '.join(noted)})" if noted else ""
    return ("no alarm watches the table's ReadThrottleEvents, WriteThrottleEvents or "
            f"ThrottledRequests{detail}")


RULE = Rule(
    id="SG-ALM-009",
    title="DynamoDB tables have a throttle alarm",
    severity="medium",
    concerns=("alarms",),
    applies_to=("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"),
    check=check,
    rationale=(
        "Throttled reads and writes are retried by the SDK until they are not, then surface as errors far "
        "from their cause (a hot partition, exhausted provisioned capacity, on-demand limits). An alarm on "
        "ReadThrottleEvents, WriteThrottleEvents or ThrottledRequests, or on metric math over them (summed "
        "per operation, for instance), names the cause while the callers' error alarms fire."
    ),
    remediation=(
        "`cloudwatch.Alarm(self, \"OrdersThrottles\", metric=cloudwatch.MathExpression("
        "expression=\"r + w\", using_metrics={\"r\": table.metric(\"ReadThrottleEvents\"), "
        "\"w\": table.metric(\"WriteThrottleEvents\")}), threshold=0, evaluation_periods=1, "
        "comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD)` plus an SNS action "
        "(or `table.metric_throttled_requests_for_operations(...)`)."
    ),
    seeds=("002 #8 Missing CloudWatch Alarms",),
)
