"""Every SQS queue that is not itself a dead-letter queue has a redrive policy."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict


def check(queue: Resource, ctx: RuleContext) -> Verdict:
    if ctx.relations.is_dead_letter_queue(queue):
        return NOT_APPLICABLE
    if ctx.relations.dlq_of(queue) is None:
        return "queue has no redrive policy: a message that keeps failing is retried until it expires, then lost"
    return None


RULE = Rule(
    id="SG-DLQ-001",
    title="SQS queues have a dead-letter queue",
    severity="high",
    concerns=("dlq",),
    applies_to=("AWS::SQS::Queue",),
    check=check,
    rationale=(
        "Without a redrive policy a poison message is received again and again until its retention "
        "period ends and it disappears, taking the evidence of the failure with it."
    ),
    remediation=(
        "Create a second queue as the DLQ and set `dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, "
        "max_receive_count=3)` on the source queue (CloudFormation: `RedrivePolicy.deadLetterTargetArn`)."
    ),
    seeds=("002 #4 Missing SQS Dead Letter Queue", "003 #1 Missing DLQ configuration"),
)
