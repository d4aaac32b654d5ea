"""JUnit XML renderer: golden file, strict parsing with consistent counts, failures, errors and skips."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

import pytest

from checks.scorecard import ScorecardError
from reports.junit import render_junit
from tests.reports.test_sarif import GOLDEN, check_golden, golden_scorecard, varied


@pytest.fixture(scope="session")
def scorecard(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return golden_scorecard(tmp_path_factory)


def parse(text: str) -> ET.Element:
    root = ET.fromstring(text.encode("utf-8"))  # bytes: the XML declaration's encoding is honoured, as CI parsers do
    assert root.tag == "testsuites"
    for element in [root, *root.iter("testsuite")]:
        cases = list(element.iter("testcase"))
        assert element.get("tests") == str(len(cases))
        for kind, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            assert element.get(attribute) == str(sum(case.find(kind) is not None for case in cases)), attribute
    return root


def cases(root: ET.Element, suite: str) -> dict[str, ET.Element]:
    found = root.find(f"testsuite[@name='{suite}']")
    return {case.get("classname").partition(".")[2] if suite != "stackgrade" else case.get("name"): case
            for case in found.iter("testcase")}


def test_golden(scorecard: dict) -> None:
    check_golden(GOLDEN / "queues.xml", render_junit(scorecard))


def test_one_case_per_rule_and_stack(scorecard: dict) -> None:
    root = parse(render_junit(scorecard))
    assert [suite.get("name") for suite in root] == ["queues", "stackgrade"]
    queues = cases(root, "queues")
    assert set(queues) == {f["rule_id"] for f in scorecard["findings"]}
    assert root.get("tests") == str(len(queues) + 4 + 1)  # the rules, four engines, the gate
    dlq = queues["SG-DLQ-001"].find("failure")
    assert dlq.get("type") == "high"
    assert dlq.get("message") == "high: SG-DLQ-001 fails on 2 resources: Shop/Orders/Resource, queues/Payments"
    lines = dlq.text.splitlines()
    assert lines[0].startswith("high: Shop/Orders/Resource [AWS::SQS::Queue]: queue has no redrive policy")
    assert lines[1].startswith("high: queues/Payments [AWS::SQS::Queue]: ")
    assert lines[2].startswith("Fix: Create a second queue as the DLQ")
    assert "(also checkov:CKV_AWS_27)" in queues["SG-ENC-001"].find("failure").text


def test_engines_and_gate(scorecard: dict) -> None:
    root = parse(render_junit(varied(scorecard)))
    engines = cases(root, "stackgrade")
    assert engines["engine stackgrade"].find("*") is None
    assert engines["engine cdk-nag"].find("skipped").get("message").startswith("cdk-nag was skipped: the input is")
    error = engines["engine checkov"].find("error")
    assert error.get("message") == "checkov failed: checkov timed out after 300 s"
    assert engines["engine checkov"].get("time") == "0.00"
    gate = engines["gate"].find("failure")
    assert gate.get("type") == "gate" and gate.text.splitlines() == scorecard["gate"]["reasons"]
    passed = copy.deepcopy(scorecard)
    passed["gate"].update(passed=True, reasons=[])
    assert cases(parse(render_junit(passed)), "stackgrade")["gate"].find("*") is None
    failed_without_reasons = copy.deepcopy(scorecard)
    failed_without_reasons["gate"]["reasons"] = []
    gate = cases(parse(render_junit(failed_without_reasons)), "stackgrade")["gate"].find("failure")
    assert gate.get("message") == "the gate failed"
    skipped_without_reason = copy.deepcopy(scorecard)
    skipped_without_reason["engines"][1]["error"] = None
    engine = cases(parse(render_junit(skipped_without_reason)), "stackgrade")["engine cdk-nag"]
    assert engine.find("skipped").get("message") == "cdk-nag was skipped: no reason given"


def test_suppressed_findings(scorecard: dict) -> None:
    card = varied(scorecard)
    for finding in card["findings"]:
        if finding["rule_id"] == "SG-DLQ-003":
            finding.update(suppressed=True, suppression_reason="kept 4 days on purpose", suppression_source="metadata")
    queues = cases(parse(render_junit(card)), "queues")
    # All suppressed: skipped, with the reason.
    assert queues["SG-DLQ-003"].find("skipped").get("message") == "suppressed on 1 resource"
    assert queues["SG-DLQ-003"].find("system-out").text == "suppressed: queues/AuditDlq: kept 4 days on purpose"
    # Some suppressed: the others fail, the suppressed ones are listed beside.
    encryption = queues["SG-ENC-001"]
    assert encryption.find("failure").get("message").startswith("medium: SG-ENC-001 fails on 2 resources")
    assert encryption.find("system-out").text.splitlines() == [
        "suppressed: queues/Audit: SSE-SQS is on by default", "suppressed: queues/AuditDlq: no reason given"]
    for finding in card["findings"]:
        if finding["rule_id"] == "SG-ENC-001":
            finding.update(suppressed=True)
    assert cases(parse(render_junit(card)), "queues")["SG-ENC-001"].find("skipped").get("message") == \
        "suppressed on 4 resources"


def test_stack_findings_unknown_stacks_and_empty_stacks(scorecard: dict) -> None:
    card = varied(scorecard)
    card["stacks"].append({"name": "Empty", "resources": 0, "nested_stacks": []})
    orphan = copy.deepcopy(card["findings"][0])
    orphan.update(stack="Elsewhere", construct_path=None)
    card["findings"].append(orphan)
    root = parse(render_junit(card))
    assert [suite.get("name") for suite in root] == ["queues", "Empty", "Elsewhere", "stackgrade"]
    assert root.find("testsuite[@name='Empty']").get("tests") == "0"
    outputs = cases(root, "queues")["SG-OUT-003"].find("failure").text
    assert "medium: queues [stack]: no output of stack 'queues'" in outputs


def test_text_xml_cannot_hold_is_replaced(scorecard: dict) -> None:
    card = copy.deepcopy(scorecard)
    card["findings"][0]["message"] = "bad \x00 byte <script>&"
    card["target"]["name"] = "app\x07"
    root = parse(render_junit(card))
    assert root.get("name") == "stackgrade app\ufffd"
    assert any("bad \ufffd byte <script>&" in failure.text for failure in root.iter("failure"))


def test_without_generated_at_no_timestamp(scorecard: dict) -> None:
    card = copy.deepcopy(scorecard)
    card["generated_at"] = None
    assert all(suite.get("timestamp") is None for suite in parse(render_junit(card)))


def test_refuses_what_is_not_a_scorecard() -> None:
    with pytest.raises(ScorecardError, match="JUnit XML"):
        render_junit([])
