"""SARIF 2.1.0 renderer: golden file, schema validity, locations, fingerprints and suppressions.

The golden scorecard is a real grade of tests/plugin_fixtures/queues.yaml, frozen; ``nox -s goldens``
regenerates it with every golden report.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import jsonschema
import pytest

from checks.cli import main as stackgrade_main
from checks.scorecard import ScorecardError, read_scorecard
from reports.goldens import freeze
from reports.sarif import SARIF_SCHEMA_URI, SRCROOT, render_sarif, sarif_text

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
SCORECARD = GOLDEN / "queues.scorecard.json"
FIXTURE = ROOT / "tests" / "plugin_fixtures" / "queues.yaml"
SCHEMA = ROOT / "reports" / "schemas" / "sarif-schema-2.1.0.json"
UPDATE = os.environ.get("STACKGRADE_UPDATE_GOLDEN") == "1"


def golden_scorecard(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The stored golden scorecard; with STACKGRADE_UPDATE_GOLDEN=1, graded anew first (real engines)."""
    if UPDATE and not getattr(golden_scorecard, "done", False):  # pragma: no cover - regeneration only
        build = tmp_path_factory.mktemp("golden-build")
        code = stackgrade_main(["grade", str(FIXTURE), "--build-dir", str(build), "--cache-dir", str(build / "cache"),
                                "-q"])
        assert code == 0, "grading the golden fixture failed"
        graded = read_scorecard(build / "reports" / "queues" / "scorecard.json")
        SCORECARD.write_text(json.dumps(freeze(graded), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        golden_scorecard.done = True
    return read_scorecard(SCORECARD)


def check_golden(path: Path, text: str) -> None:
    if UPDATE:  # pragma: no cover - regeneration only
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs; regenerate with STACKGRADE_UPDATE_GOLDEN=1"


@pytest.fixture(scope="session")
def scorecard(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return golden_scorecard(tmp_path_factory)


@pytest.fixture(scope="session")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def assert_valid(validator: jsonschema.Draft4Validator, log: dict) -> None:
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def varied(scorecard: dict) -> dict:
    """The golden scorecard with what queues.yaml cannot show: sources, suppressions, an engine error, a baseline."""
    card = copy.deepcopy(scorecard)
    findings = {(f["rule_id"], f["logical_id"]): f for f in card["findings"]}
    findings[("SG-DLQ-001", "Orders")]["source"] = {"file": "shop/queues.py", "line": 12}
    findings[("SG-DLQ-001", "Payments")]["source"] = {"file": "/abs/app dir/stack.py", "line": 40}
    suppressed = findings[("SG-ENC-001", "Audit")]
    suppressed.update(suppressed=True, suppression_reason="SSE-SQS is on by default", suppression_source="config")
    findings[("SG-ENC-001", "AuditDlq")].update(suppressed=True, suppression_reason=None, suppression_source="engine")
    findings[("SG-OUT-003", "Audit")].update(logical_id=None, resource_type=None)
    for finding in card["findings"]:
        finding["new"] = finding["rule_id"] == "SG-DLQ-001"
    card["engines"][2].update(status="error", error="checkov timed out after 300 s", findings=None)
    return card


def results_by_key(log: dict) -> dict:
    return {(r["ruleId"], r["properties"]["logicalId"]): r for r in log["runs"][0]["results"]}


def test_golden(scorecard: dict) -> None:
    check_golden(GOLDEN / "queues.sarif", sarif_text(scorecard))


def test_golden_is_valid_sarif(scorecard: dict, validator: jsonschema.Draft4Validator) -> None:
    log = render_sarif(scorecard)
    assert_valid(validator, log)
    assert log["$schema"] == SARIF_SCHEMA_URI and log["version"] == "2.1.0" and len(log["runs"]) == 1
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "stackgrade"
    assert {(r["ruleId"], r["properties"]["logicalId"]) for r in run["results"]} == {
        (f["rule_id"], f["logical_id"]) for f in scorecard["findings"]}
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == list(dict.fromkeys(
        f["rule_id"] for f in scorecard["findings"]))
    # Every result names its rule by index, and the index points at that rule.
    rules = run["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in run["results"])


def test_variants_are_valid_sarif(scorecard: dict, validator: jsonschema.Draft4Validator) -> None:
    assert_valid(validator, render_sarif(varied(scorecard)))
    bare = copy.deepcopy(scorecard)
    bare["target"].pop("assembly")
    bare["generated_at"] = None
    bare["findings"] = []
    assert_valid(validator, render_sarif(bare))


def test_the_schema_rejects_invalid_sarif(scorecard: dict, validator: jsonschema.Draft4Validator) -> None:
    log = render_sarif(scorecard)
    log["runs"][0]["results"][0]["level"] = "fatal"
    log["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    log["runs"][0]["tool"]["driver"].pop("name")
    assert len(list(validator.iter_errors(log))) == 3


def test_rule_metadata(scorecard: dict) -> None:
    rules = {rule["id"]: rule for rule in render_sarif(scorecard)["runs"][0]["tool"]["driver"]["rules"]}
    encryption = rules["SG-ENC-001"]
    assert encryption["name"] == "SQSQueuesAreExplicitlyEncrypted"
    assert encryption["shortDescription"] == {"text": "SQS queues are explicitly encrypted"}
    assert encryption["help"]["text"].startswith("Set `encryption=sqs.QueueEncryption.SQS_MANAGED`")
    assert encryption["defaultConfiguration"] == {"level": "warning"}
    assert encryption["properties"]["tags"] == ["security", "encryption", "stackgrade", "checkov"]
    assert encryption["properties"]["security-severity"] == "5.5"
    assert rules["SG-DLQ-001"]["defaultConfiguration"] == {"level": "error"}
    assert rules["SG-DLQ-001"]["properties"]["security-severity"] == "8.0"
    assert rules["CKV_AWS_158"]["defaultConfiguration"] == {"level": "note"}


def test_results_fall_back_to_the_stack_template(scorecard: dict) -> None:
    results = results_by_key(render_sarif(scorecard))
    orders = results[("SG-DLQ-001", "Orders")]
    assert orders["level"] == "error"
    assert orders["message"]["text"].startswith("Shop/Orders/Resource: queue has no redrive policy")
    location = orders["locations"][0]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "build/cdk.out/queues/queues.template.json", "uriBaseId": SRCROOT},
        "region": {"startLine": 1}}
    assert location["logicalLocations"] == [
        {"name": "Orders", "fullyQualifiedName": "Shop/Orders/Resource", "kind": "resource"}]
    # Without a construct path the resource is named stack/logical ID.
    payments = results[("SG-DLQ-001", "Payments")]["locations"][0]["logicalLocations"][0]
    assert payments["fullyQualifiedName"] == "queues/Payments"
    assert orders["partialFingerprints"] == {"stackgrade/v1": "68886d3b75574c1606c5"}
    encrypted = results[("SG-ENC-001", "Audit")]
    assert encrypted["properties"]["alsoReportedAs"] == ["checkov:CKV_AWS_27"]
    assert encrypted["properties"]["engines"] == ["stackgrade", "checkov"]
    assert "suppressions" not in encrypted and "new" not in encrypted["properties"]


def test_results_at_the_cdk_source_line(scorecard: dict) -> None:
    results = results_by_key(render_sarif(varied(scorecard)))
    assert results[("SG-DLQ-001", "Orders")]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "shop/queues.py", "uriBaseId": SRCROOT}, "region": {"startLine": 12}}
    # A file outside the app directory keeps its absolute path, as a file URI.
    assert results[("SG-DLQ-001", "Payments")]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "file:///abs/app%20dir/stack.py"}
    assert results[("SG-DLQ-001", "Orders")]["properties"]["new"] is True
    assert results[("SG-RMV-001", "Orders")]["properties"]["new"] is False


def test_suppressions(scorecard: dict) -> None:
    results = results_by_key(render_sarif(varied(scorecard)))
    assert results[("SG-ENC-001", "Audit")]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "SSE-SQS is on by default"}]
    # A suppression without a reason has no justification (the merge made it a finding of its own).
    assert results[("SG-ENC-001", "AuditDlq")]["suppressions"] == [{"kind": "inSource", "status": "accepted"}]


def test_stack_findings_and_engine_errors(scorecard: dict) -> None:
    log = render_sarif(varied(scorecard))
    stack_result = results_by_key(log)[("SG-OUT-003", None)]
    assert stack_result["locations"][0]["logicalLocations"] == [
        {"name": "queues", "fullyQualifiedName": "queues", "kind": "module"}]
    assert stack_result["message"]["text"].startswith("queues: ")
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["endTimeUtc"] == "2000-01-01T00:00:00Z"
    assert [(n["level"], n["descriptor"]["id"]) for n in invocation["toolExecutionNotifications"]] == [
        ("note", "engine/cdk-nag"), ("error", "engine/checkov")]
    assert invocation["toolExecutionNotifications"][1]["message"]["text"] == \
        "checkov failed: checkov timed out after 300 s"
    assert log["runs"][0]["properties"]["engines"]["checkov"]["status"] == "error"


def test_without_an_assembly_the_template_is_named_alone(scorecard: dict) -> None:
    card = copy.deepcopy(scorecard)
    card["target"].pop("assembly")
    card["engines"][1]["error"] = None
    log = render_sarif(card)
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "queues.template.json", "uriBaseId": SRCROOT}
    assert log["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"] == \
        "cdk-nag was skipped: no reason given"


def test_refuses_what_is_not_a_scorecard() -> None:
    with pytest.raises(ScorecardError, match="not a stackgrade/scorecard@1 scorecard"):
        render_sarif({"schema": "other"})
