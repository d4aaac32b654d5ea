"""The scorecard contract: built from real own-rules runs on reference assemblies, written, read back, gated."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from checks.assembly import Assembly
from checks.config import StackgradeConfig, SuppressionSetting
from checks.engines import EngineResult
from checks.finding import CATEGORIES, SEVERITIES
from checks.own_rules import evaluate, subject_id
from checks.scorecard import (
    SCHEMA,
    TOP_LEVEL_KEYS,
    EngineRun,
    ScorecardError,
    build_scorecard,
    gate_exit_code,
    read_scorecard,
    write_scorecard,
)
from tests.checks.merge_helpers import make_finding, own_rules_result, result

CONFIG = StackgradeConfig()


@pytest.fixture(scope="module")
def payments_baseline(reference_stack) -> Assembly:
    return Assembly.load(reference_stack("payments_dr", "baseline").node.root.synth().directory)


def grade(assembly: Assembly, config: StackgradeConfig = CONFIG, extra_runs=(), **options) -> dict:
    runs = [EngineRun("stackgrade", "0.1.0", "ok", 0.123, result=own_rules_result(assembly, config)), *extra_runs]
    target = {"kind": "assembly", "name": "under-test", "path": str(assembly.source), "assembly": str(assembly.source)}
    return build_scorecard(target=target, assembly=assembly, runs=runs, config=config, **options)


def without_timing(scorecard: dict) -> dict:
    data = json.loads(json.dumps(scorecard))
    data.pop("generated_at")
    for engine in data["engines"]:
        engine.pop("seconds")
    return data


def test_scorecard_of_a_baseline_reference_assembly(payments_baseline):
    card = grade(payments_baseline)
    assert tuple(card) == TOP_LEVEL_KEYS
    assert card["schema"] == SCHEMA and card["stackgrade_version"] == "0.1.0"
    assert card["generated_at"].endswith("+00:00")
    assert card["target"]["name"] == "under-test"
    assert card["stacks"] == [{"name": "PaymentsDr-baseline-qa7", "resources": 10, "nested_stacks": []}]
    assert card["engines"] == [{"name": "stackgrade", "version": "0.1.0", "status": "ok", "seconds": 0.12,
                                "cached": False, "error": None, "findings": 19}]
    expected = {(o.rule.id, subject_id(o)) for o in evaluate(payments_baseline).failures}
    assert {(f["rule_id"], f["logical_id"] or "(stack)") for f in card["findings"]} == expected
    assert {k: v for k, v in card["scores"].items() if k != "categories"} == {
        "overall": 2.7, "grade": "F", "resources": 8, "examined": 18, "penalty": 48, "findings": 19}
    assert set(card["scores"]["categories"]) == set(CATEGORIES)
    assert card["scores"]["categories"]["cost"] == {"score": None, "grade": None, "resources": 0, "penalty": 0,
                                                    "findings": 0}
    gate = card["gate"]
    assert gate["passed"] is False and gate["baseline"] is None
    assert gate["reasons"] == [
        "4 unsuppressed high findings: SG-ALM-001 on PaymentsDr-baseline-qa7/PaymentFunctionCCA5A1C6, SG-ALM-004 on "
        "PaymentsDr-baseline-qa7/PaymentQueue638550D9, SG-ALM-006 on PaymentsDr-baseline-qa7/PaymentAPI88E7CB35, "
        "SG-DLQ-001 on PaymentsDr-baseline-qa7/PaymentQueue638550D9",
        "overall score 2.7 is under the minimum 7.0",
    ]
    assert card["summary"] == {
        "findings": 19,
        "by_severity": {"critical": 0, "high": 4, "medium": 13, "low": 2, "info": 0},
        "by_category": {"reliability": 2, "observability": 10, "security": 3, "operations": 4, "cost": 0},
        "by_engine": {"stackgrade": 19, "cdk-nag": 0, "checkov": 0, "cfn-guard": 0},
        "suppressed": 0,
    }
    keys = [(SEVERITIES.index(f["severity"]), f["stack"], f["logical_id"] or "", f["rule_id"])
            for f in card["findings"]]
    assert keys == sorted(keys)
    first = card["findings"][0]
    assert first["suppression_source"] is None and first["fingerprints"] == [first["fingerprint"]]
    assert "new" not in first
    assert card["unmapped_rule_ids"] == {} and card["unused_suppressions"] == []
    assert gate_exit_code(card) == 1


def test_an_ideal_reference_assembly_passes(pattern_assembly):
    card = grade(pattern_assembly)
    assert card["gate"] == {"passed": True, "reasons": [], "min_score": 7.0, "fail_on": ["critical", "high"],
                            "baseline": None}
    assert card["scores"]["overall"] == 10.0 and card["scores"]["grade"] == "A"
    (stack,) = card["stacks"]
    assert stack["name"] == "PatternDetection-ideal-qa7" and len(stack["nested_stacks"]) == 5
    assert stack["resources"] == len(pattern_assembly.resources())
    assert gate_exit_code(card) == 0


def test_the_scorecard_is_deterministic_and_survives_the_file(payments_baseline, tmp_path):
    card = grade(payments_baseline)
    assert without_timing(card) == without_timing(grade(payments_baseline))
    path = tmp_path / "reports" / "payments" / "scorecard.json"
    write_scorecard(card, path)
    assert read_scorecard(path) == card
    assert list(read_scorecard(path)) == list(TOP_LEVEL_KEYS)  # the key order survives
    assert path.read_text().startswith('{\n  "schema": "stackgrade/scorecard@1",')
    assert [p.name for p in path.parent.iterdir()] == ["scorecard.json"]  # no temporary file left


def test_a_baseline_of_itself_lets_a_legacy_app_adopt_the_gate(payments_baseline, tmp_path):
    path = tmp_path / "baseline.json"
    write_scorecard(grade(payments_baseline), path)
    card = grade(payments_baseline, baseline=read_scorecard(path), baseline_path=path)
    gate = card["gate"]
    assert gate["passed"] and gate["reasons"] == []
    assert gate["baseline"]["path"] == str(path) and gate["baseline"]["score"] == 2.7
    assert gate["baseline"]["new"]["count"] == 0 and gate["baseline"]["fixed"]["count"] == 0
    assert gate["baseline"]["unchanged"]["count"] == 19
    assert all(f["new"] is False for f in card["findings"])


def test_a_new_finding_against_the_baseline_fails(payments_baseline, tmp_path):
    baseline = grade(payments_baseline)
    baseline["findings"] = [f for f in baseline["findings"] if f["rule_id"] != "SG-DLQ-001"]
    card = grade(payments_baseline, baseline=baseline)
    # The score is the baseline's (2.7): not lower, so only the new finding fails the gate.
    assert card["gate"]["reasons"] == [
        "1 new unsuppressed high finding: SG-DLQ-001 on PaymentsDr-baseline-qa7/PaymentQueue638550D9"]
    assert [f["rule_id"] for f in card["findings"] if f["new"]] == ["SG-DLQ-001"]
    assert card["gate"]["baseline"]["path"] is None


def test_a_baseline_that_is_not_a_scorecard_is_refused(payments_baseline):
    with pytest.raises(ScorecardError, match=r"baseline old\.json is not a stackgrade/scorecard@1 scorecard "
                                             r"\(has schema 'sarif'\)"):
        grade(payments_baseline, baseline={"schema": "sarif"}, baseline_path="old.json")
    with pytest.raises(ScorecardError, match="^baseline is not a stackgrade scorecard"):
        grade(payments_baseline, baseline=[])


def test_suppressions_sources_and_other_engines_in_the_scorecard(payments_baseline):
    config = StackgradeConfig(suppressions=(
        SuppressionSetting(rule="SG-ALM-006", reason="the API is retired in the next release"),
        SuppressionSetting(rule="CKV_GONE", reason="stale"),
    ))
    top = payments_baseline.stacks[0]
    queue = next(r for r in top.resources.values() if r.type == "AWS::SQS::Queue")
    nag = make_finding("AwsSolutions-SQS3", engine="cdk-nag", stack=top.name, logical_id=queue.logical_id)
    live = make_finding("LIVE-DLQ", engine="live", concerns=(), severity="info", stack=top.name,
                        logical_id=queue.logical_id)
    runs = (EngineRun("live", "1", "ok", 1.0, result=EngineResult(findings=[live], unmapped={"LIVE-DLQ"},
                                                                   version="4.14.0")),
            EngineRun("cdk-nag", "3.0.2", "ok", 2.0, cached=True, result=result(nag)),
            EngineRun("checkov", None, "skipped", 0.0, error="skipped with --skip checkov"))
    record = {"sources": {queue.construct_path.rsplit("/", 1)[0]: {"file": "app/payments.py", "line": 42}}}
    card = grade(payments_baseline, config, runs, synth_record=record)
    engines = [(e["name"], e["status"], e["version"], e["cached"], e["error"], e["findings"]) for e in card["engines"]]
    assert engines == [
        ("stackgrade", "ok", "0.1.0", False, None, 19), ("cdk-nag", "ok", "3.0.2", True, None, 1),
        ("checkov", "skipped", None, False, "skipped with --skip checkov", None),
        ("live", "ok", "4.14.0", False, None, 1),
    ]
    (api,) = [f for f in card["findings"] if f["rule_id"] == "SG-ALM-006"]
    assert api["suppressed"] and api["suppression_source"] == "config"
    assert api["suppression_reason"] == "the API is retired in the next release"
    assert card["summary"]["suppressed"] == 1 and card["summary"]["by_severity"]["high"] == 3
    assert card["summary"]["by_engine"]["live"] == 1 and card["summary"]["by_engine"]["cdk-nag"] == 1
    dlq = [f for f in card["findings"] if f["logical_id"] == queue.logical_id and "cdk-nag" in f["engines"]]
    assert [(f["rule_id"], f["also_reported_as"]) for f in dlq] == [("SG-DLQ-001", ["cdk-nag:AwsSolutions-SQS3"])]
    assert dlq[0]["source"] == {"file": "app/payments.py", "line": 42}
    assert card["unmapped_rule_ids"] == {"live": ["LIVE-DLQ"]}
    assert card["unused_suppressions"] == [{"rule": "CKV_GONE", "resource": "*", "stack": "*", "reason": "stale"}]
    assert card["gate"]["reasons"][0].startswith("3 unsuppressed high findings: ")
    assert "SG-ALM-006" not in card["gate"]["reasons"][0]


def test_an_engine_error_fails_the_gate_with_exit_code_two(payments_baseline):
    card = grade(payments_baseline, extra_runs=(EngineRun("checkov", None, "error", 300.0,
                                                          error="timed out after 300 s"),))
    assert card["gate"]["reasons"][0] == "engine error: checkov timed out after 300 s"
    assert gate_exit_code(card) == 2


def test_engine_runs_are_checked():
    with pytest.raises(ValueError, match="status 'done' is not one of"):
        EngineRun("checkov", None, "done", 1.0)
    with pytest.raises(ValueError, match="status ok needs its result"):
        EngineRun("checkov", None, "ok", 1.0)


# --- reading ---------------------------------------------------------------------------------------


def minimal() -> dict:
    data = {key: None for key in TOP_LEVEL_KEYS}
    data.update(schema=SCHEMA, findings=[], engines=[], scores={"overall": 5.0})
    return data


@pytest.mark.parametrize(("content", "message"), [
    (b"{not json", r"is not valid JSON \(Expecting property name enclosed in double quotes, line 1\)"),
    (b"\xff\xfe", "cannot read"),
    (b"[]", "is not a stackgrade scorecard \\(not a JSON object\\)"),
    (b"{}", "is not a stackgrade/scorecard@1 scorecard \\(has no schema\\)"),
    (b'{"schema": "stackgrade/scorecard@0"}', "has schema 'stackgrade/scorecard@0'"),
    (json.dumps({"schema": SCHEMA, "findings": []}).encode(), "lacks the scorecard keys \\['stackgrade_version'"),
    (json.dumps({**minimal(), "findings": {}}).encode(), "damaged scorecard: findings is not a list of objects"),
    (json.dumps({**minimal(), "scores": {}}).encode(), "damaged scorecard: scores.overall is not a number or null"),
    (json.dumps({**minimal(), "scores": {"overall": {}}}).encode(), "scores.overall is not a number or null"),
    (json.dumps({**minimal(), "scores": []}).encode(), "scores.overall is not a number or null"),
    (json.dumps({**minimal(), "engines": {}}).encode(), "damaged scorecard: engines is not a list"),
])
def test_read_scorecard_refuses_what_is_not_a_scorecard(tmp_path, content, message):
    path = tmp_path / "scorecard.json"
    path.write_bytes(content)
    with pytest.raises(ScorecardError, match=message):
        read_scorecard(path)


def test_read_scorecard_of_a_missing_file_or_a_directory(tmp_path):
    with pytest.raises(ScorecardError, match=r"missing\.json does not exist; write one with `stackgrade grade`"):
        read_scorecard(tmp_path / "missing.json")
    with pytest.raises(ScorecardError, match="cannot read"):
        read_scorecard(tmp_path)
    assert read_scorecard(_written(tmp_path, minimal()))["scores"]["overall"] == 5.0


def _written(directory: Path, data: dict) -> Path:
    path = directory / "ok.json"
    path.write_text(json.dumps(data))
    return path


def test_a_failed_write_leaves_the_old_scorecard_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "scorecard.json"
    write_scorecard(minimal(), path)

    def broken_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_scorecard({**minimal(), "target": "new"}, path)
    assert read_scorecard(path)["target"] is None
    assert [p.name for p in tmp_path.iterdir()] == ["scorecard.json"]


def test_gate_exit_codes():
    passed = {"engines": [{"status": "ok"}, {"status": "skipped"}], "gate": {"passed": True}}
    assert gate_exit_code(passed) == 0
    assert gate_exit_code({**passed, "gate": {"passed": False}}) == 1
    assert gate_exit_code({"engines": [{"status": "error"}], "gate": {"passed": False}}) == 2
