"""Deployed DynamoDB tables keep the template's point-in-time recovery and stream.

For a global table the replica in the endpoint's region is the one deployed, so its
``PointInTimeRecoverySpecification`` is the one compared.
"""

from __future__ import annotations

from functools import partial

from checks.assembly import Resource
from checks.live.probes import Budget, Live, Probe, Verdict, failed, passed

TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")


def plan(live: Live) -> list[Probe]:
    probes = []
    for table in live.assembly.resources(*TABLE_TYPES):
        enabled = pitr_setting(live, table)
        if isinstance(enabled, bool):
            probes.append(Probe("pitr", table.stack.name, table.logical_id, table.type,
                                partial(probe_pitr, table, enabled)))
        view = live.literal(table, "StreamSpecification", "StreamViewType")
        if isinstance(view, str):
            probes.append(Probe("stream", table.stack.name, table.logical_id, table.type,
                                partial(probe_stream, table, view)))
    return probes


def pitr_setting(live: Live, table: Resource) -> bool | None:
    """What the template asks for: True/False, or None when it says nothing literal."""
    if table.type == "AWS::DynamoDB::Table":
        spec = table.prop("PointInTimeRecoverySpecification")
    else:
        spec = next((replica.get("PointInTimeRecoverySpecification") for replica in table.prop("Replicas") or []
                     if isinstance(replica, dict) and is_local_region(live, table, replica.get("Region"))), None)
    enabled = spec.get("PointInTimeRecoveryEnabled") if isinstance(spec, dict) else None
    return enabled if isinstance(enabled, bool) else None


def is_local_region(live: Live, table: Resource, region) -> bool:
    return region == {"Ref": "AWS::Region"} or live.assembly.literal(table.stack, region) == \
        live.deployment.endpoint.region


def probe_pitr(table: Resource, enabled: bool, live: Live, budget: Budget) -> Verdict:
    name = live.require_physical_id(table)
    budget.check("reading the table's continuous backups")
    description = live.client("dynamodb").describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    status = (description.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus", "DISABLED")
    wanted = "ENABLED" if enabled else "DISABLED"
    if status != wanted:
        return failed(f"point-in-time recovery is {status} on the deployed table, the template asks for {wanted}")
    return passed(f"point-in-time recovery {status}, as the template says")


def probe_stream(table: Resource, view: str, live: Live, budget: Budget) -> Verdict:
    name = live.require_physical_id(table)
    budget.check("describing the table")
    description = live.client("dynamodb").describe_table(TableName=name)["Table"]
    spec = description.get("StreamSpecification") or {}
    if not spec.get("StreamEnabled"):
        return failed(f"the deployed table has no stream, the template asks for {view}")
    if spec.get("StreamViewType") != view:
        return failed(f"the deployed table streams {spec.get('StreamViewType')}, the template asks for {view}")
    budget.check("describing the table's stream")
    stream = live.client("dynamodbstreams").describe_stream(StreamArn=description["LatestStreamArn"])[
        "StreamDescription"]
    return passed(f"streams {view} ({stream.get('StreamStatus', 'status unknown')}), as the template says")
