"""Deployed log groups keep the template's retention.

LocalStack 4.14's own CloudFormation does not apply ``RetentionInDays``; our plugins make the embedded
LocalStack apply it. So a log group that shows no retention fails on the embedded LocalStack and is
reported as not emulated on an external one; one that shows a different retention fails.
"""

from __future__ import annotations

from functools import partial

from checks.assembly import Resource
from checks.live.environment import LOCALSTACK_VERSION
from checks.live.probes import Budget, Live, Probe, ProbeFailed, Verdict, failed, not_emulated, passed

KIND = "log-retention"


def plan(live: Live) -> list[Probe]:
    probes = []
    for group in live.assembly.resources("AWS::Logs::LogGroup"):
        days = live.literal(group, "RetentionInDays")
        if isinstance(days, str) and days.isdigit():
            probes.append(Probe(KIND, group.stack.name, group.logical_id, group.type,
                                partial(probe_retention, group, int(days))))
    return probes


def probe_retention(group: Resource, days: int, live: Live, budget: Budget) -> Verdict:
    name = live.require_physical_id(group)
    logs = live.client("logs")
    found = None
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name):
        budget.check("listing log groups")
        found = next((g for g in page["logGroups"] if g["logGroupName"] == name), found)
    if found is None:
        raise ProbeFailed(f"log group {name} does not exist")
    deployed = found.get("retentionInDays")
    if deployed is None and live.applies_all_settings:
        return failed(f"the deployed log group keeps logs forever, the template says {days} days")
    if deployed is None:
        return not_emulated(f"the deployed log group keeps logs forever (template: {days} days); the external "
                            f"LocalStack's CloudFormation may not apply RetentionInDays (LocalStack "
                            f"{LOCALSTACK_VERSION}'s does not without stackgrade's plugins)")
    if deployed != days:
        return failed(f"retention is {deployed} days on the deployed log group, the template says {days}")
    return passed(f"retention {days} days, as the template says")
