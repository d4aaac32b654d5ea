"""Every Step Functions state machine logs its executions to CloudWatch Logs."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict

LEVELS = ("ALL", "ERROR", "FATAL")


def check(machine: Resource, ctx: RuleContext) -> Verdict:
    config = machine.properties.get("LoggingConfiguration")
    kind = ctx.assembly.literal(machine.stack, machine.properties.get("StateMachineType")) or "STANDARD"
    consequence = ("an EXPRESS workflow keeps no execution history, so its failures leave no trace at all"
                   if kind.upper() == "EXPRESS" else "failed executions leave only the 90-day execution history")
    if not isinstance(config, dict):
        return f"state machine has no LoggingConfiguration: {consequence}"
    level = ctx.assembly.literal(machine.stack, config.get("Level"))
    destinations = [
        d for d in config.get("Destinations") or []
        if isinstance(d, dict) and ((d.get("CloudWatchLogsLogGroup") or {}).get("LogGroupArn") not in (None, ""))
    ]
    problems = []
    if level is None and config.get("Level") is not None:
        problems.append("its logging Level is an expression stackgrade cannot evaluate")
    elif (level or "OFF").upper() not in LEVELS:
        problems.append(f"its logging Level is {level or 'unset (OFF)'}")
    if not destinations:
        problems.append("it names no CloudWatch Logs log group destination")
    if problems:
        return f"state machine does not log: {' and '.join(problems)}; {consequence}"
    return None


RULE = Rule(
    id="SG-LOG-005",
    title="State machines log executions to a log group",
    severity="medium",
    concerns=("logging",),
    applies_to=("AWS::StepFunctions::StateMachine",),
    check=check,
    rationale=(
        "Execution logs record each state's input, output and error. Express workflows keep no execution "
        "history, so without logging a failed execution is simply gone; Standard workflows keep history for "
        "90 days but cannot be searched or alarmed on across executions. Logging needs a level other than "
        "OFF (ALL, ERROR or FATAL; OFF is the default) and a log group destination."
    ),
    remediation=(
        "`sfn.StateMachine(..., logs=sfn.LogOptions(destination=logs.LogGroup(..., "
        "retention=logs.RetentionDays.ONE_MONTH), level=sfn.LogLevel.ALL, include_execution_data=True))`."
    ),
    seeds=("004 #3 Missing Advanced Service Configurations",),
)
