"""Suppression entries in template metadata, and the settings' suppressions matched to findings."""

from __future__ import annotations

from checks.assembly import Assembly
from checks.config import SuppressionSetting
from checks.own_rules import evaluate
from checks.suppressions import (
    ConfigSuppressions,
    MetadataEntry,
    matches,
    metadata_entries,
    reasonless,
    rule_ids,
    stackgrade_suppression,
)
from rules.catalogue.suppression_has_reason import RULE
from tests.checks.merge_helpers import make_finding

METADATA = {
    "aws:cdk:path": "App/Orders/Resource",
    "stackgrade": {"suppress": [{"rule": "SG-DLQ-001", "reason": "replayed by hand"}, {"rule": "SG-ENC-001"}]},
    "checkov": {"skip": [{"id": "CKV_AWS_27", "comment": "SSE-SQS"}, {"id": "CKV_AWS_117", "comment": "  "}]},
    "bridgecrew": {"skip": [{"id": "BC_AWS_1"}]},
    "cdk_nag": {"rules_to_suppress": [{"id": "AwsSolutions-SQS3", "reason": "the queue is the DLQ"}, "junk"]},
}


def test_metadata_entries_of_every_mechanism():
    assert metadata_entries(METADATA) == [
        MetadataEntry("stackgrade", "SG-DLQ-001", "replayed by hand"),
        MetadataEntry("stackgrade", "SG-ENC-001", None),
        MetadataEntry("checkov", "CKV_AWS_27", "SSE-SQS"),
        MetadataEntry("checkov", "CKV_AWS_117", None),  # a blank comment explains nothing
        MetadataEntry("bridgecrew", "BC_AWS_1", None),
        MetadataEntry("cdk-nag", "AwsSolutions-SQS3", "the queue is the DLQ"),
        MetadataEntry("cdk-nag", None, None),  # not an object: names no rule
    ]


def test_metadata_without_suppressions():
    assert metadata_entries(None) == []
    assert metadata_entries(["not", "a", "mapping"]) == []
    assert metadata_entries({"aws:cdk:path": "App/Q", "checkov": "skip everything", "cdk_nag": {}}) == []


def test_a_single_entry_instead_of_a_list_is_read():
    assert metadata_entries({"stackgrade": {"suppress": {"rule": "SG-LOG-001", "reason": "kept forever"}}}) == [
        MetadataEntry("stackgrade", "SG-LOG-001", "kept forever")
    ]


def test_reasonless_and_descriptions():
    found = reasonless(METADATA)
    assert [e.describe() for e in found] == [
        "stackgrade suppression of SG-ENC-001",
        "checkov skip of CKV_AWS_117",
        "bridgecrew skip of BC_AWS_1",
        "cdk-nag suppression that names no rule",
    ]


def test_rule_ids_include_the_ids_a_finding_is_also_reported_as():
    finding = make_finding("SG-DLQ-001", also_reported_as=("cdk-nag:AwsSolutions-SQS3", "checkov:CKV_AWS_27"))
    assert rule_ids(finding) == ["SG-DLQ-001", "AwsSolutions-SQS3", "CKV_AWS_27"]


def test_matches_exactly_or_as_a_pattern():
    assert matches("AwsSolutions-IAM5[Action::s3:*]", ["AwsSolutions-IAM5[Action::s3:*]"])  # brackets: exact
    assert matches("AwsSolutions-*", ["AwsSolutions-SQS3"])
    assert matches("*/Handler*", ["Api/Handler/Resource"])
    assert not matches("*/Handler*", [None, "Handler"])
    assert not matches("ckv_aws_27", ["CKV_AWS_27"])  # case-sensitive, like the ids


def test_stackgrade_suppression_matches_any_reported_id():
    nag_only = make_finding("AwsSolutions-SQS3", engine="cdk-nag")
    merged = make_finding("SG-ENC-001", also_reported_as=("checkov:CKV_AWS_27",))
    assert stackgrade_suppression(METADATA, nag_only) is None  # only stackgrade entries count here
    assert stackgrade_suppression(METADATA, make_finding("SG-DLQ-001")).reason == "replayed by hand"
    assert stackgrade_suppression(METADATA, merged) == MetadataEntry("stackgrade", "SG-ENC-001", None)
    assert stackgrade_suppression({"stackgrade": {"suppress": [{"reason": "no rule"}]}}, merged) is None


def test_config_suppressions_match_rule_stack_and_resource():
    settings = ConfigSuppressions([
        SuppressionSetting(rule="CKV_AWS_117", resource="*/Handler*", reason="no VPC here"),
        SuppressionSetting(rule="SG-*", resource="Orders", stack="App-prod"),
        SuppressionSetting(rule="CKV_AWS_999"),
    ])
    handler = make_finding("CKV_AWS_117", engine="checkov", logical_id="HandlerABC",
                           construct_path="App/Api/Handler/Resource")
    assert settings.match(handler, ["App"], ["HandlerABC", "App/Api/Handler/Resource"]).reason == "no VPC here"
    orders = make_finding("SG-DLQ-001", logical_id="Orders")
    assert settings.match(orders, ["App"], ["Orders", None]) is None  # stack pattern does not match
    assert settings.match(orders, ["App-prod", "App-prod/Nested"], ["Orders", None]).rule == "SG-*"
    assert settings.unused() == [{"rule": "CKV_AWS_999", "resource": "*", "stack": "*", "reason": None}]


def test_a_finding_on_a_whole_stack_is_matched_by_a_star_resource_only():
    settings = ConfigSuppressions([SuppressionSetting(rule="SG-OUT-001", resource="Out*", reason="r"),
                                   SuppressionSetting(rule="SG-OUT-001", reason="every stack")])
    stack_level = make_finding("SG-OUT-001", logical_id=None)
    assert settings.match(stack_level, ["App"], [None, None]).reason == "every stack"
    assert [u["resource"] for u in settings.unused()] == ["Out*"]


def test_every_matching_setting_counts_as_used():
    settings = ConfigSuppressions([SuppressionSetting(rule="SG-DLQ-001", reason="first"),
                                   SuppressionSetting(rule="SG-*", reason="second")])
    assert settings.match(make_finding("SG-DLQ-001"), ["App"], ["Queue"]).reason == "first"
    assert settings.unused() == []


def test_the_catalogue_rule_reports_each_top_level_stack_on_its_own():
    skip = {"Type": "AWS::SQS::Queue", "Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_27"}]}}}
    assembly = Assembly.from_templates({"Clean": {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}},
                                        "Skips": {"Resources": {"Q": skip}}})
    outcomes = evaluate(assembly, rules=[RULE]).outcomes
    assert [(o.stack.name, o.message) for o in outcomes] == [
        ("Clean", None), ("Skips", "1 suppression(s) give no reason: checkov skip of CKV_AWS_27 on Q")]
