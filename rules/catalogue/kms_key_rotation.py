"""Customer-managed symmetric KMS keys rotate their key material."""

from typing import Any

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.protection import branches, judge
from rules.support.values import flag

SYMMETRIC = "SYMMETRIC_DEFAULT"


def check(key: Resource, ctx: RuleContext) -> Verdict:
    literal = ctx.assembly.literal
    spec = literal(key.stack, key.properties.get("KeySpec"))
    if spec is not None and spec != SYMMETRIC:
        return NOT_APPLICABLE  # asymmetric and HMAC keys cannot rotate automatically
    if literal(key.stack, key.properties.get("Origin")) == "EXTERNAL":
        return NOT_APPLICABLE  # imported key material cannot rotate automatically

    def problem(rotation: Any) -> str | None:
        enabled = flag(ctx, key.stack, rotation)
        if enabled is True:
            return None
        if enabled is False:
            return "key sets EnableKeyRotation to false: its key material is never rotated"
        if rotation is None:
            return "key does not set EnableKeyRotation: its key material is never rotated"
        return "key's EnableKeyRotation is not a literal true"

    return judge(problem, branches(key.properties, "EnableKeyRotation"))


RULE = Rule(
    id="SG-ENC-004",
    title="KMS keys rotate automatically",
    severity="medium",
    concerns=("encryption",),
    applies_to=("AWS::KMS::Key",),
    check=check,
    rationale=(
        "Automatic rotation replaces a customer-managed key's material every year (or the period you "
        "set) while old ciphertexts stay readable, limiting how much data one compromised key version "
        "protects; it is off by default and compliance baselines (CIS, PCI DSS) require it. Asymmetric, "
        "HMAC and imported keys cannot rotate automatically and are not checked."
    ),
    remediation=(
        "Pass `enable_key_rotation=True` to `kms.Key` (optionally `rotation_period=Duration.days(365)`). "
        "CloudFormation: `EnableKeyRotation: true`."
    ),
    seeds=("004 #3 Missing Advanced Service Configurations",),
)
