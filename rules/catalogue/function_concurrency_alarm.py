"""Every Lambda function with reserved concurrency has a concurrency alarm below the reservation."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.alarms import UPPER, alarms_over_ceiling, coverage
from rules.support.values import fmt, listing, number


def check(function: Resource, ctx: RuleContext) -> Verdict:
    value = function.properties.get("ReservedConcurrentExecutions")
    if value is None:
        return NOT_APPLICABLE
    reserved = number(ctx, function.stack, value)
    if reserved == 0:
        return NOT_APPLICABLE  # reserved concurrency 0 switches the function off
    found = coverage(ctx, function, "ConcurrentExecutions", ("AWS/Lambda",), UPPER)
    late = alarms_over_ceiling(ctx, found, reserved)
    if late is None:
        return None
    if late:
        return (f"concurrency alarm {listing(late)} is not below the reserved concurrency of {fmt(reserved)}, so "
                "it cannot warn before the function is throttled; set it to about 80 % of the reservation")
    where = f" (reserved concurrency {fmt(reserved)})" if reserved is not None else ""
    return f"function{where} has no alarm on its {found.gap(UPPER)}"


RULE = Rule(
    id="SG-ALM-003",
    title="Functions with reserved concurrency have a concurrency alarm",
    severity="medium",
    concerns=("alarms",),
    applies_to=("AWS::Lambda::Function",),
    check=check,
    rationale=(
        "Reserved concurrency is a hard cap: when ConcurrentExecutions reaches it, further invocations are "
        "throttled (synchronous callers get 429s, queues back up). An alarm on ConcurrentExecutions below "
        "the reservation warns before that happens; one at the reservation fires only once throttling has "
        "started, and one above it never fires. Functions without "
        "reserved concurrency are not checked (the throttles alarm of SG-ALM-001 covers the account limit)."
    ),
    remediation=(
        "`cloudwatch.Alarm(self, \"WorkerConcurrency\", metric=fn.metric(\"ConcurrentExecutions\", "
        "statistic=\"Maximum\"), threshold=reserved * 0.8, evaluation_periods=3, "
        "comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD)` plus an SNS action."
    ),
    seeds=("000 #1 Comprehensive CloudWatch Alarms",),
)
