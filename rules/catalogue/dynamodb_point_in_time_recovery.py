"""DynamoDB tables (and every replica of a global table) have point-in-time recovery."""

from typing import Any

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.protection import branches, judge
from rules.support.values import flag

SPEC = "PointInTimeRecoverySpecification"
ENABLED = "PointInTimeRecoveryEnabled"


def _reason(ctx: RuleContext, resource: Resource):
    def reason(value: Any) -> str | None:
        enabled = flag(ctx, resource.stack, value)
        if enabled is True:
            return None
        if enabled is False:
            return "disabled"
        if value is None:
            return "not configured"
        return f"not known to be enabled ({ENABLED} is not a literal true)"
    return reason


def check(table: Resource, ctx: RuleContext) -> Verdict:
    reason = _reason(ctx, table)
    table_level = branches(table.properties, SPEC, ENABLED)
    if table.type == "AWS::DynamoDB::Table":
        problem = judge(reason, table_level)
        return None if problem is None else (
            f"point-in-time recovery is {problem}: a bad write or delete cannot be rolled back "
            "to any second of the last 35 days")
    replicas = [r for r in table.properties.get("Replicas") or [] if isinstance(r, dict)]
    if not replicas:
        problem = judge(reason, table_level)
        return None if problem is None else f"point-in-time recovery is {problem} for the global table"
    gaps = []
    for number, replica in enumerate(replicas, 1):
        own = branches(replica, SPEC, ENABLED) if SPEC in replica else table_level
        problem = judge(reason, own)
        if problem is not None:
            gaps.append(f"the replica in {_region(ctx, table, replica, number)} ({problem})")
    if gaps:
        return ("point-in-time recovery is not enabled for " + " and ".join(gaps)
                + ": a bad write or delete replicated there cannot be rolled back")
    return None


def _region(ctx: RuleContext, table: Resource, replica: dict, number: int) -> str:
    region = replica.get("Region")
    if region == {"Ref": "AWS::Region"}:
        return "the stack's region"
    return ctx.assembly.literal(table.stack, region) or f"replica #{number}"


RULE = Rule(
    id="SG-BAK-001",
    title="DynamoDB tables have point-in-time recovery",
    severity="medium",
    concerns=("backup", "dr"),
    applies_to=("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"),
    check=check,
    rationale=(
        "Point-in-time recovery keeps continuous backups for 35 days, so a table corrupted by a bad "
        "deployment, a buggy consumer or an accidental delete can be restored to the second before. "
        "Without it the only copy is the live one; in a global table every replica needs it, because "
        "the setting is per region and a failover lands on the replica."
    ),
    remediation=(
        "CDK: `dynamodb.Table(..., point_in_time_recovery_specification=dynamodb."
        "PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True))` (older CDK: "
        "`point_in_time_recovery=True`); `dynamodb.TableV2` takes the same property, which every replica "
        "inherits unless its `dynamodb.ReplicaTableProps` overrides it. CloudFormation: "
        "`PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}`."
    ),
    seeds=("002 #1 Missing DynamoDB Global Table Configuration", "003 #11 Missing Point-in-Time Recovery for DynamoDB"),
)
