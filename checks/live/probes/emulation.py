"""The resources LocalStack does not emulate: one ``not-emulated`` result each, never a pass.

LocalStack's CloudFormation reports them created without creating anything, so nothing about them
can be proven live; listing them as probe results keeps them visible beside the probes that ran.
"""

from __future__ import annotations

from functools import partial

from checks.live.not_emulated import why_not_emulated
from checks.live.probes import Budget, Live, Probe, Verdict, not_emulated

KIND = "emulation"


def plan(live: Live) -> list[Probe]:
    probes = []
    for deployed, _stack in live.deployed_stacks():
        for path, resource_type in deployed.not_emulated:
            probes.append(Probe(KIND, deployed.name, path, resource_type, partial(report, resource_type)))
    return probes


def report(resource_type: str, _live: Live, _budget: Budget) -> Verdict:
    return not_emulated(why_not_emulated(resource_type) or f"{resource_type} is not emulated")
