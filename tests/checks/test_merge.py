"""Merging the engines' findings: de-duplication, stackgrade's suppressions, reason-less suppressions, sources."""

from __future__ import annotations

import time

import pytest

from checks.config import StackgradeConfig, SuppressionSetting
from checks.finding import SourceLocation, fingerprint
from checks.merge import ResourceIndex, dedupe, merge, precedence
from tests.checks.merge_helpers import make_finding, nested_assembly, result

SUP = "SG-SUP-001"


@pytest.fixture
def assembly(tmp_path):
    return nested_assembly(tmp_path)


def by_rule(outcome):
    return {item.finding.rule_id: item for item in outcome.findings}


# --- de-duplication ------------------------------------------------------------------------------


def test_one_concern_on_one_queue_from_three_engines_is_one_finding():
    own = make_finding("SG-DLQ-001", severity="medium")
    nag = make_finding("AwsSolutions-SQS3", engine="cdk-nag", severity="low", construct_path="App/Queue/Resource")
    checkov = make_finding("CKV_AWS_999", engine="checkov", concerns=("dlq", "alarms"), severity="critical")
    (item,) = dedupe([(checkov, None), (nag, None), (own, None)])
    finding = item.finding
    assert finding.rule_id == "SG-DLQ-001" and finding.engine == "stackgrade"  # own rules first
    assert finding.engines == ("stackgrade", "cdk-nag", "checkov")
    assert finding.also_reported_as == ("cdk-nag:AwsSolutions-SQS3", "checkov:CKV_AWS_999")
    assert finding.severity == "critical"  # the highest
    assert finding.construct_path == "App/Queue/Resource"  # the primary had none
    assert finding.message == own.message and finding.fingerprint == own.fingerprint
    assert item.fingerprints == (own.fingerprint, nag.fingerprint, checkov.fingerprint)
    assert item.suppressed_by is None and item.own_stack == "App"


def test_two_findings_of_one_engine_are_never_merged():
    items = dedupe([(make_finding("SG-DLQ-001"), None), (make_finding("SG-DLQ-002"), None),
                    (make_finding("AwsSolutions-SQS3", engine="cdk-nag"), None)])
    assert sorted((i.finding.rule_id, i.finding.also_reported_as) for i in items) == [
        ("SG-DLQ-001", ("cdk-nag:AwsSolutions-SQS3",)), ("SG-DLQ-002", ())]


def test_each_finding_joins_the_cluster_that_shares_its_concern():
    items = dedupe([(make_finding("SG-DLQ-001"), None),
                    (make_finding("SG-ENC-001", concerns=("encryption",)), None),
                    (make_finding("CKV_AWS_27", engine="checkov", concerns=("encryption",)), None)])
    assert {i.finding.rule_id: i.finding.also_reported_as for i in items} == {
        "SG-DLQ-001": (), "SG-ENC-001": ("checkov:CKV_AWS_27",)}


def test_a_shared_secondary_concern_is_not_the_same_concern():
    """An API-alarm rule (alarms, api) and a request-validation rule (api) are two findings on one API."""
    items = dedupe([(make_finding("SG-ALM-006", concerns=("alarms", "api")), None),
                    (make_finding("AwsSolutions-APIG2", engine="cdk-nag", concerns=("api",)), None),
                    (make_finding("CKV_AWS_76", engine="checkov", concerns=("api", "logging")), None)])
    assert {i.finding.rule_id: i.finding.also_reported_as for i in items} == {
        "SG-ALM-006": (), "AwsSolutions-APIG2": ("checkov:CKV_AWS_76",)}


def test_unmapped_findings_merge_with_nothing():
    unmapped = make_finding("CKV_AWS_1234", engine="checkov", concerns=())
    items = dedupe([(make_finding("SG-DLQ-001"), None), (unmapped, None),
                    (make_finding("AwsSolutions-X", engine="cdk-nag", concerns=()), None)])
    assert len(items) == 3 and all(i.finding.also_reported_as == () for i in items)


def test_different_resources_and_suppression_states_are_kept_apart():
    suppressed = make_finding("AwsSolutions-SQS3", engine="cdk-nag", suppressed=True, suppression_reason="r")
    items = dedupe([(make_finding("SG-DLQ-001"), None), (suppressed, None),
                    (make_finding("CKV_AWS_1", engine="checkov", logical_id="Other"), None),
                    (make_finding("CKV_AWS_2", engine="checkov", stack="App2"), None)])
    assert len(items) == 4
    (nag,) = [i for i in items if i.finding.engine == "cdk-nag"]
    assert nag.suppressed_by == "engine" and nag.finding.suppression_reason == "r"


def test_suppressed_findings_merge_with_each_other_keeping_a_reason():
    nag = make_finding("AwsSolutions-SQS3", engine="cdk-nag", suppressed=True)
    checkov = make_finding("CKV_AWS_1", engine="checkov", suppressed=True, suppression_reason="accepted")
    (item,) = dedupe([(nag, None), (checkov, None)])
    assert item.finding.suppression_reason == "accepted" and item.finding.engines == ("cdk-nag", "checkov")


def test_precedence_puts_unknown_engines_last():
    assert [precedence(e) for e in ("stackgrade", "cdk-nag", "checkov", "cfn-guard", "live")] == [0, 1, 2, 3, 4]


def test_dedupe_is_linear_in_the_number_of_findings():
    findings = [(make_finding(f"SG-X-{n % 4}", engine=engine, logical_id=f"Queue{n // 4}"), None)
                for n in range(40_000) for engine in ("stackgrade", "checkov")]
    started = time.perf_counter()
    items = dedupe(findings)
    assert len(items) == 40_000  # every own finding absorbed one checkov finding
    assert time.perf_counter() - started < 5


# --- locating findings in the assembly -----------------------------------------------------------


def test_resource_index_tells_nested_stacks_apart(assembly):
    index = ResourceIndex(assembly)
    nested = make_finding(own_stack="App/Inner")
    top = make_finding()
    assert index.find(nested).stack.name == "App/Inner"
    assert index.find(top).stack.name == "App"
    by_path = make_finding(rule_id="X", construct_path="App/Inner/Queue/Resource", fingerprint="f" * 20)
    assert index.find(by_path).stack.name == "App/Inner"
    assert index.find(make_finding(rule_id="X", fingerprint="f" * 20)).stack.name == "App"  # no clue: the first
    assert index.find(make_finding(stack="App/Inner")).stack.name == "App/Inner"  # the own name works too
    assert index.find(make_finding(logical_id="Missing")) is None
    assert index.find(make_finding(logical_id=None)) is None


def test_merge_completes_findings_from_the_template(assembly):
    guard = make_finding("queue_rule", engine="cfn-guard", resource_type=None, own_stack="App/Inner")
    (item,) = merge({"cfn-guard": result(guard)}, assembly, StackgradeConfig()).findings
    assert item.finding.construct_path == "App/Inner/Queue/Resource"
    assert item.finding.resource_type == "AWS::SQS::Queue"
    assert item.own_stack == "App/Inner" and item.resource_key == ("App/Inner", "Queue")


def test_merge_collects_evaluated_and_unmapped(assembly):
    outcome = merge({"stackgrade": result(evaluated=[("App", "Queue", "reliability")]),
                     "checkov": result(evaluated=[("App", "Queue", "security")], unmapped=["CKV_B", "CKV_A"])},
                    assembly, StackgradeConfig())
    assert outcome.evaluated == {("App", "Queue", "reliability"), ("App", "Queue", "security")}
    assert outcome.unmapped == {"checkov": ["CKV_A", "CKV_B"]}
    assert outcome.findings == [] and outcome.unused_suppressions == []


# --- suppressions --------------------------------------------------------------------------------


def test_an_engine_suppression_with_a_reason_is_shown_not_reported(assembly):
    nag = make_finding("AwsSolutions-SQS3", engine="cdk-nag", suppressed=True, suppression_reason="it is a DLQ")
    (item,) = merge({"cdk-nag": result(nag)}, assembly, StackgradeConfig()).findings
    assert item.finding.suppressed and item.suppressed_by == "engine"


def test_an_engine_suppression_without_a_reason_is_a_finding_on_its_resource(assembly):
    # A cdk-nag 3 acknowledgement lives outside the template: only the merge can report it.
    nag = make_finding("AwsSolutions-SQS3", engine="cdk-nag", suppressed=True, own_stack="App/Inner")
    outcome = merge({"cdk-nag": result(nag)}, assembly, StackgradeConfig())
    reported = by_rule(outcome)[SUP].finding
    assert not reported.suppressed and reported.severity == "medium" and reported.category == "reliability"
    assert (reported.stack, reported.logical_id, reported.engine) == ("App", "Queue", "stackgrade")
    assert reported.construct_path == "App/Inner/Queue/Resource"
    assert reported.fingerprint == fingerprint(SUP, "App/Inner", "Queue")
    assert reported.message == "1 suppression(s) give no reason: the cdk-nag suppression of AwsSolutions-SQS3"
    assert reported.title == "Suppressions give a reason" and "reason" in reported.remediation


def test_a_reasonless_template_suppression_the_rule_reported_is_not_reported_twice(tmp_path):
    assembly = nested_assembly(tmp_path, top_queue_metadata={"checkov": {"skip": [{"id": "CKV_AWS_27"}]}})
    checkov = make_finding("CKV_AWS_27", engine="checkov", concerns=("encryption",), suppressed=True)
    rule_finding = make_finding(SUP, concerns=("deployment",), logical_id=None, severity="medium")
    flagged = merge({"stackgrade": result(rule_finding), "checkov": result(checkov)}, assembly, StackgradeConfig())
    assert sorted((i.finding.rule_id, i.finding.logical_id) for i in flagged.findings) == [
        ("CKV_AWS_27", "Queue"), (SUP, None)]
    # Own rules skipped: nothing reported the template entry yet, so the merge does.
    unflagged = merge({"checkov": result(checkov)}, assembly, StackgradeConfig())
    assert sorted((i.finding.rule_id, i.finding.logical_id) for i in unflagged.findings) == [
        ("CKV_AWS_27", "Queue"), (SUP, "Queue")]


def test_stackgrade_metadata_suppresses_by_any_reported_id(tmp_path):
    metadata = {"stackgrade": {"suppress": [{"rule": "AwsSolutions-SQS3", "reason": "replayed by hand"}]}}
    assembly = nested_assembly(tmp_path, top_queue_metadata=metadata)
    own, nag = make_finding("SG-DLQ-001"), make_finding("AwsSolutions-SQS3", engine="cdk-nag")
    (item,) = merge({"stackgrade": result(own), "cdk-nag": result(nag)}, assembly, StackgradeConfig()).findings
    assert item.finding.suppressed and item.finding.suppression_reason == "replayed by hand"
    assert item.suppressed_by == "metadata" and item.finding.engines == ("stackgrade", "cdk-nag")


def test_stackgrade_metadata_without_a_reason_suppresses_and_is_reported(tmp_path):
    assembly = nested_assembly(tmp_path, nested_queue_metadata={"stackgrade": {"suppress": [{"rule": "SG-DLQ-*"}]}})
    own = make_finding("SG-DLQ-001", own_stack="App/Inner")
    alone = merge({"stackgrade": result(own)}, assembly, StackgradeConfig())
    assert by_rule(alone)["SG-DLQ-001"].suppressed_by == "metadata"
    assert by_rule(alone)[SUP].finding.message.endswith("the stackgrade metadata suppression of SG-DLQ-*")
    # With the catalogue rule's stack-level finding, the template entry is already reported.
    rule_finding = make_finding(SUP, concerns=("deployment",), logical_id=None, severity="medium")
    flagged = merge({"stackgrade": result(own, rule_finding)}, assembly, StackgradeConfig())
    assert sorted((i.finding.rule_id, i.finding.logical_id) for i in flagged.findings) == [
        ("SG-DLQ-001", "Queue"), (SUP, None)]


def test_config_suppressions_with_and_without_a_reason(assembly):
    config = StackgradeConfig(suppressions=(
        SuppressionSetting(rule="CKV_AWS_117", resource="App/Inner/*", reason="no VPC for this queue"),
        SuppressionSetting(rule="SG-DLQ-001", resource="Queue", stack="App"),
        SuppressionSetting(rule="CKV_STALE", reason="the check was renamed"),
    ))
    checkov = make_finding("CKV_AWS_117", engine="checkov", concerns=("iam",), own_stack="App/Inner",
                           construct_path="App/Inner/Queue/Resource")
    own = make_finding("SG-DLQ-001")
    outcome = merge({"stackgrade": result(own), "checkov": result(checkov)}, assembly, config)
    items = {(i.finding.rule_id, i.own_stack): i for i in outcome.findings}
    assert items[("CKV_AWS_117", "App/Inner")].suppressed_by == "config"
    assert items[("CKV_AWS_117", "App/Inner")].finding.suppression_reason == "no VPC for this queue"
    assert items[("SG-DLQ-001", "App")].suppressed_by == "config"
    assert items[("SG-DLQ-001", "App")].finding.suppression_reason is None
    reported = items[(SUP, "App")].finding
    assert reported.message == ("1 suppression(s) give no reason: the settings' suppression of SG-DLQ-001 "
                                "(resource 'Queue', stack 'App')")
    assert outcome.unused_suppressions == [
        {"rule": "CKV_STALE", "resource": "*", "stack": "*", "reason": "the check was renamed"}]


def test_a_setting_that_covers_an_engine_suppressed_finding_is_not_unused(assembly):
    config = StackgradeConfig(suppressions=(SuppressionSetting(rule="AwsSolutions-SQS3", reason="dup"),))
    nag = make_finding("AwsSolutions-SQS3", engine="cdk-nag", suppressed=True, suppression_reason="acknowledged")
    outcome = merge({"cdk-nag": result(nag)}, assembly, config)
    assert outcome.findings[0].suppressed_by == "engine"
    assert outcome.findings[0].finding.suppression_reason == "acknowledged"
    assert outcome.unused_suppressions == []


def test_reasonless_suppressions_on_one_resource_are_one_finding(assembly):
    config = StackgradeConfig(suppressions=(SuppressionSetting(rule="SG-*", resource="Queue", stack="App"),))
    nag = make_finding("AwsSolutions-SQS3", engine="cdk-nag", suppressed=True)
    nag_again = make_finding("AwsSolutions-SQS3", engine="cdk-nag", concerns=("alarms",), suppressed=True)
    own = [make_finding("SG-DLQ-001"), make_finding("SG-LOG-001", concerns=("log-retention",))]
    outcome = merge({"stackgrade": result(*own), "cdk-nag": result(nag, nag_again)}, assembly, config)
    (reported,) = [i.finding for i in outcome.findings if i.finding.rule_id == SUP]
    assert reported.message == (
        "2 suppression(s) give no reason: the cdk-nag suppression of AwsSolutions-SQS3; the settings' suppression "
        "of SG-* (resource 'Queue', stack 'App')")
    # The generated finding is an SG- finding too: the same reason-less setting suppresses it, once.
    assert outcome.findings[-1].finding.rule_id == SUP and outcome.findings[-1].suppressed_by == "config"


def test_reasonless_suppressions_are_not_reported_when_the_rule_is_off(assembly):
    config = StackgradeConfig(rules={SUP: False})
    nag = make_finding("AwsSolutions-SQS3", engine="cdk-nag", suppressed=True)
    assert [i.finding.rule_id for i in merge({"cdk-nag": result(nag)}, assembly, config).findings] == [
        "AwsSolutions-SQS3"]


def test_the_reported_finding_can_be_suppressed_with_a_reason(assembly):
    config = StackgradeConfig(suppressions=(SuppressionSetting(rule=SUP, reason="acknowledged upstream"),))
    stack_level = make_finding("AwsSolutions-IAM4", engine="cdk-nag", concerns=("iam",), logical_id=None,
                               suppressed=True)
    outcome = merge({"cdk-nag": result(stack_level)}, assembly, config)
    reported = by_rule(outcome)[SUP]
    assert reported.finding.logical_id is None and reported.resource_key == ("App", "(stack)")
    assert reported.suppressed_by == "config" and reported.finding.suppression_reason == "acknowledged upstream"


# --- sources -------------------------------------------------------------------------------------


def test_sources_come_from_the_nearest_recorded_construct_path(assembly):
    record = {"cdk_nag": {}, "sources": {"App/Inner": {"file": "app/inner.py", "line": 12},
                                         "App": {"file": "app.py", "line": 3}}}
    nested = make_finding("SG-DLQ-001", own_stack="App/Inner")
    known = make_finding("SG-DLQ-002", source=SourceLocation("given.py", 1))
    stack_level = make_finding("SG-OUT-001", concerns=("outputs",), logical_id=None)
    outcome = merge({"stackgrade": result(nested, known, stack_level)}, assembly, StackgradeConfig(), record)
    sources = {i.finding.rule_id: i.finding.source for i in outcome.findings}
    assert sources == {"SG-DLQ-001": SourceLocation("app/inner.py", 12), "SG-DLQ-002": SourceLocation("given.py", 1),
                       "SG-OUT-001": None}


def test_without_a_record_there_are_no_sources(assembly):
    own = make_finding("SG-DLQ-001")
    for record in (None, {}, {"cdk_nag": {}, "sources": {}}):
        (item,) = merge({"stackgrade": result(own)}, assembly, StackgradeConfig(), record).findings
        assert item.finding.source is None
