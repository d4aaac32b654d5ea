"""Every CloudWatch log group expires its events."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict


def check(group: Resource, ctx: RuleContext) -> Verdict:
    if group.properties.get("RetentionInDays") is None:
        return "log group has no RetentionInDays: its events are kept (and billed) forever"
    return None


RULE = Rule(
    id="SG-LOG-001",
    title="Log groups have a retention period",
    severity="medium",
    concerns=("log-retention",),
    applies_to=("AWS::Logs::LogGroup",),
    check=check,
    rationale="A log group without retention never expires: storage cost grows without bound.",
    remediation="Set `retention=logs.RetentionDays.ONE_MONTH` (or what your policy says) on the LogGroup.",
    seeds=("002 #9 Missing CloudWatch Log Groups", "003 #8 Missing CloudWatch Log Retention"),
)
