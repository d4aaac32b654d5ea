"""Every Lambda function sets its timeout and memory size explicitly."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict


def check(function: Resource, ctx: RuleContext) -> Verdict:
    missing = []
    if function.properties.get("Timeout") is None:
        missing.append(f"Timeout (default {ctx.config.thresholds.function_timeout_default_seconds} s)")
    if function.properties.get("MemorySize") is None:
        missing.append("MemorySize (default 128 MB)")
    if missing:
        return f"function leaves {' and '.join(missing)} to the default"
    return None


RULE = Rule(
    id="SG-CMP-001",
    title="Functions set timeout and memory explicitly",
    severity="low",
    concerns=("compute-config",),
    applies_to=("AWS::Lambda::Function",),
    check=check,
    rationale=(
        "Lambda's defaults (3 seconds, 128 MB) suit almost no production handler: a function that calls "
        "DynamoDB or another service times out under load, and 128 MB also means a fraction of a vCPU. "
        "An explicit timeout is also what queue visibility timeouts and duration alarms are sized from."
    ),
    remediation=(
        "Set both on every function: `lambda_.Function(..., timeout=Duration.seconds(30), memory_size=512)`, "
        "sized from measured duration and memory (e.g. with Lambda Power Tuning)."
    ),
    seeds=("002 #13 Missing Lambda Configuration Details",),
)
