"""No identity policy allows ``iam:PassRole`` (directly, through ``iam:*`` or ``*``) on every role."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.iam import IDENTITY_POLICY_TYPES, allow_statements, attached_to, holds_policies, matches, owner_noun
from rules.support.values import listing

PASS_ROLE = "iam:PassRole"


def _every_role(resources: tuple[str | None, ...], not_resource: bool) -> bool:
    if not not_resource:
        return "*" in resources
    # NotResource reaches every role unless it excludes roles (a "*" or an IAM ARN).
    return not any(r is not None and (r == "*" or ":iam:" in r) for r in resources)


def check(resource: Resource, ctx: RuleContext) -> Verdict:
    if not holds_policies(resource):
        return NOT_APPLICABLE
    offending = []
    for statement in allow_statements(resource, ctx):
        if not statement.grants(PASS_ROLE) or not _every_role(statement.resources, statement.not_resource):
            continue
        if statement.not_action:
            how = "NotAction that does not exclude it"
        else:
            how = ", ".join(a for a in statement.actions if a is not None and matches(a, PASS_ROLE)
                            and a.lower() != PASS_ROLE.lower())
        offending.append(f"{statement.label} (via {how})" if how else statement.label)
    if offending:
        return (f"{owner_noun(resource)}{attached_to(resource, ctx)} allows iam:PassRole on every role in "
                f"{listing(offending)}, so it can hand any role, an admin one included, to a service it controls")
    return None


RULE = Rule(
    id="SG-IAM-005",
    title="Identity policies do not allow iam:PassRole on every role",
    severity="critical",
    concerns=("iam",),
    applies_to=IDENTITY_POLICY_TYPES,
    check=check,
    rationale=(
        "`iam:PassRole` on `*` lets the holder attach any role in the account to a Lambda function, an ECS "
        "task or an EC2 instance it creates, and then act with that role's permissions: the classic IAM "
        "privilege escalation. `iam:*`, `iam:Pass*` and `*` include it, and so does an Allow with "
        "`NotAction` that does not exclude it; a `Condition` such as `iam:PassedToService` does not make it "
        "safe, since any role can still be passed to that service. Only identity policies (Allow "
        "statements) are checked; resource-based policies (KMS key, queue, topic and bucket policies) are "
        "out of scope for this rule."
    ),
    remediation=(
        "Scope PassRole to the roles the code passes: `iam.PolicyStatement(actions=[\"iam:PassRole\"], "
        "resources=[task_role.role_arn])`, or use `role.grant_pass_role(principal)`."
    ),
    seeds=("002 #5 Missing IAM Least Privilege Configuration",),
)
