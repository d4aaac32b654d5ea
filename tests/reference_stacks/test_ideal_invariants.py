"""Promises every ideal variant keeps, checked over every template of its assembly (nested included).

Each check names the offending resources, and the same check is run on the
baselines whose seeds say they broke that promise, so none of them can pass
vacuously.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checks.relations import NAME_PROPERTY
from reference_stacks.catalog import SYSTEMS


def assembly_templates(stack) -> dict[str, dict]:
    """Every template of the stack's synthesized assembly, nested stacks included, by file name."""
    directory = Path(stack.node.root.synth().directory)
    return {
        path.name: json.loads(path.read_text())
        for path in sorted(directory.glob("*.template.json"))
    }


def resources(templates: dict[str, dict], *types: str):
    """(template, logical id, resource) for every resource of the given types."""
    for name, template in templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            if not types or resource["Type"] in types:
                yield name, logical_id, resource


@pytest.fixture(scope="module")
def templates_of(reference_stack):
    cache: dict[tuple[str, str], dict] = {}

    def get(system: str, variant: str) -> dict[str, dict]:
        if (system, variant) not in cache:
            cache[(system, variant)] = assembly_templates(reference_stack(system, variant))
        return cache[(system, variant)]

    return get


def unsuffixed_names(templates: dict[str, dict], suffix: str) -> list[str]:
    return [
        f"{logical_id} ({resource['Type']})"
        for _, logical_id, resource in resources(templates, *NAME_PROPERTY)
        if NAME_PROPERTY[resource["Type"]] in resource.get("Properties", {})
        and suffix not in json.dumps(resource["Properties"][NAME_PROPERTY[resource["Type"]]])
    ]


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_ideal_names_every_named_resource_with_the_suffix(system, templates_of, test_suffix):
    templates = templates_of(system, "ideal")
    named = [r for r in resources(templates, *NAME_PROPERTY)
             if NAME_PROPERTY[r[2]["Type"]] in r[2].get("Properties", {})]
    assert named, "an ideal stack names its resources"
    assert unsuffixed_names(templates, test_suffix) == []


def test_pattern_detection_baseline_names_resources_without_the_suffix(templates_of, test_suffix):
    """The seed's gap #4: no environment suffix in names."""
    assert unsuffixed_names(templates_of("pattern_detection", "baseline"), test_suffix)


def output_problems(templates: dict[str, dict], suffix: str) -> list[str]:
    """Outputs of top-level templates only: nested-stack outputs are CDK's cross-stack plumbing."""
    problems = []
    for name, template in templates.items():
        if "nested" in name:
            continue
        for output_id, output in template.get("Outputs", {}).items():
            export = output.get("Export", {}).get("Name")
            if not output.get("Description"):
                problems.append(f"{output_id} has no description")
            if export is None:
                problems.append(f"{output_id} has no export name")
            elif suffix not in json.dumps(export):
                problems.append(f"{output_id} exports {export!r} without the suffix")
    return problems


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_ideal_outputs_are_described_and_exported_with_the_suffix(system, templates_of, test_suffix):
    templates = templates_of(system, "ideal")
    assert sum(len(t.get("Outputs", {})) for n, t in templates.items() if "nested" not in n) >= 3
    assert output_problems(templates, test_suffix) == []


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_ideal_alarms_all_have_actions(system, templates_of):
    templates = templates_of(system, "ideal")
    alarms = list(resources(templates, "AWS::CloudWatch::Alarm"))
    assert alarms, "an ideal stack has alarms"
    assert [lid for _, lid, a in alarms if not a["Properties"].get("AlarmActions")] == []


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_ideal_log_groups_expire(system, templates_of):
    templates = templates_of(system, "ideal")
    assert [lid for _, lid, r in resources(templates, "AWS::Logs::LogGroup")
            if "RetentionInDays" not in r.get("Properties", {})] == []


def functions_without(templates: dict[str, dict], requirement) -> list[str]:
    return [lid for _, lid, fn in resources(templates, "AWS::Lambda::Function") if not requirement(fn["Properties"])]


def traced(properties: dict) -> bool:
    return properties.get("TracingConfig", {}).get("Mode") == "Active"


def explicitly_logged(properties: dict) -> bool:
    return "LogGroup" in properties.get("LoggingConfig", {})


@pytest.mark.parametrize("system", [s for s in SYSTEMS if s != "order_processing_fargate"])
def test_ideal_functions_are_traced_sized_and_logged_to_an_expiring_group(system, templates_of):
    templates = templates_of(system, "ideal")
    assert list(resources(templates, "AWS::Lambda::Function"))
    assert functions_without(templates, traced) == []
    assert functions_without(templates, explicitly_logged) == []
    assert functions_without(templates, lambda p: "Timeout" in p and "MemorySize" in p) == []


@pytest.mark.parametrize("system", [s for s in SYSTEMS if s != "order_processing_fargate"])
def test_baselines_the_seeds_fault_for_tracing_lack_it(system, templates_of):
    templates = templates_of(system, "baseline")
    assert list(resources(templates, "AWS::Lambda::Function"))
    assert functions_without(templates, traced) != []
