"""No role, user or group has the AdministratorAccess or PowerUserAccess managed policy attached."""

import re

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.iam import PRINCIPAL_TYPES, owner_noun, render, trusted_principals
from rules.support.values import listing

# arn:aws:..., arn:${AWS::Partition}:... (CDK's Fn::Join / Fn::Sub forms); job-function/* and
# AdministratorAccess-Amplify style scoped policies do not match.
_BROAD = re.compile(r":iam::aws:policy/(AdministratorAccess|PowerUserAccess)$")


def check(principal: Resource, ctx: RuleContext) -> Verdict:
    arns = principal.properties.get("ManagedPolicyArns") or []
    attached = []
    for value in arns if isinstance(arns, list) else [arns]:
        match = _BROAD.search(render(ctx, principal.stack, value) or "")
        if match:
            attached.append(match.group(1))
    if not attached:
        return None
    noun = owner_noun(principal)
    who = ""
    if principal.type == "AWS::IAM::Role":
        principals = trusted_principals(principal, ctx)
        who = f" to whoever assumes it ({', '.join(principals)})" if principals else ""
    grants = ("every action on every resource in the account" if "AdministratorAccess" in attached
              else "every action outside IAM and Organizations on every resource in the account")
    return f"{noun} has the AWS managed policy {listing(sorted(set(attached)))} attached, which grants {grants}{who}"


RULE = Rule(
    id="SG-IAM-004",
    title="No AdministratorAccess or PowerUserAccess managed policy",
    severity="critical",
    concerns=("iam",),
    applies_to=PRINCIPAL_TYPES,
    check=check,
    rationale=(
        "`AdministratorAccess` allows everything; `PowerUserAccess` allows everything except IAM and "
        "Organizations management, which still means reading every secret, deleting every table and "
        "stopping every service. A workload role with either turns any bug or compromised dependency into "
        "an account-wide incident. The rule reads `ManagedPolicyArns` of roles, users and groups in every "
        "form CDK emits (`arn:aws:...`, `Fn::Join` with `${AWS::Partition}`, `Fn::Sub`); scoped AWS "
        "policies such as `service-role/AWSLambdaBasicExecutionRole` are fine. Resource-based policies "
        "are out of scope for this rule."
    ),
    remediation=(
        "Drop `iam.ManagedPolicy.from_aws_managed_policy_name(\"AdministratorAccess\")` and grant what the "
        "workload uses: `table.grant_read_write_data(role)`, `queue.grant_consume_messages(role)`, or a "
        "narrow service-role managed policy (`service-role/AWSLambdaBasicExecutionRole`)."
    ),
    seeds=("002 #5 Missing IAM Least Privilege Configuration",),
)
