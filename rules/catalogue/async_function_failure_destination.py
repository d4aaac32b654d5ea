"""Functions invoked asynchronously keep the events they fail on."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.event_sources import LATEST, async_invocations, has_on_failure, invoke_configs
from rules.support.values import joined


def check(function: Resource, ctx: RuleContext) -> Verdict:
    invocations = async_invocations(ctx, function)
    if not invocations:
        return NOT_APPLICABLE
    if function.prop("DeadLetterConfig", "TargetArn"):
        return None  # the function's own DLQ catches failed events of every qualifier
    covered = [c.qualifier for c in invoke_configs(ctx, function) if has_on_failure(c.config)]
    uncovered = [i for i in invocations
                 if not covered or not (i.qualifier is None or None in covered or i.qualifier in covered)]
    if not uncovered:
        return None
    invokers = joined([i.invoker for i in uncovered])
    if not covered:
        return (f"invoked asynchronously by {invokers} but has no on-failure destination or dead-letter "
                "queue: an event that still fails after Lambda's retries is dropped")
    qualifiers = joined([f"alias {i.qualifier!r}" if i.qualifier != LATEST else LATEST for i in uncovered])
    return (f"{qualifiers}, invoked asynchronously by {invokers}, has no on-failure destination (only "
            f"{joined([str(q) for q in covered])} has one) and the function has no dead-letter queue")


RULE = Rule(
    id="SG-DLQ-004",
    title="Asynchronously invoked functions have an on-failure destination",
    severity="high",
    concerns=("dlq",),
    applies_to=("AWS::Lambda::Function",),
    check=check,
    rationale=(
        "SNS, EventBridge and S3 invoke Lambda asynchronously: Lambda retries a failing event twice and "
        "then discards it. Without an on-failure destination (EventInvokeConfig "
        "`DestinationConfig.OnFailure`) or a function dead-letter queue (`DeadLetterConfig`) the event "
        "and the evidence of the failure are gone."
    ),
    remediation=(
        "Pass `on_failure=lambda_destinations.SqsDestination(failures_queue)` (and `retry_attempts=2`) to "
        "the function, or `fn.configure_async_invoke(on_failure=...)`; for an alias, configure the alias "
        "the invoker calls. `dead_letter_queue=dlq` on the function also works."
    ),
)
