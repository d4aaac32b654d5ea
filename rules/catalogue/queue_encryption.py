"""SQS queues say how they are encrypted at rest: SQS-managed SSE or a KMS key."""

from typing import Any

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.protection import branches, judge, present
from rules.support.values import flag


def check(queue: Resource, ctx: RuleContext) -> Verdict:
    def problem(kms_key: Any, sqs_managed: Any) -> str | None:
        if present(kms_key):
            return None
        managed = flag(ctx, queue.stack, sqs_managed)
        if managed is True:
            return None
        if managed is False:
            return ("queue sets SqsManagedSseEnabled to false and names no KmsMasterKeyId: "
                    "its messages are stored unencrypted")
        if sqs_managed is not None:
            return "queue's SqsManagedSseEnabled is not a literal true and it names no KmsMasterKeyId"
        return ("queue sets neither SqsManagedSseEnabled nor KmsMasterKeyId: its encryption at rest is "
                "left to SQS's implicit default, which the template does not guarantee")

    return judge(problem, branches(queue.properties, "KmsMasterKeyId"),
                 branches(queue.properties, "SqsManagedSseEnabled"))


RULE = Rule(
    id="SG-ENC-001",
    title="SQS queues are explicitly encrypted",
    severity="medium",
    concerns=("encryption",),
    applies_to=("AWS::SQS::Queue",),
    check=check,
    rationale=(
        "Queue messages often carry orders, payments or personal data. A queue that declares no "
        "encryption depends on an account- and date-dependent default (SSE-SQS applies only to queues "
        "created after SQS changed its default, and can be switched off), so the template neither "
        "documents nor enforces encryption at rest; `SqsManagedSseEnabled: false` switches it off."
    ),
    remediation=(
        "Set `encryption=sqs.QueueEncryption.SQS_MANAGED` on every `sqs.Queue` (dead-letter queues too), "
        "or `encryption=sqs.QueueEncryption.KMS` with `encryption_master_key=key` when you need key "
        "policies or audit of key use. CloudFormation: `SqsManagedSseEnabled: true` or `KmsMasterKeyId`."
    ),
    seeds=("002 #4 Missing SQS Dead Letter Queue",),
)
