"""Every Lambda function has an errors alarm and a throttles alarm."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.alarms import UPPER, coverage

REQUIRED = ("Errors", "Throttles")


def check(function: Resource, ctx: RuleContext) -> Verdict:
    # Like the other alarm rules: an alarm that only drives auto-scaling or fires the wrong way is no watch.
    gaps = [found.gap(UPPER) for found in (coverage(ctx, function, metric, ("AWS/Lambda",), UPPER)
                                           for metric in REQUIRED) if not found.counted]
    if gaps:
        return f"no alarm warns an operator about the function's {' or '.join(gaps)}"
    return None


RULE = Rule(
    id="SG-ALM-001",
    title="Functions have error and throttle alarms",
    severity="high",
    concerns=("alarms",),
    applies_to=("AWS::Lambda::Function",),
    check=check,
    rationale=(
        "A function that fails or is throttled fails silently unless an alarm watches its Errors and "
        "Throttles metrics; the seeds' first versions all shipped functions nobody was alerted about."
    ),
    remediation=(
        "Add `cloudwatch.Alarm(metric=fn.metric_errors(), ...)` and `fn.metric_throttles()` alarms "
        "(metric math over Errors/Invocations counts), each with an SNS action."
    ),
    seeds=("000 Lambda function alarms", "002 #8 Missing CloudWatch Alarms", "003 #3 Missing CloudWatch Alarms"),
)
