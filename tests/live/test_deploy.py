"""Deploying cloud assemblies to LocalStack: assets, nested stacks, order, outputs, failures, teardown.

The fixture apps in fixtures/apps/ are small hand-written cloud assemblies (manifest, templates, asset
manifests) so each test knows exactly what is in them:
- nested_asset: a producer stack (a retained bucket, a nested stack with a queue, its DLQ and a function
  whose code is a zipped directory asset) and a consumer stack importing the producer's export; the
  manifest lists the consumer first.
- failing / failing_nested: a function whose code bucket does not exist, at the top or in a nested stack.
- not_emulated: a queue beside ECS, WAFv2 and a dashboard, and a docker image asset.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from checks.live import Endpoint, LiveError, LocalStackDied
from checks.live.deploy import (
    DeployedResource,
    DeployedStack,
    DeployError,
    Deployment,
    StackArtifact,
    TeardownError,
    _cleanup_after_failure,
    archive,
    deploy_assembly,
    deployed_name,
    deployment_order,
    live_template,
    not_created,
    read_manifest,
    teardown,
)
from checks.assembly import Assembly
from checks.live.not_emulated import EMULATED_TYPES, is_emulated, why_not_emulated

APPS = Path(__file__).resolve().parent / "fixtures" / "apps"
BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"


def stack_gone(aws, stack_id: str) -> bool:
    return aws("cloudformation").describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


def queues_named(aws, prefix: str) -> list[str]:
    return aws("sqs").list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])


# Without LocalStack


def test_manifest_order_puts_dependencies_first():
    names = [a.name for a in deployment_order(read_manifest(APPS / "nested_asset"))]
    assert names == ["LiveFixture-Producer", "LiveFixture-Consumer"]


def test_a_dependency_cycle_is_refused():
    first = StackArtifact("a", "A", Path("a"), ("b",), {}, {}, None, ())
    second = StackArtifact("b", "B", Path("b"), ("a",), {}, {}, None, ())
    with pytest.raises(DeployError, match="cycle: A -> B -> A"):
        deployment_order([first, second])


def test_nested_assemblies_are_read(tmp_path):
    stage = tmp_path / "assembly-Stage"
    shutil.copytree(APPS / "failing", stage)
    (tmp_path / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": {
        "Stage": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Stage"}}}}))
    assert [a.name for a in read_manifest(tmp_path)] == ["LiveFixture-Failing"]


def test_an_unreadable_manifest_says_what_to_give(tmp_path):
    with pytest.raises(DeployError, match="synthesized cloud assembly"):
        read_manifest(tmp_path)


def test_deploy_refuses_what_is_not_an_assembly(tmp_path):
    endpoint = Endpoint("http://127.0.0.1:9", "external")
    with pytest.raises(DeployError, match="does not exist"):
        deploy_assembly(tmp_path / "missing", endpoint)
    template = tmp_path / "one.template.json"
    template.write_text(json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))
    with pytest.raises(DeployError, match="needs cdk.out"):
        deploy_assembly(template, endpoint)


def test_a_file_is_its_own_archive_and_a_folder_is_zipped(tmp_path):
    import zipfile

    single = tmp_path / "code.zip"
    single.write_bytes(b"PK")
    assert archive(single, tmp_path) == single
    zipped = archive(APPS / "nested_asset" / "asset.handler", tmp_path)
    assert zipfile.ZipFile(zipped).namelist() == ["index.py"]


def test_resources_missing_from_a_complete_stack_are_named():
    assembly = Assembly.load(APPS / "nested_asset")
    (producer,) = [s for s in assembly.stacks if s.name == "LiveFixture-Producer"]
    missing = not_created(assembly, producer, [DeployedResource("Bucket", "AWS::S3::Bucket", "b")])
    assert [(f.path, f.status) for f in missing] == [("Work", "NOT_CREATED")]  # its resources are not listed too
    deployed = [DeployedResource(p, "?", "x") for p in ("Bucket", "Work", "Work/Dlq", "Work/Role", "Work/Function")]
    assert [f.path for f in not_created(assembly, producer, deployed)] == ["Work/Queue"]
    assert "LocalStack reported the stack complete" in str(not_created(assembly, producer, deployed)[0])


def test_retaining_policies_become_delete():
    template = {"Resources": {
        "Kept": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Snapshot"},
        "Plain": {"Type": "AWS::SQS::Queue"}}}
    deployed = live_template(template)
    assert deployed["Resources"]["Kept"] == {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Delete",
                                             "UpdateReplacePolicy": "Delete"}
    assert deployed["Resources"]["Plain"] == {"Type": "AWS::SQS::Queue"}
    assert template["Resources"]["Kept"]["DeletionPolicy"] == "Retain"  # the assembly's own stays as it was


def test_deployed_names_are_valid_unique_and_bounded():
    assert deployed_name("Shop-Orders", "a1b2c3") == "Shop-Orders-a1b2c3"
    assert deployed_name("Stage/Shop_Orders", "a1b2c3") == "Stage-Shop-Orders-a1b2c3"
    assert deployed_name("9lives", "a1b2c3") == "s-9lives-a1b2c3"
    long = deployed_name("x" * 200, "a1b2c3")
    assert len(long) == 128 and long.endswith("-a1b2c3")


def test_not_emulated_types_name_their_service():
    assert is_emulated("AWS::SQS::Queue") and is_emulated("Custom::LogRetention")
    assert why_not_emulated("AWS::SQS::Queue") is None
    assert "ECS is not in LocalStack 4.14.0" in why_not_emulated("AWS::ECS::Service")
    assert "Cloud Map" in why_not_emulated("AWS::ServiceDiscovery::Service")
    assert "no CloudFormation provider for AWS::CloudWatch::Dashboard" in why_not_emulated("AWS::CloudWatch::Dashboard")
    assert "stand-in address" in why_not_emulated("AWS::EC2::EIP")


@pytest.mark.live
def test_the_table_matches_the_embedded_localstack():
    """EMULATED_TYPES is exactly the set of CloudFormation resource providers LocalStack 4.14.0 registers."""
    from importlib.metadata import Distribution

    from checks.live.environment import ensure_environment

    python = ensure_environment()
    site = next(python.parent.parent.glob("lib/python3.*/site-packages"))
    distribution = Distribution.at(next(site.glob("localstack_core-*.dist-info")))
    providers = {ep.name for ep in distribution.entry_points
                 if ep.group == "localstack.cloudformation.resource_providers"}
    assert {t.lower() for t in EMULATED_TYPES} == providers


# Against LocalStack


@pytest.mark.live
def test_nested_stack_and_assets_deploy_in_order_with_outputs_then_teardown_leaves_nothing(localstack, aws, tmp_path):
    def buckets() -> set[str]:
        return {b["Name"] for b in aws("s3").list_buckets()["Buckets"]}

    before = buckets()
    lines: list[str] = []
    deployment = deploy_assembly(APPS / "nested_asset", localstack, progress=lines.append, outputs_dir=tmp_path)
    producer, consumer = deployment.stacks
    assert (producer.name, consumer.name) == ("LiveFixture-Producer", "LiveFixture-Consumer")
    assert producer.deployed_name == f"LiveFixture-Producer-{deployment.run_id}"
    assert producer.seconds > 0 and consumer.seconds > 0
    assert any(line.startswith("Deploying LiveFixture-Producer as") for line in lines)

    flat = json.loads((tmp_path / "cfn-outputs" / "flat-outputs.json").read_text())
    assert flat == deployment.outputs
    assert set(flat) == {"BucketName", "QueueUrl", "FunctionName", "ImportedParameter"}
    # Nested resources by the assembly's nested stack name, or by their path in the top-level stack.
    assert deployment.physical_id("LiveFixture-Producer/Work", "Queue") == flat["QueueUrl"]
    assert deployment.physical_id("LiveFixture-Producer", "Work/Queue") == flat["QueueUrl"]
    assert deployment.physical_id(producer.deployed_name, "Bucket") == flat["BucketName"]
    assert deployment.physical_id("LiveFixture-Producer", "Missing") is None
    assert deployment.physical_id("NoSuchStack", "Bucket") is None
    assert producer.nested_paths == ["Work"]
    assert producer.not_emulated == [] and producer.notes == []
    # The export reached the consumer; the zipped asset is the function's code and sees its parameter.
    imported = aws("ssm").get_parameter(Name=flat["ImportedParameter"])["Parameter"]["Value"]
    assert imported == flat["FunctionName"]
    answer = aws("lambda").invoke(FunctionName=flat["FunctionName"], Payload=b'{"ping": 1}')
    assert json.loads(answer["Payload"].read()) == {"bucket": flat["BucketName"], "event": {"ping": 1}}
    aws("s3").put_object(Bucket=flat["BucketName"], Key="left-behind.txt", Body=b"x")  # emptied by the teardown
    assert f"cdk-hnb659fds-assets-000000000000-{localstack.region}" in buckets()  # where the assets went

    ids = [s.stack_id for s in deployment.stacks]
    assert teardown(deployment) > 0
    assert all(stack_gone(aws, stack_id) for stack_id in ids)
    assert buckets() == before  # the bucket the template retains too; the bootstrap bucket if the run made it
    assert queues_named(aws, producer.deployed_name) == []
    assert deployment.stacks == [] and deployment.created_parameters == []


@pytest.mark.live
def test_a_deploy_failure_names_the_resource_and_its_reason_and_deletes_what_was_created(localstack, aws):
    with pytest.raises(DeployError) as raised:
        deploy_assembly(APPS / "failing", localstack)
    error = raised.value
    assert error.stack == "LiveFixture-Failing"
    assert [(f.path, f.resource_type, f.status) for f in error.failures] == [
        ("Broken", "AWS::Lambda::Function", "CREATE_FAILED")]
    assert "NoSuchBucket" in error.failures[0].reason
    assert "Broken (AWS::Lambda::Function) CREATE_FAILED" in str(error) and "NoSuchBucket" in str(error)
    deployment = error.deployment
    assert deployment.stacks == [] and deployment.created_parameters == []
    assert queues_named(aws, f"LiveFixture-Failing-{deployment.run_id}") == []


@pytest.mark.live
def test_a_failure_in_a_nested_stack_is_named_by_its_path(localstack, aws):
    with pytest.raises(DeployError) as raised:
        deploy_assembly(APPS / "failing_nested", localstack)
    failures = raised.value.failures
    assert [(f.path, f.resource_type) for f in failures] == [("Inner/Broken", "AWS::Lambda::Function")]
    assert "NoSuchBucket" in failures[0].reason
    assert queues_named(aws, f"LiveFixture-FailingNested-{raised.value.deployment.run_id}") == []


@pytest.mark.live
def test_keep_leaves_a_failed_stack_for_inspection(localstack, aws):
    with pytest.raises(DeployError) as raised:
        deploy_assembly(APPS / "failing", localstack, keep=True)
    deployment = raised.value.deployment
    (stack,) = deployment.stacks
    status = aws("cloudformation").describe_stacks(StackName=stack.stack_id)["Stacks"][0]["StackStatus"]
    assert status == "CREATE_FAILED"
    teardown(deployment)
    assert stack_gone(aws, stack.stack_id)


@pytest.mark.live
def test_resources_not_emulated_are_listed_and_docker_images_noted(localstack, aws):
    with deploy_assembly(APPS / "not_emulated", localstack) as deployment:
        (stack,) = deployment.stacks
        assert stack.not_emulated == [("Cluster", "AWS::ECS::Cluster"), ("Acl", "AWS::WAFv2::WebACL"),
                                      ("Dashboard", "AWS::CloudWatch::Dashboard"), ("Eip", "AWS::EC2::EIP")]
        generated, docker = stack.notes
        assert "file asset Generated is built by a command; not supported live" in generated
        assert "docker image asset Service/Image is not supported live" in docker
        bucket = f"cdk-hnb659fds-assets-000000000000-{localstack.region}"
        key = "e93f37cb4045fc83a32655a5057c8997d498d940246ca8f95a5f99890788efd9.json"
        assert aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == b'{"greeting": "hello"}\n'
        assert deployment.seconds >= stack.seconds
        # References to them are placeholders with an ARN's shape, so intrinsics over them work.
        prefix = f"arn:aws:ecs:{localstack.region}:000000000000:cluster/not-emulated/Cluster"
        assert stack.outputs["ClusterName"] == f"{prefix}/ref/0"
        assert stack.outputs["ClusterPart"] == f"Cluster|{prefix}/Arn/0"  # Fn::Select over Fn::Split, Fn::Sub
        # The Elastic IP a NAT gateway needs is a stand-in address, released by the teardown.
        (address,) = aws("ec2").describe_addresses(PublicIps=[stack.outputs["ElasticIp"]])["Addresses"]
        nat = aws("ec2").describe_nat_gateways(NatGatewayIds=[stack.outputs["NatGatewayId"]])["NatGateways"][0]
        assert nat["NatGatewayAddresses"][0]["AllocationId"] == address["AllocationId"]
        assert deployment.created_addresses == [address["AllocationId"]]
    assert deployment.stacks == [] and deployment.created_addresses == []
    remaining = {a["AllocationId"] for a in aws("ec2").describe_addresses()["Addresses"]}
    assert address["AllocationId"] not in remaining


def test_references_to_not_emulated_resources_become_placeholders():
    template = {"Resources": {
        "Cluster": {"Type": "AWS::ECS::Cluster"},
        "Eip": {"Type": "AWS::EC2::EIP"},
        "Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Fn::Join": ["", [
            {"Ref": "Cluster"}, {"Fn::GetAtt": "Cluster.Arn"}, {"Fn::GetAtt": ["Eip", "AllocationId"]},
            {"Fn::Sub": "${Cluster}/${Cluster.Arn}/${Eip}/${!Cluster}/${Param}"},
            {"Fn::Sub": ["${Cluster}-${X}", {"X": {"Ref": "Cluster"}}]}, {"Fn::Sub": {"not": "valid"}}]]}}},
    }, "Outputs": {"Name": {"Value": {"Ref": "Cluster"}}}}
    deployed = live_template(template, {"Eip": {"Ref": "192.0.2.1", "AllocationId": "eipalloc-1"}})
    arn = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/not-emulated/Cluster"
    parts = deployed["Resources"]["Param"]["Properties"]["Value"]["Fn::Join"][1]
    assert parts[:3] == [{"Fn::Sub": f"{arn}/ref/0"}, {"Fn::Sub": f"{arn}/Arn/0"}, {"Fn::Sub": "eipalloc-1"}]
    assert parts[3] == {"Fn::Sub": f"{arn}/ref/0/{arn}/Arn/0/192.0.2.1/${{!Cluster}}/${{Param}}"}
    assert parts[4] == {"Fn::Sub": [f"{arn}/ref/0-${{X}}", {"X": {"Fn::Sub": f"{arn}/ref/0"}}]}
    assert parts[5] == {"Fn::Sub": {"not": "valid"}}
    assert deployed["Outputs"]["Name"] == {"Value": {"Fn::Sub": f"{arn}/ref/0"}}


@pytest.mark.live
def test_a_stack_that_takes_too_long_times_out_and_is_deleted(localstack, aws):
    with pytest.raises(DeployError, match=r"still CREATE_IN_PROGRESS after 0 s") as raised:
        deploy_assembly(APPS / "nested_asset", localstack, timeout=0.0)
    assert raised.value.deployment.stacks == []


@pytest.mark.live
def test_a_teardown_problem_is_reported_with_what_is_left(localstack, aws, wait_for):
    deployment = deploy_assembly(APPS / "nested_asset", localstack)
    ids = [s.stack_id for s in deployment.stacks]
    # The producer (with its nested stack) takes a moment to delete; the consumer may already be gone.
    with pytest.raises(LiveError, match=r"Teardown left (stack LiveFixture-Consumer-\w+ .*, )?stack "
                                        r"LiveFixture-Producer-\w+ \(.*still DELETE_IN_PROGRESS.*delete them by hand"):
        teardown(deployment, timeout=0.0)  # no time to wait for the deletions
    assert deployment.stacks == []
    wait_for(lambda: all(stack_gone(aws, stack_id) for stack_id in ids), what="LocalStack to finish deleting")


@pytest.mark.live
def test_a_resource_left_by_the_deletion_is_reported(localstack, aws):
    """LocalStack ends DELETE_COMPLETE even when a resource could not be deleted (here a table with deletion
    protection): the teardown reads the events and names it."""
    deployment = deploy_assembly(APPS / "table", localstack)
    table = deployment.stacks[0].outputs["TableName"]
    dynamodb = aws("dynamodb")
    dynamodb.update_table(TableName=table, DeletionProtectionEnabled=True)
    try:
        with pytest.raises(LiveError, match=rf"Teardown left stack LiveFixture-Table-\w+ \(DELETE_COMPLETE: Table "
                                            rf"{table} \(AWS::DynamoDB::Table\) DELETE_FAILED"):
            teardown(deployment)
    finally:
        dynamodb.update_table(TableName=table, DeletionProtectionEnabled=False)
        dynamodb.delete_table(TableName=table)


@pytest.mark.live
def test_a_stack_name_already_taken_is_refused_by_cloudformation(localstack):
    first = deploy_assembly(APPS / "table", localstack, run_id="taken")
    try:
        with pytest.raises(DeployError, match=r"CloudFormation refused stack LiveFixture-Table: .*already exists"):
            deploy_assembly(APPS / "table", localstack, run_id="taken")
    finally:
        teardown(first)


@pytest.mark.live
@pytest.mark.parametrize("damage, message", [
    (lambda app: (app / "LiveFixture-Producer.assets.json").write_text("{"), "Cannot read the asset manifest"),
    (lambda app: shutil.rmtree(app / "asset.handler"), "Asset Work/Function/Code: .* does not exist"),
])
def test_a_broken_asset_is_a_deploy_error(localstack, tmp_path, damage, message):
    app = tmp_path / "app"
    shutil.copytree(APPS / "nested_asset", app)
    damage(app)
    with pytest.raises(DeployError, match=message):
        deploy_assembly(app, localstack)


@pytest.mark.live
def test_a_stack_that_no_longer_exists_is_reported_by_the_teardown(localstack):
    gone = DeployedStack("Gone", "Gone-000000", f"arn:aws:cloudformation:{localstack.region}:000000000000:stack/"
                                                "Gone-000000/00000000-0000-0000-0000-000000000000")
    deployment = Deployment(Assembly.load(APPS / "table"), localstack, "000000", APPS / "table", stacks=[gone])
    with pytest.raises(LiveError, match=r"Teardown left stack Gone-000000 \(DeleteStack: "):
        teardown(deployment)


@pytest.mark.live
def test_a_template_too_large_to_send_inline_goes_through_the_bucket(localstack, aws, tmp_path):
    app = tmp_path / "large"
    app.mkdir()
    template = {"Metadata": {"Padding": "x" * 60_000}, "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}}}
    (app / "Large.template.json").write_text(json.dumps(template))
    (app / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": {"Large": {
        "type": "aws:cloudformation:stack", "properties": {"templateFile": "Large.template.json"}}}}))
    checks: list[int] = []
    with deploy_assembly(app, localstack, alive=lambda: checks.append(1)) as deployment:
        (stack,) = deployment.stacks
        assert aws("sqs").get_queue_url(QueueName=stack.outputs["QueueUrl"].rsplit("/", 1)[1])
        bucket = f"cdk-hnb659fds-assets-000000000000-{localstack.region}"
        key = f"stackgrade-live/{deployment.run_id}/{stack.deployed_name}.json"
        assert len(aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()) > 60_000
    assert checks  # LocalStack's liveness was checked while waiting


@pytest.mark.live
def test_a_failed_clean_up_is_added_to_the_error(localstack):
    gone = DeployedStack("Gone", "Gone-000000", "arn:aws:cloudformation:us-east-1:000000000000:stack/Gone-000000/0")
    deployment = Deployment(Assembly.load(APPS / "table"), localstack, "000000", APPS / "table", stacks=[gone])
    error = DeployError("Stack Gone failed")
    _cleanup_after_failure(deployment, lambda _line: None, 5.0, error)
    assert str(error).startswith("Stack Gone failed\nCleaning up also failed: Teardown left stack Gone-000000")
    assert isinstance(error.cleanup_error, TeardownError)


def test_an_endpoint_that_stops_answering_is_a_clear_error():
    from checks.live.localstack import free_port

    dead = Endpoint(f"http://127.0.0.1:{free_port()}", "external")
    with pytest.raises(LocalStackDied, match="stopped answering"):
        deploy_assembly(APPS / "failing", dead)
