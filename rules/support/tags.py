"""Which resources take tags, in which property and format, and which tags a resource ends up with.

CloudFormation writes tags two ways: a list of ``{Key, Value}`` (most types) or
a map ``{key: value}`` (SSM parameters, HTTP APIs, Cognito user pools, ...);
a few types use their own property (``FileSystemTags``, ``UserPoolTags``) and
global tables tag each replica. A resource also receives the tags of its stack:
CloudFormation propagates the top-level stack's tags (``Stack(tags=...)`` and
``cdk deploy --tags`` land in the assembly manifest, not in the template) and a
nested stack resource's ``Tags`` to every resource it creates.
"""

from __future__ import annotations

import json
import weakref
from typing import Any

from checks.assembly import NESTED_STACK_TYPE, Assembly, Resource, Stack

LIST = "list"
MAP = "map"
REPLICAS = "replicas"

# Taggable types we check: type -> (tags property, format). Common serverless, container and data types.
TAGGABLE: dict[str, tuple[str, str]] = {
    # serverless
    "AWS::Lambda::Function": ("Tags", LIST),
    "AWS::Lambda::EventSourceMapping": ("Tags", LIST),
    "AWS::SQS::Queue": ("Tags", LIST),
    "AWS::SNS::Topic": ("Tags", LIST),
    "AWS::StepFunctions::StateMachine": ("Tags", LIST),
    "AWS::StepFunctions::Activity": ("Tags", LIST),
    "AWS::Events::EventBus": ("Tags", LIST),
    "AWS::Events::Rule": ("Tags", LIST),
    "AWS::Pipes::Pipe": ("Tags", MAP),
    "AWS::ApiGateway::RestApi": ("Tags", LIST),
    "AWS::ApiGateway::Stage": ("Tags", LIST),
    "AWS::ApiGateway::ApiKey": ("Tags", LIST),
    "AWS::ApiGateway::UsagePlan": ("Tags", LIST),
    "AWS::ApiGateway::DomainName": ("Tags", LIST),
    "AWS::ApiGatewayV2::Api": ("Tags", MAP),
    "AWS::ApiGatewayV2::Stage": ("Tags", MAP),
    "AWS::AppSync::GraphQLApi": ("Tags", LIST),
    "AWS::Cognito::UserPool": ("UserPoolTags", MAP),
    "AWS::WAFv2::WebACL": ("Tags", LIST),
    "AWS::CodeDeploy::Application": ("Tags", LIST),
    "AWS::CodeDeploy::DeploymentGroup": ("Tags", LIST),
    # observability and configuration
    "AWS::Logs::LogGroup": ("Tags", LIST),
    "AWS::CloudWatch::Alarm": ("Tags", LIST),
    "AWS::CloudWatch::CompositeAlarm": ("Tags", LIST),
    "AWS::CloudWatch::Dashboard": ("Tags", LIST),
    "AWS::SSM::Parameter": ("Tags", MAP),
    "AWS::SecretsManager::Secret": ("Tags", LIST),
    "AWS::KMS::Key": ("Tags", LIST),
    "AWS::IAM::Role": ("Tags", LIST),
    "AWS::CloudFormation::Stack": ("Tags", LIST),
    # containers and network
    "AWS::ECS::Cluster": ("Tags", LIST),
    "AWS::ECS::Service": ("Tags", LIST),
    "AWS::ECS::TaskDefinition": ("Tags", LIST),
    "AWS::ECR::Repository": ("Tags", LIST),
    "AWS::EKS::Cluster": ("Tags", LIST),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ("Tags", LIST),
    "AWS::ElasticLoadBalancingV2::TargetGroup": ("Tags", LIST),
    "AWS::ServiceDiscovery::PrivateDnsNamespace": ("Tags", LIST),
    "AWS::ServiceDiscovery::Service": ("Tags", LIST),
    "AWS::EC2::VPC": ("Tags", LIST),
    "AWS::EC2::NatGateway": ("Tags", LIST),
    "AWS::EC2::Instance": ("Tags", LIST),
    # data
    "AWS::DynamoDB::Table": ("Tags", LIST),
    "AWS::DynamoDB::GlobalTable": ("Replicas", REPLICAS),
    "AWS::S3::Bucket": ("Tags", LIST),
    "AWS::Kinesis::Stream": ("Tags", LIST),
    "AWS::Kinesis::StreamConsumer": ("Tags", LIST),
    "AWS::KinesisFirehose::DeliveryStream": ("Tags", LIST),
    "AWS::RDS::DBInstance": ("Tags", LIST),
    "AWS::RDS::DBCluster": ("Tags", LIST),
    "AWS::EFS::FileSystem": ("FileSystemTags", LIST),
    "AWS::ElastiCache::ReplicationGroup": ("Tags", LIST),
    "AWS::OpenSearchService::Domain": ("Tags", LIST),
    "AWS::MSK::Cluster": ("Tags", MAP),
}


def tag_keys(resource: Resource) -> set[str]:
    """The literal tag keys set on the resource itself (both branches of an ``Fn::If`` count)."""
    prop, kind = TAGGABLE[resource.type]
    value = resource.properties.get(prop)
    if kind == REPLICAS:
        # Replicas is required (at least one); every replica is a table that must carry the tag
        keys = [_list_keys(r.get("Tags")) for r in value if isinstance(r, dict)]
        return set.intersection(*keys)
    return _map_keys(value) if kind == MAP else _list_keys(value)


def _list_keys(value: Any) -> set[str]:
    keys: set[str] = set()
    if isinstance(value, list):
        for item in value:
            keys |= _list_keys(item)
    elif isinstance(value, dict):
        if isinstance(value.get("Key"), str):
            keys.add(value["Key"])
        elif len(value) == 1 and next(iter(value)) == "Fn::If":
            keys |= _list_keys(next(iter(value.values()))[1:])
    return keys


def _map_keys(value: Any) -> set[str]:
    if not isinstance(value, dict):
        return set()
    if len(value) == 1 and next(iter(value)) == "Fn::If":
        branches = next(iter(value.values()))
        return set().union(*(_map_keys(b) for b in branches[1:])) if isinstance(branches, list) else set()
    return {k for k in value if isinstance(k, str) and not k.startswith("Fn::")}


_inherited: weakref.WeakKeyDictionary[Assembly, dict[int, frozenset[str]]] = weakref.WeakKeyDictionary()


def inherited_tag_keys(assembly: Assembly, stack: Stack) -> frozenset[str]:
    """Tag keys CloudFormation propagates to the stack's resources (stack tags, nested stack tags)."""
    index = _inherited.get(assembly)
    if index is None:
        index = _inherited[assembly] = _build_inherited(assembly)
    return index.get(id(stack), frozenset())


def _build_inherited(assembly: Assembly) -> dict[int, frozenset[str]]:
    manifests: dict[Any, dict] = {}
    index: dict[int, frozenset[str]] = {}
    for stack in assembly.stacks:  # parents come before their nested stacks
        if stack.parent is None:
            index[id(stack)] = frozenset(_manifest_stack_tags(stack, manifests))
        else:
            nested = stack.parent.resources.get(stack.parent_resource_id or "")
            own = _list_keys(nested.properties.get("Tags")) if nested and nested.type == NESTED_STACK_TYPE else set()
            index[id(stack)] = index.get(id(stack.parent), frozenset()) | own
    return index


def _manifest_stack_tags(stack: Stack, manifests: dict[Any, dict]) -> set[str]:
    """The stack's tags from the cloud assembly manifest (empty for a lone template)."""
    if stack.path is None:
        return set()
    manifest_path = stack.path.parent / "manifest.json"
    if manifest_path not in manifests:
        try:
            manifests[manifest_path] = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            manifests[manifest_path] = {}
    for artifact in (manifests[manifest_path].get("artifacts") or {}).values():
        properties = artifact.get("properties") or {}
        if artifact.get("type") == "aws:cloudformation:stack" and properties.get("templateFile") == stack.path.name:
            tags = properties.get("tags") or {}
            return {k for k in tags if isinstance(k, str)} if isinstance(tags, dict) else set()
    return set()
