"""What fixtures (single templates) cannot show: stack tags from the manifest, nested stacks, empty settings."""

from __future__ import annotations

import json
from pathlib import Path

from checks.assembly import Assembly
from checks.config import StackgradeConfig
from checks.own_rules import evaluate, subject_id
from rules import all_rules

RULES = {rule.id: rule for rule in all_rules()}


def cloud_assembly(tmp_path: Path, stack_tags: dict) -> Path:
    """A cloud assembly: stack ``Orders-dev`` (tags in the manifest) with one nested stack."""
    parent = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "orders-dev"}},
            "Nested": {
                "Type": "AWS::CloudFormation::Stack",
                "Metadata": {"aws:asset:path": "nested.json"},
                "Properties": {
                    "TemplateURL": "https://example.com/nested.json",
                    "Parameters": {"Suffix": "dev"},
                    "Tags": [{"Key": "CostCenter", "Value": "4711"}],
                },
            },
        },
        "Outputs": {
            "InnerName": {
                "Description": "Name of the inner queue",
                "Value": {"Fn::GetAtt": ["Nested", "Outputs.InnerName"]},
                "Export": {"Name": {"Fn::GetAtt": ["Nested", "Outputs.InnerName"]}},
            }
        },
    }
    nested = {
        "Parameters": {"Suffix": {"Type": "String"}},
        "Resources": {
            "Inner": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "inner-${Suffix}"}}},
        },
        "Outputs": {"InnerName": {"Value": {"Fn::GetAtt": ["Inner", "QueueName"]}}},
    }
    manifest = {"version": "36.0.0", "artifacts": {"Orders-dev": {
        "type": "aws:cloudformation:stack",
        "properties": {"templateFile": "Orders-dev.template.json", "tags": stack_tags},
    }}}
    (tmp_path / "Orders-dev.template.json").write_text(json.dumps(parent))
    (tmp_path / "nested.json").write_text(json.dumps(nested))
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def offending(path: Path, rule_id: str, **settings) -> list[str]:
    evaluation = evaluate(Assembly.load(path), StackgradeConfig(**settings), rules=[RULES[rule_id]])
    return sorted(subject_id(o) for o in evaluation.failures)


def test_stack_tags_and_nested_stack_tags_propagate_to_resources(tmp_path):
    path = cloud_assembly(tmp_path, {"Project": "orders"})
    # Project comes from the manifest for all; CostCenter only reaches the nested stack and its resources.
    assert offending(path, "SG-TAG-001", required_tags=("Project", "CostCenter")) == ["Queue"]
    assert offending(path, "SG-TAG-001", required_tags=("Project",)) == []
    assert offending(cloud_assembly(tmp_path, {}), "SG-TAG-001", required_tags=("Project",)) == [
        "Inner", "Nested", "Queue"]


def test_tag_rule_does_not_apply_without_required_tags(tmp_path):
    evaluation = evaluate(Assembly.load(cloud_assembly(tmp_path, {})), StackgradeConfig(),
                          rules=[RULES["SG-TAG-001"]])
    assert evaluation.outcomes == ()


def test_suffix_detected_from_stack_name_and_followed_into_nested_stacks(tmp_path):
    path = cloud_assembly(tmp_path, {})
    # "dev" from the stack name "Orders-dev"; the nested queue's name comes from the parent's parameter,
    # the export name from the nested stack's output.
    assert offending(path, "SG-NAM-001") == []
    assert offending(path, "SG-OUT-002") == []
    assert offending(path, "SG-NAM-001", environment_suffix="prod") == ["Inner", "Queue"]
    assert offending(path, "SG-OUT-002", environment_suffix="prod") == ["(stack)"]


def test_outputs_of_nested_stacks_do_not_expose_resources(tmp_path):
    path = cloud_assembly(tmp_path, {})
    # The top-level output reaches Inner through the nested stack's output; Queue has none.
    assert offending(path, "SG-OUT-003") == ["Queue"]
