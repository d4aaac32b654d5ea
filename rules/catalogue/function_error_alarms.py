"""Every Lambda function has an errors alarm and a throttles alarm."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict

REQUIRED = ("Errors", "Throttles")


def check(function: Resource, ctx: RuleContext) -> Verdict:
    watched = ctx.relations.alarm_metric_names(function)
    missing = [metric for metric in REQUIRED if metric not in watched]
    if missing:
        return f"no alarm watches the function's {' or '.join(missing)} metric"
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
