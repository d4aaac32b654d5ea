"""A queue's visibility timeout outlasts its consumers' retries of a batch."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.event_sources import consumers_of
from rules.support.values import fmt, joined, number


def check(queue: Resource, ctx: RuleContext) -> Verdict:
    functions = {id(m.function): m.function for m in consumers_of(ctx, queue) if m.function is not None}
    if not functions:
        return NOT_APPLICABLE
    thresholds = ctx.config.thresholds
    raw = queue.properties.get("VisibilityTimeout")
    visibility = float(thresholds.queue_visibility_default_seconds) if raw is None else number(ctx, queue.stack, raw)
    if visibility is None:
        return "VisibilityTimeout is not a literal number, so it cannot be compared with its consumers' timeouts"
    factor = thresholds.visibility_timeout_factor
    short, unknown, needed = [], [], 0.0
    for function in functions.values():
        raw_timeout = function.properties.get("Timeout")
        timeout = (float(thresholds.function_timeout_default_seconds) if raw_timeout is None
                   else number(ctx, function.stack, raw_timeout))
        if timeout is None:
            unknown.append(function.logical_id)
        elif visibility < factor * timeout:
            short.append(f"{function.logical_id} ({fmt(timeout)} s)")
            needed = max(needed, factor * timeout)
    problems = []
    if short:
        default = " (the default)" if raw is None else ""
        problems.append(
            f"visibility timeout {fmt(visibility)} s{default} is less than {fmt(factor)} x the timeout of "
            f"consumer {joined(short)}; set it to at least {fmt(needed)} s or a message still being "
            "processed becomes visible again and is handled twice")
    if unknown:
        problems.append(f"the timeout of consumer {joined(unknown)} is not a literal number, so the visibility "
                        "timeout cannot be checked against it")
    return "; ".join(problems) or None


RULE = Rule(
    id="SG-ESM-003",
    title="Queue visibility timeout covers its consumers' timeout",
    severity="medium",
    concerns=("event-source", "retries"),
    applies_to=("AWS::SQS::Queue",),
    check=check,
    rationale=(
        "A message a function is processing stays invisible only for the queue's visibility timeout. If "
        "that is shorter than the function may run (and retry when throttled), the message reappears and "
        "is processed again, and each reappearance counts towards maxReceiveCount until a healthy message "
        "is dead-lettered. AWS recommends at least 6 x the function timeout "
        "(`thresholds.visibility_timeout_factor`); unset, a queue has 30 s and a function 3 s."
    ),
    remediation=(
        "Derive the queue's timeout from the consumer's: `sqs.Queue(..., "
        "visibility_timeout=Duration.seconds(6 * CONSUMER_TIMEOUT_SECONDS))` with "
        "`lambda_.Function(..., timeout=Duration.seconds(CONSUMER_TIMEOUT_SECONDS))`."
    ),
    seeds=("002 #4 Missing SQS Dead Letter Queue",),
)
