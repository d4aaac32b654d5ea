"""The own-rules engine: outcomes, findings, configuration and a crashing rule."""

from __future__ import annotations

import pytest

from checks.assembly import Assembly
from checks.config import ConfigError, StackgradeConfig
from checks.own_rules import STACK_SUBJECT, evaluate, subject_id
from rules import all_rules
from rules.rule import NOT_APPLICABLE, Rule

TEMPLATES = {
    "Shop-dev": {
        "Resources": {
            "Orders": {"Type": "AWS::SQS::Queue", "Metadata": {"aws:cdk:path": "Shop-dev/Orders/Resource"}},
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}},
        }
    }
}


def rule(rule_id: str) -> Rule:
    return next(r for r in all_rules() if r.id == rule_id)


def test_findings_carry_the_rule_metadata_and_the_resource():
    evaluation = evaluate(Assembly.from_templates(TEMPLATES), rules=[rule("SG-DLQ-001"), rule("SG-LOG-001")])
    assert [(o.rule.id, subject_id(o), o.passed) for o in evaluation.outcomes] == [
        ("SG-DLQ-001", "Orders", False), ("SG-LOG-001", "Logs", True),
    ]
    (finding,) = evaluation.findings
    assert (finding.rule_id, finding.severity, finding.category, finding.concerns) == (
        "SG-DLQ-001", "high", "reliability", ("dlq",))
    assert (finding.engine, finding.stack, finding.logical_id, finding.resource_type, finding.construct_path) == (
        "stackgrade", "Shop-dev", "Orders", "AWS::SQS::Queue", "Shop-dev/Orders/Resource")
    assert "no redrive policy" in finding.message and "DeadLetterQueue" in finding.remediation
    assert evaluation.applied("SG-DLQ-001") == 1 and evaluation.applied("SG-IAM-001") == 0


def test_disabled_rules_do_not_run_and_unknown_ids_are_errors():
    assembly = Assembly.from_templates(TEMPLATES)
    quiet = evaluate(assembly, StackgradeConfig(rules={"SG-DLQ-001": False}), rules=[rule("SG-DLQ-001")])
    assert quiet.outcomes == ()
    with pytest.raises(ConfigError, match=r"unknown rule ids \['SG-NOPE-001'\]"):
        evaluate(assembly, StackgradeConfig(rules={"SG-NOPE-001": False}))
    # A .guard rule's id is a known id too (cfn-guard honours it; the Python catalogue just does not run it).
    assert evaluate(assembly, StackgradeConfig(rules={"SG-BKT-001": False}), rules=[]).outcomes == ()


def test_a_crashing_rule_fails_closed_and_names_itself():
    def explode(resource, ctx):
        raise KeyError("Arn")

    broken = Rule(id="SG-TST-001", title="Broken", severity="high", concerns=("dlq",), rationale="r",
                  remediation="f", check=explode, applies_to=("AWS::SQS::Queue",))
    (outcome,) = evaluate(Assembly.from_templates(TEMPLATES), rules=[broken]).outcomes
    assert not outcome.passed
    assert outcome.message == "rule SG-TST-001 could not evaluate this resource (KeyError: 'Arn'); report it"


def test_stack_scope_rules_report_on_the_stack():
    templates = {"Shop-dev": {"Resources": {}, "Outputs": {"Url": {"Value": "x"}}}}
    (outcome,) = evaluate(Assembly.from_templates(templates), rules=[rule("SG-OUT-001")]).failures
    assert subject_id(outcome) == STACK_SUBJECT
    assert evaluate(Assembly.from_templates(templates), rules=[rule("SG-OUT-001")]).findings[0].logical_id is None


def test_fingerprints_distinguish_nested_stacks_sharing_a_logical_id(tmp_path):
    import json

    queue = {"Type": "AWS::SQS::Queue"}
    nested = {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "x"}}
    for name in ("A", "B"):
        (tmp_path / f"{name}.nested.template.json").write_text(json.dumps({"Resources": {"Queue": queue}}))
    (tmp_path / "Parent.template.json").write_text(json.dumps({"Resources": {
        "A": {**nested, "Metadata": {"aws:asset:path": "A.nested.template.json"}},
        "B": {**nested, "Metadata": {"aws:asset:path": "B.nested.template.json"}},
    }}))
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {"Parent": {
        "type": "aws:cloudformation:stack", "properties": {"templateFile": "Parent.template.json"}}}}))
    findings = evaluate(tmp_path, rules=[rule("SG-DLQ-001")]).findings
    assert [(f.stack, f.logical_id) for f in findings] == [("Parent", "Queue"), ("Parent", "Queue")]
    assert len({f.fingerprint for f in findings}) == 2


def test_assembly_scope_rules_run_once_and_report_on_the_first_stack():
    templates = {"Shop-dev": {"Resources": {}}, "Audit-dev": {"Resources": {}}}
    assembly = Assembly.from_templates(templates)
    seen = []

    def one_region(subject, context):
        seen.append(subject)
        return f"the app has {len(subject.stacks)} stacks in one region"

    app_wide = Rule(id="SG-TST-002", title="App wide", severity="low", concerns=("dr",), rationale="r",
                    remediation="f", check=one_region, scope="assembly")
    evaluation = evaluate(assembly, rules=[app_wide])
    assert seen == [assembly]  # the whole assembly, once
    (outcome,) = evaluation.outcomes
    assert (outcome.stack, outcome.resource, outcome.message) == (
        assembly.stacks[0], None, "the app has 2 stacks in one region")
    assert subject_id(outcome) == STACK_SUBJECT
    (finding,) = evaluation.findings
    assert (finding.stack, finding.logical_id, finding.resource_type, finding.category) == (
        "Shop-dev", None, None, "reliability")

    quiet = Rule(id="SG-TST-003", title="Quiet", severity="low", concerns=("dr",), rationale="r",
                 remediation="f", check=lambda subject, context: NOT_APPLICABLE, scope="assembly")
    assert evaluate(assembly, rules=[quiet]).outcomes == ()
