"""Kinesis data streams are encrypted at rest with KMS."""

from typing import Any

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.protection import branches, judge, present

# The condition CDK wraps its implicit default encryption in (true in the China regions).
CDK_DEFAULT_CONDITION = "AwsCdkKinesisEncryptedStreamsUnsupportedRegions"


def check(stream: Resource, ctx: RuleContext) -> Verdict:
    def problem(encryption: Any) -> str | None:
        if not isinstance(encryption, dict):
            return "stream has no StreamEncryption: its records are stored unencrypted at rest"
        kind = ctx.assembly.literal(stream.stack, encryption.get("EncryptionType"))
        if kind != "KMS":
            return f"stream's StreamEncryption has EncryptionType {kind or 'unset'}, not KMS"
        if not present(encryption.get("KeyId")):
            return "stream's StreamEncryption names no KeyId, so KMS encryption cannot be applied"
        return None

    message = judge(problem, branches(stream.properties, "StreamEncryption"))
    if message is not None and CDK_DEFAULT_CONDITION in message:
        message += " (CDK's implicit default; set `encryption` on the stream explicitly)"
    return message


RULE = Rule(
    id="SG-ENC-003",
    title="Kinesis streams are encrypted with KMS",
    severity="medium",
    concerns=("encryption",),
    applies_to=("AWS::Kinesis::Stream",),
    check=check,
    rationale=(
        "A Kinesis stream keeps every record for its whole retention period; without server-side "
        "encryption those records sit unencrypted at rest. CDK's default encryption is conditional "
        "(dropped in regions without Kinesis encryption), so the template does not guarantee it."
    ),
    remediation=(
        "Set `encryption=kinesis.StreamEncryption.KMS` with `encryption_key=key` (a rotating "
        "`kms.Key`) on `kinesis.Stream`, or at least `encryption=kinesis.StreamEncryption.MANAGED` "
        "(`alias/aws/kinesis`). CloudFormation: `StreamEncryption: {EncryptionType: KMS, KeyId: ...}`."
    ),
    seeds=("004 #3 Missing Advanced Service Configurations",),
)
