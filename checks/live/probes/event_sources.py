"""Deployed event source mappings keep the template's batching and failure handling.

Only the settings the template sets literally are compared; the rest are the service's defaults.
"""

from __future__ import annotations

from functools import partial

from checks.assembly import Resource
from checks.live.probes import Budget, Live, Probe, Verdict, failed, passed

MAPPING = "AWS::Lambda::EventSourceMapping"
BATCHING = ("BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor")
RETRIES = ("MaximumRetryAttempts", "BisectBatchOnFunctionError", "MaximumRecordAgeInSeconds")
REPORT = "ReportBatchItemFailures"


def plan(live: Live) -> list[Probe]:
    probes = []
    for mapping in live.assembly.resources(MAPPING):
        batching = literal_settings(live, mapping, BATCHING)
        if batching:
            probes.append(Probe("esm-batching", mapping.stack.name, mapping.logical_id, mapping.type,
                                partial(probe_settings, mapping, batching, None)))
        handling = literal_settings(live, mapping, RETRIES)
        types = mapping.prop("FunctionResponseTypes")
        if isinstance(types, list) and all(isinstance(t, str) for t in types) and types:
            handling["FunctionResponseTypes"] = sorted(types)
        destination = live.relations.resolve(mapping.stack, mapping.prop("DestinationConfig", "OnFailure",
                                                                          "Destination"))
        if handling or destination:
            probes.append(Probe("esm-failure-handling", mapping.stack.name, mapping.logical_id, mapping.type,
                                partial(probe_settings, mapping, handling, destination[0] if destination else None)))
    return probes


def literal_settings(live: Live, mapping: Resource, keys: tuple[str, ...]) -> dict:
    """The template's literal values of ``keys``, as the API reports them (numbers as int)."""
    found = {}
    for key in keys:
        value = live.literal(mapping, key)
        if isinstance(value, bool):
            found[key] = value
        elif isinstance(value, str) and value.lstrip("-").isdigit():
            found[key] = int(value)
    return found


def probe_settings(mapping: Resource, wanted: dict, destination: Resource | None, live: Live,
                   budget: Budget) -> Verdict:
    uuid = live.require_physical_id(mapping)
    budget.check("reading the event source mapping")
    deployed = live.client("lambda").get_event_source_mapping(UUID=uuid)
    differences = []
    for key, value in wanted.items():
        actual = deployed.get(key)
        if key == "FunctionResponseTypes":
            actual = sorted(actual or [])
        if actual != value:
            differences.append(f"{key} is {actual!r}, the template says {value!r}")
    shown = dict(wanted)
    if destination is not None:
        target = ((deployed.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        name = (live.physical_id(destination) or "").rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        if not target or not name or not target.endswith(name):
            differences.append(f"the on-failure destination is {target!r}, the template names {destination.logical_id}")
        shown["OnFailure"] = destination.logical_id
    if differences:
        return failed("deployed mapping differs: " + "; ".join(differences))
    return passed("as the template says: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
