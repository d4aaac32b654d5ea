"""Identity-policy Allow statements name resources, except for actions AWS only grants on ``*``."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.iam import (IDENTITY_POLICY_TYPES, action_text, allow_listed, allow_statements, attached_to,
                               holds_policies, owner_noun)
from rules.support.values import listing


def check(resource: Resource, ctx: RuleContext) -> Verdict:
    allowed = ctx.config.iam_wildcard_resource_actions
    if not holds_policies(resource):
        return NOT_APPLICABLE
    offending = []
    for statement in allow_statements(resource, ctx):
        if statement.not_resource:
            offending.append(f"{statement.label} (Allow with NotResource applies to every resource it does not list)")
        elif "*" not in statement.resources:
            continue
        elif statement.not_action:
            offending.append(f"{statement.label} (every action except {action_text(statement.actions)}, on \"*\")")
        else:
            broad = [a for a in statement.actions if not allow_listed(a, allowed)]
            if broad:
                offending.append(f"{statement.label} ({action_text(broad)})")
    if offending:
        return (f"{owner_noun(resource)}{attached_to(resource, ctx)} allows actions on every resource "
                f"(Resource \"*\") that are not in iam_wildcard_resource_actions: {listing(offending)}")
    return None


RULE = Rule(
    id="SG-IAM-003",
    title='Identity policies scope resources instead of "*"',
    severity="high",
    concerns=("iam",),
    applies_to=IDENTITY_POLICY_TYPES,
    check=check,
    rationale=(
        "`Resource: \"*\"` extends an action to every table, queue or bucket in the account, including other "
        "applications' and other environments' (a dev function writing to the prod table). An Allow with "
        "`NotResource` is as broad. A few actions exist only on `*` (X-Ray segments, "
        "`cloudwatch:PutMetricData`, `ecr:GetAuthorizationToken`, log delivery, ENI management for VPC "
        "functions); those are accepted when listed in the `iam_wildcard_resource_actions` setting. "
        "Matching is case-insensitive and exact: a wildcard action in a policy (`xray:Put*`) is covered "
        "only by the identical entry, while an entry with a wildcard covers the concrete actions it "
        "matches. Only identity policies (Allow statements) are checked; resource-based policies such as "
        "KMS key policies (whose `Resource: \"*\"` means \"this key\") or queue, topic and bucket policies "
        "are out of scope for this rule."
    ),
    remediation=(
        "Name the resources: `resources=[table.table_arn, f\"{table.table_arn}/index/*\"]`, or use CDK "
        "grants (`table.grant_read_data(fn)`), which scope to the resource. If an action really only "
        "works on `*`, add it to `iam_wildcard_resource_actions` under `[tool.stackgrade]`."
    ),
    seeds=("002 #5 Missing IAM Least Privilege Configuration",),
)
