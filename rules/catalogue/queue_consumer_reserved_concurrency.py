"""Lambda functions that consume an SQS queue reserve their concurrency."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict


def check(function: Resource, ctx: RuleContext) -> Verdict:
    queues = [m.source for m in ctx.relations.mappings_of_function(function)
              if m.source is not None and m.source.type == "AWS::SQS::Queue"]
    if not queues:
        return NOT_APPLICABLE
    names = ", ".join(sorted({q.logical_id for q in queues}))
    reserved = function.properties.get("ReservedConcurrentExecutions")
    if reserved is None:
        return (f"function consumes queue {names} without ReservedConcurrentExecutions: a backlog can take "
                f"the account's whole concurrency, or other functions can starve it")
    if ctx.assembly.literal(function.stack, reserved) == "0":
        return f"function consumes queue {names} with ReservedConcurrentExecutions 0: every invocation is throttled"
    return None


RULE = Rule(
    id="SG-CMP-002",
    title="Queue consumers reserve concurrency",
    severity="low",
    concerns=("compute-config",),
    applies_to=("AWS::Lambda::Function",),
    check=check,
    rationale=(
        "An SQS event source scales pollers up with the backlog. Without reserved concurrency a burst on "
        "one queue can consume the account's concurrency (throttling every other function, APIs included), "
        "and other functions can starve the consumer; reserving it guarantees and caps the capacity that "
        "the queue's visibility timeout, alarms and downstream limits were sized for."
    ),
    remediation=(
        "Set `reserved_concurrent_executions=` on the consumer (e.g. 10-100, within the account limit) and "
        "keep the queue's visibility timeout >= 6x the function timeout and maxReceiveCount >= 5 so throttled "
        "batches are not sent to the DLQ early; `SqsEventSource(queue, max_concurrency=...)` additionally "
        "caps the pollers below the reservation."
    ),
    seeds=("003 #7 No Reserved Concurrency for Order Processor",),
)
