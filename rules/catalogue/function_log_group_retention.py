"""Every Lambda function writes to a log group the app defines, with a retention period."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.tracing_logging import log_retention_of


def check(function: Resource, ctx: RuleContext) -> Verdict:
    group = ctx.relations.log_group_of(function)
    if group is not None:
        if group.properties.get("RetentionInDays") is None:
            return (f"function writes to log group {group.logical_id}, which has no RetentionInDays: "
                    "its logs are kept (and billed) forever")
        return None
    retention = log_retention_of(ctx, function)  # CDK's `log_retention=`: a custom resource sets it
    if retention is not None:
        if retention.properties.get("RetentionInDays") is None:
            return f"function's log retention resource {retention.logical_id} sets no RetentionInDays"
        return None
    configured = function.prop("LoggingConfig", "LogGroup")
    if configured is not None:
        name = ctx.assembly.literal(function.stack, configured)
        shown = f"log group '{name}'" if name else "a log group"
        return f"function writes to {shown}, which this app does not define, so its retention cannot be checked"
    return ("function has no log group of its own: Lambda creates /aws/lambda/<name> on first invocation "
            "and that group never expires (nor is it deleted with the stack)")


RULE = Rule(
    id="SG-LOG-002",
    title="Functions log to an explicit log group with retention",
    severity="medium",
    concerns=("log-retention", "logging"),
    applies_to=("AWS::Lambda::Function",),
    check=check,
    rationale=(
        "A function without an explicit log group writes to `/aws/lambda/<name>`, which Lambda creates on "
        "the first invocation with no retention: logs pile up (and are billed) forever, survive "
        "`cdk destroy`, and no template says who owns them. The function passes when it names a log group "
        "of the app (`LoggingConfig.LogGroup`, or a LogGroup called `/aws/lambda/<name>`) that has "
        "`RetentionInDays`, or when CDK's `log_retention=` custom resource sets the retention."
    ),
    remediation=(
        "Create the group and hand it to the function: `log_group=logs.LogGroup(self, \"FnLogs\", "
        "retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY)` on "
        "`lambda_.Function(...)` (older CDK: `log_retention=logs.RetentionDays.ONE_MONTH`)."
    ),
    seeds=("003 #8 Missing CloudWatch Log Retention", "002 #9 Missing CloudWatch Log Groups"),
)
