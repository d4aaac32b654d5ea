"""Every Step Functions state machine has X-Ray tracing enabled."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.values import switch


def check(machine: Resource, ctx: RuleContext) -> Verdict:
    enabled = switch(ctx, machine.stack, machine.prop("TracingConfiguration", "Enabled"))
    if enabled:
        return None
    if enabled is None:
        return "state machine sets TracingConfiguration Enabled from an expression stackgrade cannot evaluate"
    return ("state machine has no X-Ray tracing (TracingConfiguration Enabled): its executions and the "
            "tasks they call cannot be followed in one trace")


RULE = Rule(
    id="SG-TRC-003",
    title="State machines have X-Ray tracing enabled",
    severity="medium",
    concerns=("tracing",),
    applies_to=("AWS::StepFunctions::StateMachine",),
    check=check,
    rationale=(
        "A workflow fans out to functions and services; with tracing the X-Ray service map shows each "
        "state's latency and errors in one trace with the calls it made. Without it a slow or failing "
        "execution has to be reconstructed from separate logs (and an Express workflow keeps no execution "
        "history at all)."
    ),
    remediation=(
        "`sfn.StateMachine(..., tracing_enabled=True)`; CloudFormation: "
        "`TracingConfiguration: {Enabled: true}`."
    ),
    seeds=("004 #7 Missing X-Ray Tracing Implementation", "004 #3 Missing Advanced Service Configurations"),
)
