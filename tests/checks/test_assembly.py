"""The assembly model: loading assemblies and templates, clear errors, and reference resolution."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from checks.assembly import Assembly, AssemblyError, _plain, iter_statements, load_template
from tests.checks.helpers import (
    FIXTURES,
    by_id,
    ids,
    nested_stack_resource,
    queue,
    stack_artifact,
    write_json,
    write_manifest,
)

TOP = "PatternDetection-ideal-qa7"
NESTED_PARTS = ("Data", "Compute", "Api", "Orchestration", "Monitoring")


def template_resource_count(path: Path) -> int:
    return len(json.loads(path.read_text())["Resources"])


# --- a synthesized cloud assembly --------------------------------------------------------------


def test_cloud_assembly_has_the_top_level_stack_and_its_five_nested_stacks(pattern_assembly, pattern_assembly_dir):
    top = pattern_assembly.stacks[0]
    assert top.name == TOP
    assert not top.nested and top.parent is None and top.top_level is top
    assert top.path == pattern_assembly_dir / f"{TOP}.template.json"
    assert pattern_assembly.source == pattern_assembly_dir
    nested_ids = [r.logical_id for r in top.resources.values() if r.type == "AWS::CloudFormation::Stack"]
    assert [s.name for s in pattern_assembly.stacks] == [TOP] + [f"{TOP}/{logical_id}" for logical_id in nested_ids]
    assert len(pattern_assembly.stacks) == 6
    for part, stack in zip(NESTED_PARTS, pattern_assembly.stacks[1:]):
        assert stack.nested and stack.parent is top and stack.top_level is top
        assert stack.parent_resource_id.startswith(f"{part}NestedStack{part}NestedStackResource")
        assert top.resources[stack.parent_resource_id].construct_path == (
            f"{TOP}/{part}.NestedStack/{part}.NestedStackResource"
        )
        assert stack.path.name.startswith(f"PatternDetectionidealqa7{part}")
        assert stack.path.name.endswith(".nested.template.json")
        assert pattern_assembly.nested_stack(top, stack.parent_resource_id) is stack
    assert pattern_assembly.stacks[1].name == f"{TOP}/DataNestedStackDataNestedStackResourceEC94013D"


def test_cloud_assembly_resource_counts_equal_the_templates(pattern_assembly):
    for stack in pattern_assembly.stacks:
        assert len(stack.resources) == template_resource_count(stack.path), stack.name
        assert list(stack.resources) == list(json.loads(stack.path.read_text())["Resources"])
    assert len(pattern_assembly.resources()) == sum(template_resource_count(s.path) for s in pattern_assembly.stacks)


def test_every_synthesized_resource_has_its_construct_path(pattern_assembly):
    for resource in pattern_assembly.resources():
        assert resource.construct_path and resource.construct_path.startswith(f"{TOP}/"), resource
    table = by_id(pattern_assembly, "TradingPatternsTableD6067FEA")
    assert table.type == "AWS::DynamoDB::Table"
    assert table.stack.name == f"{TOP}/DataNestedStackDataNestedStackResourceEC94013D"
    assert table.construct_path == f"{TOP}/Data/TradingPatternsTable/Resource"
    assert repr(table) == f"<AWS::DynamoDB::Table {TOP}/DataNestedStackDataNestedStackResourceEC94013D/TradingPatternsTableD6067FEA>"


def test_top_level_output_resolves_into_the_nested_stack(pattern_assembly):
    top = pattern_assembly.stacks[0]
    table = by_id(pattern_assembly, "TradingPatternsTableD6067FEA")
    assert pattern_assembly.targets(top, top.outputs["TradingPatternsTableName"]["Value"]) == [table]
    api_url = pattern_assembly.targets(top, top.outputs["ApiUrl"]["Value"])
    assert sorted(ids(api_url)) == ["ApiDeploymentStageprod3EB9684E", "ApiF70053CD"]


def test_nested_parameter_follows_the_parent_to_a_sibling_stack(pattern_assembly):
    compute = next(s for s in pattern_assembly.stacks if s.name.startswith(f"{TOP}/Compute"))
    parameter = next(p for p in compute.parameters if "TradingPatternsTable" in p and p.endswith("Ref"))
    table = by_id(pattern_assembly, "TradingPatternsTableD6067FEA")
    assert pattern_assembly.targets(compute, {"Ref": parameter}) == [table]


def test_nested_templates_are_found_from_template_url_without_asset_metadata(reference_stack, pattern_assembly):
    stack = reference_stack("pattern_detection", "ideal", **{"aws:cdk:enable-asset-metadata": False})
    directory = Path(stack.node.root.synth().directory)
    assembly = Assembly.load(directory)
    top = assembly.stacks[0]
    assert all("aws:asset:path" not in (r.definition.get("Metadata") or {}) for r in top.resources.values())
    assert [s.name for s in assembly.stacks] == [s.name for s in pattern_assembly.stacks]
    for stack_without, stack_with in zip(assembly.stacks, pattern_assembly.stacks):
        assert stack_without.path.name == stack_with.path.name
        assert sorted(stack_without.resources) == sorted(stack_with.resources)


# --- hand-made assemblies ----------------------------------------------------------------------


def test_nested_cloud_assemblies_are_loaded_with_their_stack_names(tmp_path):
    write_json(tmp_path / "Root.template.json", {"Resources": {"RootQueue": queue()}})
    write_json(tmp_path / "assembly-Prod" / "ProdApp.template.json", {"Resources": {"ProdQueue": queue()}})
    write_json(tmp_path / "assembly-Prod" / "ProdOther.template.json", {"Resources": {"OtherQueue": queue()}})
    write_json(tmp_path / "assembly-Prod" / "Plain.template.json", {"Resources": {"PlainQueue": queue()}})
    write_manifest(tmp_path / "assembly-Prod", {
        "ProdApp": stack_artifact("ProdApp.template.json", displayName="Prod/App",
                                  properties={"stackName": "Prod-App"}),
        "ProdOther": stack_artifact("ProdOther.template.json", displayName="Prod/Other"),
        "Plain": {"type": "aws:cloudformation:stack"},  # no templateFile: <artifact id>.template.json
        "ProdApp.assets": {"type": "cdk:asset-manifest", "properties": {"file": "ProdApp.assets.json"}},
    })
    write_manifest(tmp_path, {
        "Root": stack_artifact("Root.template.json"),
        "assembly-Prod": {"type": "cdk:cloud-assembly",
                          "properties": {"directoryName": "assembly-Prod", "displayName": "Prod"}},
        "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}},
    })
    assembly = Assembly.load(tmp_path)
    assert [s.name for s in assembly.stacks] == ["Root", "Prod-App", "Prod/Other", "Plain"]
    assert [s.path for s in assembly.stacks] == [
        tmp_path / "Root.template.json",
        tmp_path / "assembly-Prod" / "ProdApp.template.json",
        tmp_path / "assembly-Prod" / "ProdOther.template.json",
        tmp_path / "assembly-Prod" / "Plain.template.json",
    ]
    assert ids(assembly.resources()) == ["RootQueue", "ProdQueue", "OtherQueue", "PlainQueue"]


def test_nested_stacks_inside_nested_assemblies_and_same_named_stages(tmp_path):
    """Two stages deploying a stack of the same name each keep their own nested stack."""
    for stage in ("Dev", "Prod"):
        directory = tmp_path / f"assembly-{stage}"
        write_json(directory / "App.template.json", {"Resources": {"Inner": nested_stack_resource("Inner.nested.json")}})
        write_json(directory / "Inner.nested.json", {"Resources": {f"{stage}Queue": queue()}})
        write_manifest(directory, {"App": stack_artifact("App.template.json", properties={"stackName": "App"})})
    write_manifest(tmp_path, {
        f"assembly-{stage}": {"type": "cdk:cloud-assembly", "properties": {"directoryName": f"assembly-{stage}"}}
        for stage in ("Dev", "Prod")
    })
    assembly = Assembly.load(tmp_path)
    dev, dev_inner, prod, prod_inner = assembly.stacks
    assert [s.name for s in assembly.stacks] == ["App", "App/Inner", "App", "App/Inner"]
    assert assembly.nested_stack(dev, "Inner") is dev_inner
    assert assembly.nested_stack(prod, "Inner") is prod_inner
    assert list(dev_inner.resources) == ["DevQueue"] and list(prod_inner.resources) == ["ProdQueue"]
    assert assembly.targets(dev, {"Fn::GetAtt": ["Inner", "Outputs.Missing"]}) == []


def test_single_json_template_with_nested_stacks_beside_it(tmp_path):
    write_json(tmp_path / "Outer.nested.json", {"Resources": {
        "Queue": queue(), "Deeper": nested_stack_resource("Deeper.nested.json")}})
    write_json(tmp_path / "Deeper.nested.json", {"Resources": {"DeepQueue": queue()}})
    path = write_json(tmp_path / "App.template.json", {"Resources": {
        "Outer": nested_stack_resource("Outer.nested.json"),
        "Remote": nested_stack_resource(None, template_url="https://example.com/remote.json"),
    }})
    assembly = Assembly.load(path)
    assert [s.name for s in assembly.stacks] == ["App", "App/Outer", "App/Outer/Deeper"]
    assert assembly.stacks[2].parent is assembly.stacks[1] and assembly.stacks[2].top_level is assembly.stacks[0]
    assert assembly.source == path
    # The remote nested stack's template cannot be seen: its resource stays, its contents are unknown.
    assert assembly.nested_stack(assembly.stacks[0], "Remote") is None
    assert ids(assembly.resources("AWS::CloudFormation::Stack")) == ["Outer", "Remote", "Deeper"]


def test_yaml_template_with_short_form_intrinsics():
    assembly = Assembly.load(FIXTURES / "short_forms.template.yaml")
    stack = assembly.stacks[0]
    assert stack.name == "short_forms"
    orders = stack.resources["Orders"]
    assert orders.type == "AWS::SQS::Queue"
    assert orders.deletion_policy == "Retain"
    assert orders.construct_path == "App/Orders/Resource"
    assert orders.properties["QueueName"] == {"Fn::Join": ["-", ["orders", {"Ref": "Env"}]]}
    assert orders.prop("RedrivePolicy", "deadLetterTargetArn") == {"Fn::GetAtt": ["OrdersDlq", "Arn"]}
    assert orders.prop("RedrivePolicy", "maxReceiveCount") == 3
    tags = {t["Key"]: t["Value"] for t in orders.properties["Tags"]}
    assert tags == {
        "az": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        "shared": {"Fn::ImportValue": "shared-vpc-id"},
        "tier": {"Fn::If": ["IsProd", "gold", {"Ref": "AWS::NoValue"}]},
        "topic": {"Fn::Sub": "${Alerts}"},
        "arn": {"Fn::GetAtt": ["Alerts", "TopicArn"]},
        "split": {"Fn::Select": [1, {"Fn::Split": [",", "a,b"]}]},
        "encoded": {"Fn::Base64": "hello"},
        "released": "2024-05-01",  # YAML reads a date; CloudFormation reads the string
    }
    assert orders.properties["FifoQueue"] is False
    assert orders.properties["KmsMasterKeyId"] is None
    assert orders.properties["VisibilityTimeout"] == 42.5
    assert stack.template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert stack.conditions == {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}}
    assert stack.parameters == {"Env": {"Type": "String", "Default": "qa7"}}
    # Parsed into plain Python values, so the template serializes and compares like JSON.
    assert json.loads(json.dumps(stack.template)) == stack.template
    assert type(orders.properties["QueueName"]["Fn::Join"][0]) is str
    assert assembly.targets(stack, orders.properties["Tags"]) == [stack.resources["Alerts"]]
    assert assembly.literal(stack, orders.properties["QueueName"]) == "orders-qa7"
    assert assembly.literal(stack, stack.resources["OrdersDlq"].properties["QueueName"]) == "orders-dlq-qa7"
    assert set(assembly.exports) == {"orders-url-qa7"}


def test_plain_values():
    moment = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc)
    assert _plain({1: [datetime.date(2010, 9, 9), moment, b"raw"]}) == {
        "1": ["2010-09-09", "2024-05-01T12:30:00+00:00", b"raw"]
    }


def test_yaml_is_read_whatever_the_extension_and_json_by_its_brace(tmp_path):
    yaml_path = tmp_path / "app.template"
    yaml_path.write_text("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n")
    json_path = tmp_path / "app.txt"
    json_path.write_text('  {"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}')
    assert list(Assembly.load(yaml_path).stacks[0].resources) == ["Q"]
    assert Assembly.load(yaml_path).stacks[0].name == "app"
    assert list(load_template(json_path)["Resources"]) == ["T"]


# --- errors ------------------------------------------------------------------------------------


def test_missing_path(tmp_path):
    with pytest.raises(AssemblyError) as error:
        Assembly.load(tmp_path / "cdk.out")
    assert str(error.value) == (
        f"{tmp_path / 'cdk.out'} does not exist; give a cloud assembly directory (cdk.out) or a template"
    )


def test_directory_without_manifest(tmp_path):
    with pytest.raises(AssemblyError) as error:
        Assembly.load(tmp_path)
    assert str(error.value) == f"{tmp_path} has no manifest.json; is it a cloud assembly (cdk.out)?"


def test_manifest_that_is_not_json(tmp_path):
    (tmp_path / "manifest.json").write_text("{'artifacts': ")
    with pytest.raises(AssemblyError) as error:
        Assembly.load(tmp_path)
    assert str(error.value) == (
        f"{tmp_path / 'manifest.json'} is not valid JSON: Expecting property name enclosed in double quotes (line 1)"
    )


def test_manifest_that_is_not_utf8(tmp_path):
    (tmp_path / "manifest.json").write_bytes(b'{"artifacts": "\xff"}')
    with pytest.raises(AssemblyError, match=r"cannot read .*manifest\.json: 'utf-8' codec can't decode"):
        Assembly.load(tmp_path)


@pytest.mark.parametrize("manifest", [{"version": "48.0.0"}, {"artifacts": {}}, {"artifacts": None},
                                      {"artifacts": {"Tree": {"type": "cdk:tree"}}}])
def test_assembly_without_stacks(tmp_path, manifest):
    write_json(tmp_path / "manifest.json", manifest)
    with pytest.raises(AssemblyError) as error:
        Assembly.load(tmp_path)
    assert str(error.value) == f"{tmp_path} holds no CloudFormation stacks (is the app empty?)"


@pytest.mark.parametrize(("manifest", "message"), [
    ([], "not a cloud assembly manifest (not a JSON object)"),
    ({"artifacts": ["Stack"]}, "artifacts is not a mapping"),
    ({"artifacts": {"Stack": "aws:cloudformation:stack"}}, "artifact Stack is not a mapping"),
    ({"artifacts": {"assembly-Prod": {"type": "cdk:cloud-assembly"}}},
     "nested assembly assembly-Prod has no directoryName"),
])
def test_malformed_manifest(tmp_path, manifest, message):
    write_json(tmp_path / "manifest.json", manifest)
    with pytest.raises(AssemblyError) as error:
        Assembly.load(tmp_path)
    assert str(error.value) == f"{tmp_path / 'manifest.json'}: {message}"


def test_nested_assembly_that_includes_itself(tmp_path):
    write_manifest(tmp_path, {"again": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "."}}})
    with pytest.raises(AssemblyError) as error:
        Assembly.load(tmp_path)
    assert str(error.value) == f"{tmp_path / '.' / 'manifest.json'} includes itself as a nested cloud assembly"


def test_manifest_naming_a_missing_template(tmp_path):
    write_manifest(tmp_path, {"App": stack_artifact("App.template.json")})
    with pytest.raises(AssemblyError) as error:
        Assembly.load(tmp_path)
    assert str(error.value) == f"cannot read template {tmp_path / 'App.template.json'}: No such file or directory"


def test_malformed_json_template(tmp_path):
    path = tmp_path / "App.template.json"
    path.write_text('{"Resources": {"Q": {"Type": "AWS::SQS::Queue",}}}')
    with pytest.raises(AssemblyError) as error:
        Assembly.load(path)
    assert str(error.value) == f"{path} is not valid JSON: Expecting property name enclosed in double quotes (line 1)"


def test_malformed_json_template_inside_an_assembly(tmp_path):
    (tmp_path / "App.template.json").write_text('{"Resources": \n[')
    write_manifest(tmp_path, {"App": stack_artifact("App.template.json")})
    with pytest.raises(AssemblyError) as error:
        Assembly.load(tmp_path)
    assert str(error.value) == f"{tmp_path / 'App.template.json'} is not valid JSON: Expecting value (line 2)"


def test_malformed_yaml(tmp_path):
    path = tmp_path / "app.yaml"
    path.write_text("Resources:\n  Queue: [unclosed\n")
    with pytest.raises(AssemblyError) as error:
        Assembly.load(path)
    message = str(error.value)
    assert message.startswith(f"{path} is not valid CloudFormation YAML: while parsing a flow sequence")
    assert "line 2" in message


def test_yaml_with_a_duplicate_resource(tmp_path):
    path = tmp_path / "app.yaml"
    path.write_text("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n  Q:\n    Type: AWS::SNS::Topic\n")
    with pytest.raises(AssemblyError) as error:
        Assembly.load(path)
    assert str(error.value) == f"{path} is not valid CloudFormation YAML: Duplicate found 'Q' (line 2)"


def test_template_that_is_not_utf8(tmp_path):
    path = tmp_path / "app.yaml"
    path.write_bytes(b"Resources:\n  Q\xe9:\n    Type: AWS::SQS::Queue\n")
    with pytest.raises(AssemblyError) as error:
        Assembly.load(path)
    assert str(error.value) == f"{path} is not a text file (not UTF-8): invalid continuation byte"


def test_template_that_cannot_be_read(tmp_path):
    with pytest.raises(AssemblyError) as error:
        load_template(tmp_path)
    assert str(error.value) == f"cannot read template {tmp_path}: Is a directory"


@pytest.mark.parametrize(("text", "suffix"), [
    ('{"Resources": ["Queue"]}', ".json"),
    ('{"Resources": null}', ".json"),
    ('{"AWSTemplateFormatVersion": "2010-09-09"}', ".json"),  # e.g. manifest.json or package.json by mistake
    ("[1, 2]", ".json"),
    ("Resources: just text\n", ".yaml"),
    ("", ".yaml"),
    ("- a\n- b\n", ".yaml"),
])
def test_template_whose_resources_is_not_a_mapping(tmp_path, text, suffix):
    path = tmp_path / f"app{suffix}"
    path.write_text(text)
    with pytest.raises(AssemblyError) as error:
        Assembly.load(path)
    assert str(error.value) == f"{path} is not a CloudFormation template (no Resources mapping)"


@pytest.mark.parametrize("definition", [{"Properties": {}}, {"Type": 3}, "AWS::SQS::Queue", None])
def test_resource_without_type(tmp_path, definition):
    path = write_json(tmp_path / "app.json", {"Resources": {"Queue": queue(), "Broken": definition}})
    with pytest.raises(AssemblyError) as error:
        Assembly.load(path)
    assert str(error.value) == f"resource Broken in {path} has no Type"


@pytest.mark.parametrize("properties", [["QueueName"], "QueueName: x"])
def test_resource_whose_properties_is_not_a_mapping(tmp_path, properties):
    path = write_json(tmp_path / "app.json",
                      {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": properties}}})
    with pytest.raises(AssemblyError) as error:
        Assembly.load(path)
    assert str(error.value) == f"resource Queue in {path}: Properties is not a mapping"


@pytest.mark.parametrize(("section", "content", "message"), [
    ("Outputs", [], "Outputs is not a mapping"),
    ("Outputs", {"Url": "https://example.com"}, "output Url is not a mapping"),
    ("Parameters", "Env", "Parameters is not a mapping"),
    ("Parameters", {"Env": None}, "parameter Env is not a mapping"),
])
def test_parameters_and_outputs_must_be_mappings(tmp_path, section, content, message):
    path = write_json(tmp_path / "app.json", {"Resources": {"Queue": queue()}, section: content})
    with pytest.raises(AssemblyError) as error:
        Assembly.load(path)
    assert str(error.value) == f"{path}: {message}"


def test_nested_template_that_includes_itself(tmp_path):
    path = write_json(tmp_path / "Loop.template.json", {"Resources": {"Self": nested_stack_resource("Loop.template.json")}})
    with pytest.raises(AssemblyError) as error:
        Assembly.load(path)
    assert str(error.value) == f"nested stack Self in {path} includes its own template {path}"


def test_malformed_asset_manifest(tmp_path):
    digest = "ab" * 32
    url = {"Fn::Join": ["", ["https://s3.", {"Ref": "AWS::Region"}, ".amazonaws.com/bucket/", f"{digest}.json"]]}
    path = write_json(tmp_path / "App.template.json", {"Resources": {"Inner": nested_stack_resource(None, template_url=url)}})
    (tmp_path / "App.assets.json").write_text("{not json")
    with pytest.raises(AssemblyError, match=r"^cannot read asset manifest .*App\.assets\.json: Expecting property name"):
        Assembly.load(path)


def test_template_url_fallback_reads_the_asset_manifest(tmp_path):
    digest = "cd" * 32
    url = {"Fn::Join": ["", ["https://s3.", {"Ref": "AWS::Region"}, ".amazonaws.com/bucket/", f"{digest}.json"]]}
    path = write_json(tmp_path / "App.template.json", {"Resources": {
        # asset metadata naming a file that is not there: the TemplateURL is tried next
        "Inner": {**nested_stack_resource("gone.json", template_url=url)},
        "Unlisted": nested_stack_resource(None, template_url=f"https://bucket/{'ef' * 32}.json"),
    }})
    write_json(tmp_path / "Other.assets.json", {"files": {"0" * 64: {"source": {"path": "x"}}}})
    write_json(tmp_path / "App.assets.json", {"version": "48.0.0", "files": {
        digest: {"source": {"path": "Inner.nested.template.json", "packaging": "file"}},
        "ef" * 32: {"source": {"path": "missing.json"}},
    }})
    write_json(tmp_path / "Inner.nested.template.json", {"Resources": {"InnerQueue": queue()}})
    assembly = Assembly.load(path)
    assert [s.name for s in assembly.stacks] == ["App", "App/Inner"]
    assert assembly.stacks[1].path == tmp_path / "Inner.nested.template.json"


def test_from_templates_validates_and_builds_top_level_stacks():
    assembly = Assembly.from_templates({"A": {"Resources": {"Q": queue()}}, "B": {"Resources": {}}})
    assert [s.name for s in assembly.stacks] == ["A", "B"]
    assert assembly.source is None and assembly.stacks[0].path is None
    with pytest.raises(AssemblyError) as error:
        Assembly.from_templates({"Bad": {"Resources": []}})
    assert str(error.value) == "Bad is not a CloudFormation template (no Resources mapping)"
    with pytest.raises(AssemblyError) as error:
        Assembly.from_templates({"Bad": {"Resources": {"X": {}}}})
    assert str(error.value) == "resource X in Bad has no Type"


# --- queries -----------------------------------------------------------------------------------


@pytest.fixture
def mixed() -> Assembly:
    return Assembly.from_templates({
        "First": {"Resources": {
            "Topic": {"Type": "AWS::SNS::Topic"},
            "Queue1": queue(QueueName="one", RedrivePolicy={"deadLetterTargetArn": "arn"}),
            "Fn": {"Type": "AWS::Lambda::Function", "Metadata": "not a mapping"},
        }},
        "Second": {"Resources": {
            "Queue2": {"Type": "AWS::SQS::Queue", "Properties": None, "DeletionPolicy": "Snapshot"},
            "Topic2": {"Type": "AWS::SNS::Topic"},
        }},
    })


def test_resources_by_type_in_stack_order(mixed):
    assert ids(mixed.resources()) == ["Topic", "Queue1", "Fn", "Queue2", "Topic2"]
    assert ids(mixed.resources("AWS::SQS::Queue")) == ["Queue1", "Queue2"]
    assert ids(mixed.resources("AWS::SQS::Queue", "AWS::SNS::Topic")) == ["Topic", "Queue1", "Queue2", "Topic2"]
    assert ids(mixed.resources("AWS::SNS::Topic", "AWS::SNS::Topic")) == ["Topic", "Topic2"]
    assert mixed.resources("AWS::S3::Bucket") == []
    # a copy: callers may change the list without changing the index
    mixed.resources("AWS::SQS::Queue").clear()
    assert ids(mixed.resources("AWS::SQS::Queue")) == ["Queue1", "Queue2"]


def test_resource_accessors(mixed):
    queue1, fn, queue2 = by_id(mixed, "Queue1"), by_id(mixed, "Fn"), by_id(mixed, "Queue2")
    assert queue1.prop("RedrivePolicy", "deadLetterTargetArn") == "arn"
    assert queue1.prop("RedrivePolicy", "maxReceiveCount", default=5) == 5
    assert queue1.prop("QueueName", "Nested") is None
    assert queue1.prop() == {"QueueName": "one", "RedrivePolicy": {"deadLetterTargetArn": "arn"}}
    assert queue2.properties == {} and queue2.deletion_policy == "Snapshot"
    assert queue1.deletion_policy is None and queue1.construct_path is None
    assert fn.construct_path is None  # Metadata that is not a mapping
    assert repr(queue2) == "<AWS::SQS::Queue Second/Queue2>"
    first = mixed.stacks[0]
    assert first.parameters == {} and first.outputs == {} and first.conditions == {}
    assert mixed.nested_stack(first, "Topic") is None


def test_iter_statements():
    statement = {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}
    assert iter_statements({"Statement": [statement, "junk"]}) == [statement]
    assert iter_statements({"Statement": statement}) == [statement]
    assert iter_statements({"Version": "2012-10-17"}) == []
    assert iter_statements({"Fn::If": ["C", {}, {}]}) == []
    assert iter_statements("not a document") == []


# --- reference resolution ----------------------------------------------------------------------


@pytest.fixture
def refs() -> Assembly:
    return Assembly.from_templates({"App": {
        "Parameters": {"Env": {"Type": "String", "Default": "qa7"}, "Count": {"Type": "Number", "Default": 3},
                       "NoDefault": {"Type": "String"}},
        "Resources": {
            "Queue": queue(QueueName={"Fn::Sub": "orders-${Env}"}),
            "Dlq": queue(),
            "Topic": {"Type": "AWS::SNS::Topic"},
            "Literal": {"Type": "AWS::SNS::Topic"},
        },
    }})


@pytest.mark.parametrize(("value", "expected"), [
    ({"Ref": "Queue"}, ["Queue"]),
    ({"Ref": "AWS::Region"}, []),
    ({"Ref": "Env"}, []),
    ({"Ref": "Nothing"}, []),
    ({"Ref": ["Queue"]}, []),
    ({"Fn::GetAtt": ["Queue", "Arn"]}, ["Queue"]),
    ({"Fn::GetAtt": "Queue.Arn"}, ["Queue"]),
    ({"Fn::GetAtt": ["Queue", {"Ref": "Env"}]}, ["Queue"]),
    ({"Fn::GetAtt": ["Missing", "Arn"]}, []),
    ({"Fn::GetAtt": {"Ref": "Queue"}}, []),
    ({"Fn::Sub": "${Queue}"}, ["Queue"]),
    ({"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${Queue.QueueName}"}, ["Queue"]),
    ({"Fn::Sub": "${!Literal}-${Env}"}, []),
    ({"Fn::Sub": ["${Target}/${Dlq.Arn}", {"Target": {"Ref": "Topic"}, "Unused": {"Ref": "Queue"}}]}, ["Topic", "Dlq"]),
    ({"Fn::Sub": ["${Queue}", "not a map"]}, ["Queue"]),
    ({"Fn::Sub": [{"Ref": "Queue"}, {}]}, []),
    ({"Fn::Join": [":", [{"Ref": "Queue"}, "x", {"Fn::GetAtt": ["Dlq", "Arn"]}]]}, ["Queue", "Dlq"]),
    ({"Fn::If": ["IsProd", {"Ref": "Queue"}, {"Ref": "AWS::NoValue"}]}, ["Queue"]),
    ({"Fn::Select": [0, [{"Ref": "Topic"}, {"Ref": "Dlq"}]]}, ["Topic", "Dlq"]),
    ([{"Ref": "Queue"}, {"Fn::GetAtt": ["Queue", "Arn"]}, {"Ref": "Topic"}], ["Queue", "Topic"]),
    ({"Arn": {"Ref": "Dlq"}, "Other": [{"Ref": "Topic"}]}, ["Dlq", "Topic"]),
    ("Queue", []),
    (None, []),
    (42, []),
])
def test_targets(refs, value, expected):
    assert ids(refs.targets(refs.stacks[0], value)) == expected


def test_refers_to(refs):
    stack = refs.stacks[0]
    assert refs.refers_to(stack, {"Fn::GetAtt": ["Queue", "Arn"]}, stack.resources["Queue"])
    assert not refs.refers_to(stack, {"Fn::GetAtt": ["Queue", "Arn"]}, stack.resources["Dlq"])


@pytest.mark.parametrize(("value", "expected"), [
    ("orders", "orders"),
    (7, "7"),
    (2.5, "2.5"),
    (True, None),
    (None, None),
    (["a"], None),
    ({"Fn::Join": ["-", ["orders", "dlq", 3]]}, "orders-dlq-3"),
    ({"Fn::Join": ["-", ["orders", {"Ref": "Env"}]]}, "orders-qa7"),
    ({"Fn::Join": ["", ["orders", {"Ref": "AWS::Region"}]]}, None),
    ({"Fn::Join": ["", {"Ref": "List"}]}, None),
    ({"Fn::Join": [{"Ref": "Sep"}, ["a", "b"]]}, None),
    ({"Fn::Sub": "plain-name"}, "plain-name"),
    ({"Fn::Sub": "${!Literal}-x"}, "${Literal}-x"),
    ({"Fn::Sub": "orders-${Env}-${Count}"}, "orders-qa7-3"),
    ({"Fn::Sub": "orders-${Env}-${AWS::Region}"}, None),
    ({"Fn::Sub": "${Queue}"}, None),
    ({"Fn::Sub": "${Queue.Arn}"}, None),
    ({"Fn::Sub": "${NoDefault}"}, None),
    ({"Fn::Sub": ["${Prefix}-${Env}", {"Prefix": {"Fn::Join": ["", ["or", "ders"]]}}]}, "orders-qa7"),
    ({"Fn::Sub": ["${Prefix}", {"Prefix": {"Ref": "Queue"}}]}, None),
    ({"Fn::Sub": [{"Ref": "Env"}, {}]}, None),
    ({"Ref": "Env"}, "qa7"),
    ({"Ref": "Count"}, "3"),
    ({"Ref": "NoDefault"}, None),
    ({"Ref": "Queue"}, None),
    ({"Ref": "AWS::Region"}, None),
    ({"Fn::GetAtt": ["Queue", "QueueName"]}, None),
    ({"Fn::Join": ["", ["a"]], "Extra": 1}, None),
])
def test_literal(refs, value, expected):
    assert refs.literal(refs.stacks[0], value) == expected


# nested stacks: Parent passes parameters to Child, Child's outputs come back up

CHILD = {
    "Parameters": {
        "TargetArn": {"Type": "String"},
        "Suffix": {"Type": "String", "Default": "child-default"},
        "Given": {"Type": "String", "Default": "unused"},
        "Loop": {"Type": "String"},
    },
    "Resources": {
        "ChildQueue": queue(QueueName={"Fn::Sub": "child-${Suffix}-${Given}"}),
        "Grandchild": nested_stack_resource("Grandchild.json", parameters={"Passed": {"Ref": "TargetArn"}}),
    },
    "Outputs": {
        "QueueArn": {"Value": {"Fn::GetAtt": ["ChildQueue", "Arn"]}},
        "Deep": {"Value": {"Fn::GetAtt": ["Grandchild", "Outputs.Echo"]}},
        "Loop": {"Value": {"Ref": "Loop"}},
    },
}
GRANDCHILD = {
    "Parameters": {"Passed": {"Type": "String"}},
    "Resources": {"Inner": queue()},
    "Outputs": {"Echo": {"Value": {"Ref": "Passed"}}},
}
PARENT = {
    "Parameters": {"Env": {"Type": "String", "Default": "qa7"}},
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Child": nested_stack_resource("Child.json", parameters={
            "TargetArn": {"Ref": "Topic"},
            "Given": {"Fn::Join": ["-", ["given", {"Ref": "Env"}]]},
            # a cycle: the child's Loop output is its Loop parameter, which is that output
            "Loop": {"Fn::GetAtt": ["Child", "Outputs.Loop"]},
        }),
    },
    "Outputs": {"ChildQueueArn": {"Value": {"Fn::GetAtt": ["Child", "Outputs.QueueArn"]}}},
}


@pytest.fixture
def nested(tmp_path) -> Assembly:
    write_json(tmp_path / "Child.json", CHILD)
    write_json(tmp_path / "Grandchild.json", GRANDCHILD)
    return Assembly.load(write_json(tmp_path / "Parent.template.json", PARENT))


def test_nested_parameter_resolves_to_the_parents_resource(nested):
    parent, child, grandchild = nested.stacks
    assert [s.name for s in nested.stacks] == ["Parent", "Parent/Child", "Parent/Child/Grandchild"]
    assert ids(nested.targets(child, {"Ref": "TargetArn"})) == ["Topic"]
    assert nested.targets(child, {"Ref": "TargetArn"})[0].stack is parent
    # two levels up: Grandchild.Passed <- Child.TargetArn <- Parent.Topic
    assert ids(nested.targets(grandchild, {"Fn::Sub": "${Passed}"})) == ["Topic"]
    assert nested.targets(child, {"Ref": "Suffix"}) == []  # not passed by the parent


def test_top_level_parameter_has_no_target(nested):
    assert nested.targets(nested.stacks[0], {"Ref": "Env"}) == []


def test_getatt_outputs_of_a_nested_stack_reaches_the_nested_resource(nested):
    parent = nested.stacks[0]
    assert ids(nested.targets(parent, parent.outputs["ChildQueueArn"]["Value"])) == ["ChildQueue"]
    assert ids(nested.targets(parent, {"Fn::GetAtt": "Child.Outputs.QueueArn"})) == ["ChildQueue"]
    assert ids(nested.targets(parent, {"Fn::Sub": "${Child.Outputs.QueueArn}"})) == ["ChildQueue"]
    # down into the child, down into the grandchild, back up through its parameter to the parent's topic
    assert ids(nested.targets(parent, {"Fn::GetAtt": ["Child", "Outputs.Deep"]})) == ["Topic"]
    assert nested.targets(parent, {"Fn::GetAtt": ["Child", "Outputs.Missing"]}) == []
    assert ids(nested.targets(parent, {"Fn::GetAtt": ["Child", "Arn"]})) == ["Child"]


def test_reference_cycle_through_a_nested_stack_ends(nested):
    parent, child, _ = nested.stacks
    assert nested.targets(parent, {"Fn::GetAtt": ["Child", "Outputs.Loop"]}) == []
    assert nested.targets(child, {"Ref": "Loop"}) == []


def test_nested_parameter_literal_is_what_the_parent_passes(nested):
    child = nested.stacks[1]
    assert nested.literal(child, {"Ref": "Given"}) == "given-qa7"  # passed, not the child's default
    assert nested.literal(child, {"Ref": "Suffix"}) == "child-default"  # not passed: the default
    assert nested.literal(child, {"Ref": "TargetArn"}) is None  # passed a reference
    assert nested.literal(child, child.resources["ChildQueue"].properties["QueueName"]) == "child-child-default-given-qa7"


def test_import_value_across_top_level_stacks():
    assembly = Assembly.from_templates({
        "Producer": {
            "Parameters": {"Env": {"Type": "String", "Default": "qa7"}},
            "Resources": {"Queue": queue(), "Topic": {"Type": "AWS::SNS::Topic"}, "Table": {"Type": "AWS::DynamoDB::Table"}},
            "Outputs": {
                "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}, "Export": {"Name": "orders-queue-arn"}},
                "TopicArn": {"Value": {"Ref": "Topic"},
                             "Export": {"Name": {"Fn::Join": ["-", ["alerts", {"Ref": "Env"}]]}}},
                "TableName": {"Value": {"Ref": "Table"}, "Export": {"Name": {"Fn::Sub": "table-${Env}"}}},
                "ByStack": {"Value": {"Ref": "Queue"}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-q"}}},
                "NoExport": {"Value": {"Ref": "Queue"}},
                "BadExport": {"Value": {"Ref": "Queue"}, "Export": "orders"},
            },
        },
        "Consumer": {
            "Parameters": {"Env": {"Type": "String", "Default": "qa7"}},
            "Resources": {"Fn": {"Type": "AWS::Lambda::Function"}},
        },
    })
    producer, consumer = assembly.stacks
    assert set(assembly.exports) == {"orders-queue-arn", "alerts-qa7", "table-qa7"}
    assert assembly.exports["orders-queue-arn"] == (producer, {"Fn::GetAtt": ["Queue", "Arn"]})
    assert ids(assembly.targets(consumer, {"Fn::ImportValue": "orders-queue-arn"})) == ["Queue"]
    assert ids(assembly.targets(consumer, {"Fn::ImportValue": {"Fn::Sub": "alerts-${Env}"}})) == ["Topic"]
    assert ids(assembly.targets(consumer, {"Fn::ImportValue": {"Fn::Join": ["-", ["table", "qa7"]]}})) == ["Table"]
    assert assembly.targets(consumer, {"Fn::ImportValue": "unknown"}) == []
    assert assembly.targets(consumer, {"Fn::ImportValue": {"Fn::Sub": "${AWS::StackName}-q"}}) == []
    assert assembly.targets(consumer, {"Fn::ImportValue": {"Ref": "Fn"}}) == []


def test_import_value_cycle_ends():
    assembly = Assembly.from_templates({
        "A": {"Resources": {"Q": queue()},
              "Outputs": {"X": {"Value": {"Fn::ImportValue": "y"}, "Export": {"Name": "x"}}}},
        "B": {"Resources": {"Q": queue()},
              "Outputs": {"Y": {"Value": {"Fn::ImportValue": "x"}, "Export": {"Name": "y"}},
                          "Z": {"Value": {"Fn::ImportValue": "w"}, "Export": {"Name": "z"}}}},
        "C": {"Resources": {"Q": queue()},
              "Outputs": {"W": {"Value": {"Ref": "Q"}, "Export": {"Name": "w"}}}},
    })
    a, b, c = assembly.stacks
    assert assembly.targets(a, {"Fn::ImportValue": "x"}) == []
    # a chain of imports (B's z imports C's w) still resolves
    found = assembly.targets(a, {"Fn::ImportValue": "z"})
    assert found == [c.resources["Q"]]
