"""EventBridge rule targets keep the events they cannot deliver."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.values import joined


def _target_name(ctx: RuleContext, rule: Resource, target: dict) -> str:
    name = str(target.get("Id") or "target")
    resources = ctx.relations.resolve(rule.stack, target.get("Arn"))
    return f"{name} ({resources[0].logical_id})" if resources else name


def check(rule: Resource, ctx: RuleContext) -> Verdict:
    targets = [t for t in rule.properties.get("Targets") or [] if isinstance(t, dict)]
    if not targets:
        return NOT_APPLICABLE
    missing = [_target_name(ctx, rule, t) for t in targets if not (t.get("DeadLetterConfig") or {}).get("Arn")]
    if missing:
        noun = "target" if len(missing) == 1 else "targets"
        return (f"{noun} {joined(missing)} {'has' if len(missing) == 1 else 'have'} no DeadLetterConfig: "
                "an event EventBridge cannot deliver is dropped after its retries")
    return None


RULE = Rule(
    id="SG-DLQ-005",
    title="EventBridge rule targets have a dead-letter queue",
    severity="high",
    concerns=("dlq",),
    applies_to=("AWS::Events::Rule",),
    check=check,
    rationale=(
        "When EventBridge cannot deliver an event to a target (the target is throttled, deleted or "
        "denies the rule's permission) it retries for up to 24 hours and then drops the event silently. "
        "A dead-letter queue on the target keeps the event and the error that stopped it."
    ),
    remediation=(
        "Give every target a DLQ: `targets.LambdaFunction(fn, dead_letter_queue=dlq, retry_attempts=3, "
        "max_event_age=Duration.hours(2))` (CloudFormation: `Targets[].DeadLetterConfig.Arn`), and let "
        "the DLQ's policy allow `events.amazonaws.com` to send to it."
    ),
)
