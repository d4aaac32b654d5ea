"""SNS subscriptions that deliver to SQS or Lambda keep the messages they cannot deliver."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.event_sources import redrive_policy
from rules.support.values import joined

PROTOCOLS = ("sqs", "lambda")


def _protocol(ctx: RuleContext, owner: Resource, value: object) -> str | None:
    literal = ctx.assembly.literal(owner.stack, value)
    return literal.lower() if literal is not None else None


def _endpoint(ctx: RuleContext, owner: Resource, value: object) -> str:
    resources = ctx.relations.resolve(owner.stack, value)
    if resources:
        return resources[0].logical_id
    return ctx.assembly.literal(owner.stack, value) or "an endpoint"


def check(resource: Resource, ctx: RuleContext) -> Verdict:
    if resource.type == "AWS::SNS::Topic":
        inline = [s for s in resource.properties.get("Subscription") or []
                  if isinstance(s, dict) and _protocol(ctx, resource, s.get("Protocol")) in PROTOCOLS]
        if not inline:
            return NOT_APPLICABLE
        endpoints = joined([_endpoint(ctx, resource, s.get("Endpoint")) for s in inline])
        return (f"topic subscribes {endpoints} inline (the topic's Subscription property), which cannot "
                "have a redrive policy: messages SNS fails to deliver are dropped")
    protocol = _protocol(ctx, resource, resource.properties.get("Protocol"))
    if protocol not in PROTOCOLS:
        return NOT_APPLICABLE
    if not (redrive_policy(resource) or {}).get("deadLetterTargetArn"):
        endpoint = _endpoint(ctx, resource, resource.properties.get("Endpoint"))
        return (f"{protocol} subscription to {endpoint} has no RedrivePolicy: messages SNS cannot deliver "
                "(a denied queue or key policy, a deleted function) are dropped")
    return None


RULE = Rule(
    id="SG-DLQ-006",
    title="SNS subscriptions to SQS and Lambda have a dead-letter queue",
    severity="high",
    concerns=("dlq",),
    applies_to=("AWS::SNS::Subscription", "AWS::SNS::Topic"),
    check=check,
    rationale=(
        "SNS drops a message it cannot deliver to a queue or a function once its retries are used up, "
        "and immediately on client-side errors such as a queue or KMS key policy that denies SNS. A "
        "subscription's redrive policy sends those messages to a dead-letter queue instead. Inline "
        "subscriptions on a topic (`AWS::SNS::Topic.Subscription`) cannot carry a redrive policy."
    ),
    remediation=(
        "Subscribe with `topic.add_subscription(subscriptions.SqsSubscription(queue, "
        "dead_letter_queue=dlq))` or `subscriptions.LambdaSubscription(fn, dead_letter_queue=dlq)` "
        "(CloudFormation: an `AWS::SNS::Subscription` with `RedrivePolicy.deadLetterTargetArn`), and let "
        "the DLQ's policy allow `sns.amazonaws.com` to send to it."
    ),
)
