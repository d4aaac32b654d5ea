"""No identity-policy statement allows every action of a service (``s3:*``)."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.iam import (IDENTITY_POLICY_TYPES, allow_statements, attached_to, holds_policies,
                               is_service_wildcard, owner_noun)
from rules.support.values import listing


def check(resource: Resource, ctx: RuleContext) -> Verdict:
    if not holds_policies(resource):
        return NOT_APPLICABLE
    offending = []
    for statement in allow_statements(resource, ctx):
        if statement.not_action:
            continue  # every action, NotAction included, is SG-IAM-001's finding
        wildcards = [a for a in statement.actions if a is not None and is_service_wildcard(a)]
        if wildcards:
            offending.append(f"{statement.label} ({', '.join(wildcards)})")
    if offending:
        return (f"{owner_noun(resource)}{attached_to(resource, ctx)} allows every action of a service in "
                f"{listing(offending)}, including deletes and permission changes the code never makes")
    return None


RULE = Rule(
    id="SG-IAM-002",
    title="Identity policies do not allow whole services (service:*)",
    severity="high",
    concerns=("iam",),
    applies_to=IDENTITY_POLICY_TYPES,
    check=check,
    rationale=(
        "`s3:*` or `dynamodb:*` grants every action of the service, today's and tomorrow's: a function "
        "that only reads one table can also delete it, change its backups or rewrite its resource policy. "
        "A bug or a compromise then destroys data instead of failing with AccessDenied. Only identity "
        "policies are checked (policies, managed policies and the inline policies of roles, users and "
        "groups; Allow statements only); resource-based policies such as KMS key policies or queue, topic "
        "and bucket policies are out of scope for this rule."
    ),
    remediation=(
        "Replace the wildcard with the actions the code calls, or use the CDK grant that bundles them: "
        "`bucket.grant_read(fn)`, `table.grant_read_write_data(fn)`, `topic.grant_publish(fn)`."
    ),
    seeds=("002 #5 Missing IAM Least Privilege Configuration",),
)
