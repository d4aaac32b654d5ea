"""Every Lambda function records X-Ray traces (TracingConfig Mode Active)."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict


def check(function: Resource, ctx: RuleContext) -> Verdict:
    value = function.prop("TracingConfig", "Mode")
    mode = ctx.assembly.literal(function.stack, value)
    if mode is not None and mode.lower() == "active":
        return None
    if value is None:
        return ("function has no TracingConfig (Mode defaults to PassThrough): it records no X-Ray segment, "
                "so a slow or failing request cannot be followed through it")
    if mode is None:
        return "function's TracingConfig Mode is an expression stackgrade cannot evaluate; set it to Active"
    return (f"function's TracingConfig Mode is {mode}: it only samples requests an upstream service already "
            "traces, so its own invocations go untraced")


RULE = Rule(
    id="SG-TRC-001",
    title="Functions have active X-Ray tracing",
    severity="medium",
    concerns=("tracing",),
    applies_to=("AWS::Lambda::Function",),
    check=check,
    rationale=(
        "In an event-driven system one request crosses API Gateway, queues, functions and tables; without "
        "active tracing the only way to find where it slowed down or failed is to correlate logs by hand. "
        "`Active` makes Lambda sample and record every invocation (PassThrough, the default, records only "
        "requests an upstream caller already traces)."
    ),
    remediation=(
        "Set `tracing=lambda_.Tracing.ACTIVE` on the Function (CDK also adds the `xray:PutTraceSegments` "
        "permission); CloudFormation: `TracingConfig: {Mode: Active}`."
    ),
    seeds=("000 AWS X-Ray Distributed Tracing", "003 #5 No X-Ray Tracing Enabled",
           "004 #7 Missing X-Ray Tracing Implementation"),
)
