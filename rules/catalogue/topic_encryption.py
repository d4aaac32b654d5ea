"""SNS topics are encrypted at rest with a KMS key."""

from typing import Any

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.protection import branches, judge, present


def check(topic: Resource, ctx: RuleContext) -> Verdict:
    def problem(kms_key: Any) -> str | None:
        if present(kms_key):
            return None
        return "topic has no KmsMasterKeyId: SNS stores its messages unencrypted at rest"

    return judge(problem, branches(topic.properties, "KmsMasterKeyId"))


RULE = Rule(
    id="SG-ENC-002",
    title="SNS topics are encrypted with a KMS key",
    severity="medium",
    concerns=("encryption",),
    applies_to=("AWS::SNS::Topic",),
    check=check,
    rationale=(
        "SNS has no default encryption: unless a topic names a KMS key, the messages it holds while "
        "delivering (alerts, transaction events) are stored unencrypted at rest."
    ),
    remediation=(
        "Create a customer-managed key (`kms.Key(self, \"TopicKey\", enable_key_rotation=True)`) and pass "
        "`master_key=key` to `sns.Topic`. Prefer it over the AWS-managed `alias/aws/sns` when CloudWatch "
        "alarms or EventBridge publish to the topic: they can only do so if the key policy lets their "
        "service principal use the key, which you cannot grant on an AWS-managed key "
        "(`key.add_to_resource_policy(iam.PolicyStatement(principals=[iam.ServicePrincipal("
        "\"cloudwatch.amazonaws.com\")], actions=[\"kms:Decrypt\", \"kms:GenerateDataKey*\"], "
        "resources=[\"*\"]))`)."
    ),
)
