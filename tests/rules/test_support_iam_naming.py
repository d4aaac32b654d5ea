"""The iam, naming and tags support helpers: pure functions, and cases a single fixture template cannot show
(several stacks, nested stacks, an assembly built in memory, a broken template)."""

from __future__ import annotations

import json
from pathlib import Path

from checks.assembly import Assembly
from checks.config import StackgradeConfig
from checks.own_rules import evaluate, subject_id
from rules import all_rules
from rules.support import iam, naming

RULES = {rule.id: rule for rule in all_rules()}
NO_VALUE = {"Ref": "AWS::NoValue"}


def offending(assembly: Assembly, rule_id: str, **settings) -> list[str]:
    evaluation = evaluate(assembly, StackgradeConfig(**settings), rules=[RULES[rule_id]])
    return sorted(subject_id(o) for o in evaluation.failures)


def queue(name) -> dict:
    return {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": name}}


# --- iam -------------------------------------------------------------------------------------


def test_listing_caps_long_lists():
    assert iam.listing(["a"]) == "a"
    assert iam.listing(["a", "b"]) == "a and b"
    assert iam.listing(["a", "b", "c", "d"]) == "a, b, c and d"
    assert iam.listing(["a", "b", "c", "d", "e", "f"]) == "a, b, c, d and 2 more"


def test_alternatives_takes_both_branches_of_every_condition():
    a, b, c = {"Sid": "A"}, {"Sid": "B"}, {"Sid": "C"}
    assert iam.alternatives(None) == []
    assert iam.alternatives(NO_VALUE) == []
    assert iam.alternatives(a) == [a]
    assert iam.alternatives([a, {"Fn::If": ["IsProd", b, NO_VALUE]}]) == [a, b]
    assert iam.alternatives({"Fn::If": ["IsProd", [a, b], {"Fn::If": ["IsDev", c, NO_VALUE]}]}) == [a, b, c]


# --- naming ----------------------------------------------------------------------------------


def test_import_value_renders_the_exporting_stack_output():
    assembly = Assembly.from_templates({
        "Shared-dev": {
            "Resources": {"Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "orders-bus-dev"}}},
            "Outputs": {"BusName": {"Value": {"Ref": "Bus"}, "Export": {"Name": "orders-bus-name"}}},
        },
        "App-dev": {"Resources": {
            "Imported": queue({"Fn::Sub": ["${Bus}-events", {"Bus": {"Fn::ImportValue": "orders-bus-name"}}]}),
            "Unknown": queue({"Fn::ImportValue": "not-exported"}),
        }},
    })
    app = assembly.stacks[1]
    assert naming.render(assembly, app, app.resources["Imported"].properties["QueueName"]) == "orders-bus-dev-events"
    assert naming.render(assembly, app, app.resources["Unknown"].properties["QueueName"]) == naming.UNKNOWN
    assert offending(assembly, "SG-NAM-001") == ["Unknown"]


def test_sub_escape_stays_literal():
    assembly = Assembly.from_templates({"App-dev": {"Resources": {}}})
    value = {"Fn::Sub": "orders-${!Stage}-${AWS::StackName}"}
    assert naming.render(assembly, assembly.stacks[0], value) == "orders-${Stage}-App-dev"


def test_circular_names_render_without_recursing_forever():
    # CloudFormation rejects the cycle at deploy time; stackgrade still reports the names.
    assembly = Assembly.from_templates({"App-dev": {"Resources": {
        "A": queue({"Fn::Sub": "${B}-a"}),
        "B": queue({"Fn::Sub": "${A}-b"}),
    }}})
    stack = assembly.stacks[0]
    # one segment per reference followed (depths 0..8), then the bound gives up with {?}
    assert naming.render(assembly, stack, stack.resources["A"].properties["QueueName"]) == "{?}-a-b-a-b-a-b-a-b-a"
    assert offending(assembly, "SG-NAM-001") == ["A", "B"]


def nested_assembly(tmp_path: Path, passed: dict) -> Assembly:
    """Stack ``Orders-dev`` with a nested stack whose queue names come from its parameters."""
    parent = {"Resources": {"Nested": {
        "Type": "AWS::CloudFormation::Stack",
        "Metadata": {"aws:asset:path": "nested.json"},
        "Properties": {"TemplateURL": "https://example.com/nested.json", "Parameters": passed},
    }}}
    nested = {
        "Parameters": {"Suffix": {"Type": "String", "Default": "dev"}, "Stage": {"Type": "String"}},
        "Resources": {
            "Defaulted": queue({"Fn::Sub": "inner-${Suffix}"}),
            "Required": queue({"Fn::Sub": "inner-${Stage}"}),
        },
    }
    manifest = {"version": "36.0.0", "artifacts": {"Orders-dev": {
        "type": "aws:cloudformation:stack", "properties": {"templateFile": "Orders-dev.template.json"},
    }}}
    (tmp_path / "Orders-dev.template.json").write_text(json.dumps(parent))
    (tmp_path / "nested.json").write_text(json.dumps(nested))
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return Assembly.load(tmp_path)


def test_nested_parameter_the_parent_does_not_pass_takes_its_default(tmp_path):
    assembly = nested_assembly(tmp_path, {})
    nested = assembly.stacks[1]
    assert naming.render(assembly, nested, nested.resources["Defaulted"].properties["QueueName"]) == "inner-dev"
    assert naming.render(assembly, nested, nested.resources["Required"].properties["QueueName"]) == "inner-{?}"
    assert offending(assembly, "SG-NAM-001") == ["Required"]


def test_nested_parameter_the_parent_passes_wins_over_the_default(tmp_path):
    assembly = nested_assembly(tmp_path, {"Suffix": "prod", "Stage": "dev"})
    assert offending(assembly, "SG-NAM-001") == ["Defaulted"]


# --- tags ------------------------------------------------------------------------------------


def test_an_assembly_built_in_memory_has_no_stack_tags():
    assembly = Assembly.from_templates({"App-dev": {"Resources": {
        "Tagged": {"Type": "AWS::SQS::Queue", "Properties": {"Tags": [{"Key": "Project", "Value": "orders"}]}},
        "Untagged": {"Type": "AWS::SQS::Queue"},
    }}})
    assert offending(assembly, "SG-TAG-001", required_tags=("Project",)) == ["Untagged"]
