"""No identity-policy statement allows every action (``"*"``, or an Allow with NotAction)."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.iam import (IDENTITY_POLICY_TYPES, allow_statements, attached_to, holds_policies, is_every_action,
                               owner_noun)
from rules.support.values import listing


def check(resource: Resource, ctx: RuleContext) -> Verdict:
    if not holds_policies(resource):
        return NOT_APPLICABLE
    offending = []
    for statement in allow_statements(resource, ctx):
        if statement.not_action:
            excluded = ", ".join(a or "(an expression)" for a in statement.actions) or "nothing"
            offending.append(f"{statement.label} (Allow with NotAction grants every action except {excluded})")
        elif any(a is not None and is_every_action(a) for a in statement.actions):
            offending.append(f'{statement.label} (Action "*")')
    if offending:
        return (f"{owner_noun(resource)}{attached_to(resource, ctx)} allows every AWS action in {listing(offending)}, "
                "so a bug or a stolen credential can do anything to the resources those statements name")
    return None


RULE = Rule(
    id="SG-IAM-001",
    title='Identity policies do not allow every action ("*")',
    severity="critical",
    concerns=("iam",),
    applies_to=IDENTITY_POLICY_TYPES,
    check=check,
    rationale=(
        'An Allow statement with `Action: "*"` makes its role, user or group an administrator (on the '
        "resources it names), and so does an Allow with `NotAction`, which grants every action except the "
        "few it lists, including every action AWS adds later. A compromised function or task with such a "
        "role can read, change or delete anything it reaches. Checked are identity policies: "
        "`AWS::IAM::Policy`, `AWS::IAM::ManagedPolicy`, `AWS::IAM::RolePolicy`/`UserPolicy`/`GroupPolicy` and "
        "the inline `Policies` of roles, users and groups; Deny statements are ignored (they only narrow "
        "access). Resource-based policies (KMS key policies such as CDK's default `kms:*` for the account "
        "root, queue, topic and bucket policies) are out of scope for this rule."
    ),
    remediation=(
        "List the actions the code calls. In CDK prefer the grant methods (`table.grant_read_write_data(fn)`, "
        "`queue.grant_send_messages(fn)`), or `iam.PolicyStatement(actions=[\"dynamodb:GetItem\", ...], "
        "resources=[table.table_arn])`; never `actions=[\"*\"]` or `not_actions=[...]` with `effect=ALLOW`."
    ),
    seeds=("002 #5 Missing IAM Least Privilege Configuration",),
)
