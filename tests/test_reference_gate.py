"""The four-engine gate on the ten reference assemblies: every ideal passes honestly, every baseline fails.

One grade of all ten (stackgrade's rules, cdk-nag, checkov, cfn-guard; no cache, a temporary build
folder), the way ``stackgrade grade references`` does it, then the scorecards are judged:
ideals pass with a score of at least 8 and no unsuppressed critical or high finding, every
suppression they use carries a reason (and none is reason-less, SG-SUP-001), and the wildcards
they accept in IAM policies are really the ones the reasons name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.assembly import Assembly
from checks.cli import resolve_targets
from checks.config import load_config
from checks.orchestrator import GradeOptions, grade
from checks.scorecard import build_scorecard
from reference_stacks.catalog import SYSTEMS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
IDEALS = [f"{system}-ideal" for system in SYSTEMS]
BASELINES = [f"{system}-baseline" for system in SYSTEMS]
MIN_IDEAL_SCORE = 8.0
# Actions that support no resource-level permissions, the only ones an accepted `Resource::*` may hold.
RESOURCELESS_ACTIONS = {
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, tuple[dict, Assembly]]:
    """Each reference's scorecard and assembly, by target name (``payments_dr-ideal``)."""
    build_dir = tmp_path_factory.mktemp("gate-build")
    config = load_config(PROJECT_ROOT)
    options = GradeOptions(build_dir=build_dir, cache_dir=None)
    cards = {}
    for result in grade(resolve_targets(["references"]), options):
        assembly = Assembly.load(result.assembly)
        target = result.target.describe() | {"assembly": str(result.assembly)}
        cards[result.target.name] = (
            build_scorecard(target=target, assembly=assembly, runs=result.runs, config=config,
                            synth_record=result.synth_record),
            assembly,
        )
    return cards


def _engine_errors(card: dict) -> list[str]:
    return [f"{e['name']}: {e['status']} {e['error']}" for e in card["engines"] if e["status"] != "ok"]


def test_all_ten_references_are_graded_by_all_four_engines(graded):
    assert sorted(graded) == sorted(IDEALS + BASELINES)
    errors = {name: _engine_errors(card) for name, (card, _) in graded.items() if _engine_errors(card)}
    assert not errors, f"engines that did not run: {errors}"


def test_every_ideal_passes_the_gate_with_a_score_of_at_least_8(graded):
    failing = {
        name: {"score": card["scores"]["overall"], "reasons": card["gate"]["reasons"]}
        for name in IDEALS
        for card, _ in [graded[name]]
        if not card["gate"]["passed"] or card["gate"]["reasons"] or card["scores"]["overall"] < MIN_IDEAL_SCORE
    }
    assert not failing, f"ideals failing the gate or under {MIN_IDEAL_SCORE}: {failing}"


def test_no_ideal_has_an_unsuppressed_critical_or_high_finding(graded):
    severe = {
        name: [f"{f['rule_id']} on {f['logical_id']}" for f in graded[name][0]["findings"]
               if not f["suppressed"] and f["severity"] in ("critical", "high")]
        for name in IDEALS
    }
    assert not any(severe.values()), f"unsuppressed critical/high findings: { {k: v for k, v in severe.items() if v} }"


def test_every_baseline_fails_the_gate(graded):
    passing = [name for name in BASELINES if graded[name][0]["gate"]["passed"]]
    assert not passing, f"baselines passing the gate: {passing}"


def test_baselines_acknowledge_nothing(graded):
    suppressed = {name: [f["rule_id"] for f in graded[name][0]["findings"] if f["suppressed"]] for name in BASELINES}
    assert not any(suppressed.values()), f"suppressed findings in baselines: { {k: v for k, v in suppressed.items() if v} }"


def test_every_suppression_in_an_ideal_has_a_reason(graded):
    reasonless = {
        name: [f"{f['rule_id']} on {f['logical_id']}" for f in graded[name][0]["findings"]
               if f["suppressed"] and not (f["suppression_reason"] or "").strip()]
        for name in IDEALS
    }
    assert not any(reasonless.values()), f"suppressions without a reason: { {k: v for k, v in reasonless.items() if v} }"


def test_no_ideal_has_a_reasonless_suppression_finding(graded):
    found = {name: [f["logical_id"] for f in graded[name][0]["findings"] if f["rule_id"] == "SG-SUP-001"]
             for name in IDEALS}
    assert not any(found.values()), f"SG-SUP-001 findings: { {k: v for k, v in found.items() if v} }"


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_accepted_resource_wildcards_hold_only_actions_without_resource_arns(graded):
    """An acknowledged ``AwsSolutions-IAM5[Resource::*]`` must not hide a data-plane grant on "*"."""
    wrong = []
    checked = 0
    for name in IDEALS:
        card, assembly = graded[name]
        for finding in card["findings"]:
            if not (finding["rule_id"] == "AwsSolutions-IAM5" and finding["suppressed"]
                    and "Resource::*" in finding["message"]):
                continue
            resource = next(r for r in assembly.resources() if r.construct_path == finding["construct_path"])
            for statement in resource.prop("PolicyDocument", "Statement"):
                if "*" in _as_list(statement["Resource"]):
                    checked += 1
                    extra = set(_as_list(statement["Action"])) - RESOURCELESS_ACTIONS
                    if extra:
                        wrong.append(f"{name} {finding['logical_id']}: {sorted(extra)} on *")
    assert checked, "no accepted Resource::* wildcard was checked"
    assert not wrong, f"accepted Resource::* wildcards that grant more: {wrong}"
