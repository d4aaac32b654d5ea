"""Relations between resources that rules ask about, each index built once per assembly.

Which queue is another's dead-letter queue, which alarms watch a resource (by
metric dimensions, metric math included), which topics an alarm notifies,
which sources feed a function, which log group a function writes to, which
stages belong to an API, who invokes a function asynchronously, and what the
outputs of a stack point at. Every index is a linear pass over the resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable

from checks.assembly import Assembly, Resource, Stack

# The property that holds a resource's explicit physical name, per type (one home).
NAME_PROPERTY: dict[str, str] = {
    "AWS::ApiGateway::RestApi": "Name",
    "AWS::ApiGatewayV2::Api": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::CompositeAlarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CodeDeploy::Application": "ApplicationName",
    "AWS::CodeDeploy::DeploymentGroup": "DeploymentGroupName",
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::ECS::Service": "ServiceName",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "Name",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::KMS::Alias": "AliasName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SSM::Parameter": "Name",
    "AWS::ServiceDiscovery::PrivateDnsNamespace": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::WAFv2::WebACL": "Name",
}

ASYNC_INVOKER_PRINCIPALS = {
    "sns.amazonaws.com": "SNS",
    "events.amazonaws.com": "EventBridge",
    "s3.amazonaws.com": "S3",
}


@dataclass(frozen=True)
class MetricUse:
    """An alarm watching a resource through one metric."""

    alarm: Resource
    namespace: str | None
    metric_name: str | None


@dataclass(frozen=True)
class EventSourceMapping:
    """An event source mapping with what it reads from and which function it invokes."""

    mapping: Resource
    source: Resource | None
    function: Resource | None


class Relations:
    """Lazily built indexes over one :class:`Assembly`."""

    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly

    # --- names ---------------------------------------------------------------------------------

    def physical_name(self, resource: Resource) -> str | None:
        """The resource's explicit name as a literal string, if it has one."""
        prop = NAME_PROPERTY.get(resource.type)
        return None if prop is None else self.assembly.literal(resource.stack, resource.properties.get(prop))

    @cached_property
    def _by_physical_name(self) -> dict[str, list[Resource]]:
        index: dict[str, list[Resource]] = {}
        for resource in self.assembly.resources(*NAME_PROPERTY):
            name = self.physical_name(resource)
            if name is not None:
                index.setdefault(name, []).append(resource)
        return index

    def resolve(self, stack: Stack, value: Any) -> list[Resource]:
        """Resources a value refers to: by reference, or by literal physical name."""
        found = self.assembly.targets(stack, value)
        literal = self.assembly.literal(stack, value)
        if literal is not None:
            found.extend(r for r in self._by_physical_name.get(literal, []) if r not in found)
        return found

    # --- functions -----------------------------------------------------------------------------

    def functions_in(self, stack: Stack, value: Any) -> list[Resource]:
        """The Lambda functions a value names, through aliases and versions."""
        functions: list[Resource] = []
        pending = self.resolve(stack, value)
        seen: set[int] = set()
        while pending:
            resource = pending.pop()
            if id(resource) in seen:
                continue
            seen.add(id(resource))
            if resource.type == "AWS::Lambda::Function":
                functions.append(resource)
            elif resource.type in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
                pending.extend(self.resolve(resource.stack, resource.properties.get("FunctionName")))
        return functions

    @cached_property
    def event_source_mappings(self) -> list[EventSourceMapping]:
        mappings = []
        for mapping in self.assembly.resources("AWS::Lambda::EventSourceMapping"):
            sources = self._stream_sources(self.resolve(mapping.stack, mapping.properties.get("EventSourceArn")))
            functions = self.functions_in(mapping.stack, mapping.properties.get("FunctionName"))
            mappings.append(EventSourceMapping(mapping, sources[0] if sources else None,
                                               functions[0] if functions else None))
        return mappings

    def _stream_sources(self, resources: list[Resource]) -> list[Resource]:
        """A Kinesis stream consumer stands for its stream."""
        result = []
        for resource in resources:
            if resource.type == "AWS::Kinesis::StreamConsumer":
                result.extend(self.resolve(resource.stack, resource.properties.get("StreamARN")))
            else:
                result.append(resource)
        return result

    def mappings_of_function(self, function: Resource) -> list[EventSourceMapping]:
        return [m for m in self.event_source_mappings if m.function is function]

    def mappings_of_source(self, source: Resource) -> list[EventSourceMapping]:
        return [m for m in self.event_source_mappings if m.source is source]

    @cached_property
    def function_log_groups(self) -> dict[int, Resource]:
        """id(function) -> the log group it writes to (LoggingConfig, or ``/aws/lambda/<name>``)."""
        index: dict[int, Resource] = {}
        for function in self.assembly.resources("AWS::Lambda::Function"):
            for group in self.resolve(function.stack, function.prop("LoggingConfig", "LogGroup")):
                if group.type == "AWS::Logs::LogGroup":
                    index[id(function)] = group
        for group in self.assembly.resources("AWS::Logs::LogGroup"):
            name_value = group.properties.get("LogGroupName")
            literal = self.assembly.literal(group.stack, name_value)
            if literal is not None and literal.startswith("/aws/lambda/"):
                owners = self._by_physical_name.get(literal.removeprefix("/aws/lambda/"), [])
            else:
                owners = self.assembly.targets(group.stack, name_value)
            for owner in owners:
                if owner.type == "AWS::Lambda::Function":
                    index.setdefault(id(owner), group)
        return index

    def log_group_of(self, function: Resource) -> Resource | None:
        return self.function_log_groups.get(id(function))

    @cached_property
    def async_invokers(self) -> dict[int, list[tuple[str, Resource]]]:
        """id(function) -> (kind, resource) for each SNS, EventBridge or S3 source that invokes it."""
        index: dict[int, list[tuple[str, Resource]]] = {}

        def add(functions: Iterable[Resource], kind: str, source: Resource) -> None:
            for function in functions:
                index.setdefault(id(function), []).append((kind, source))

        for permission in self.assembly.resources("AWS::Lambda::Permission"):
            principal = self.assembly.literal(permission.stack, permission.properties.get("Principal"))
            if principal in ASYNC_INVOKER_PRINCIPALS:
                add(self.functions_in(permission.stack, permission.properties.get("FunctionName")),
                    ASYNC_INVOKER_PRINCIPALS[principal], permission)
        for subscription in self.assembly.resources("AWS::SNS::Subscription"):
            if subscription.properties.get("Protocol") == "lambda":
                add(self.functions_in(subscription.stack, subscription.properties.get("Endpoint")), "SNS", subscription)
        for rule in self.assembly.resources("AWS::Events::Rule"):
            for target in rule.properties.get("Targets") or []:
                add(self.functions_in(rule.stack, target.get("Arn")), "EventBridge", rule)
        return index

    def invokers_of(self, function: Resource) -> list[tuple[str, Resource]]:
        return self.async_invokers.get(id(function), [])

    @cached_property
    def invoke_configs(self) -> dict[int, Resource]:
        """id(function) -> its AWS::Lambda::EventInvokeConfig."""
        index: dict[int, Resource] = {}
        for config in self.assembly.resources("AWS::Lambda::EventInvokeConfig"):
            for function in self.functions_in(config.stack, config.properties.get("FunctionName")):
                index[id(function)] = config
        return index

    # --- queues --------------------------------------------------------------------------------

    @cached_property
    def redrive_targets(self) -> dict[int, Resource]:
        """id(queue) -> the DLQ its redrive policy names."""
        index: dict[int, Resource] = {}
        for queue in self.assembly.resources("AWS::SQS::Queue"):
            for target in self.resolve(queue.stack, queue.prop("RedrivePolicy", "deadLetterTargetArn")):
                if target.type == "AWS::SQS::Queue":
                    index[id(queue)] = target
        return index

    def dlq_of(self, queue: Resource) -> Resource | None:
        return self.redrive_targets.get(id(queue))

    @cached_property
    def dead_letter_uses(self) -> dict[int, list[Resource]]:
        """id(queue) -> every resource that sends failures to it (queues, subscriptions, functions, ...)."""
        index: dict[int, list[Resource]] = {}

        def add(owner: Resource, value: Any) -> None:
            for target in self.resolve(owner.stack, value):
                if target.type == "AWS::SQS::Queue":
                    index.setdefault(id(target), []).append(owner)

        for queue in self.assembly.resources("AWS::SQS::Queue"):
            add(queue, queue.prop("RedrivePolicy", "deadLetterTargetArn"))
        for subscription in self.assembly.resources("AWS::SNS::Subscription"):
            add(subscription, subscription.prop("RedrivePolicy", "deadLetterTargetArn"))
        for function in self.assembly.resources("AWS::Lambda::Function"):
            add(function, function.prop("DeadLetterConfig", "TargetArn"))
        for owner in self.assembly.resources("AWS::Lambda::EventInvokeConfig", "AWS::Lambda::EventSourceMapping"):
            add(owner, owner.prop("DestinationConfig", "OnFailure", "Destination"))
        for rule in self.assembly.resources("AWS::Events::Rule"):
            for target in rule.properties.get("Targets") or []:
                add(rule, (target.get("DeadLetterConfig") or {}).get("Arn"))
        return index

    def is_dead_letter_queue(self, queue: Resource) -> bool:
        return id(queue) in self.dead_letter_uses

    def redrive_sources(self, dlq: Resource) -> list[Resource]:
        """The queues whose redrive policy sends to ``dlq``."""
        return [q for q in self.dead_letter_uses.get(id(dlq), []) if q.type == "AWS::SQS::Queue"]

    # --- alarms --------------------------------------------------------------------------------

    @cached_property
    def _alarm_index(self) -> dict[int, list[MetricUse]]:
        index: dict[int, list[MetricUse]] = {}
        for alarm in self.assembly.resources("AWS::CloudWatch::Alarm"):
            for namespace, metric_name, dimensions in _alarm_metrics(alarm):
                watched: dict[int, Resource] = {}
                for dimension in dimensions:
                    for resource in self._stream_sources(self.resolve(alarm.stack, dimension.get("Value"))):
                        watched[id(resource)] = resource
                for resource in watched.values():
                    index.setdefault(id(resource), []).append(MetricUse(alarm, namespace, metric_name))
        return index

    def alarms_on(self, resource: Resource) -> list[MetricUse]:
        """Alarms whose metric dimensions point at ``resource``."""
        return self._alarm_index.get(id(resource), [])

    def alarm_metric_names(self, resource: Resource) -> set[str]:
        return {use.metric_name for use in self.alarms_on(resource) if use.metric_name}

    def alarm_action_targets(self, alarm: Resource) -> list[Resource]:
        """What an alarm's ALARM-state actions point at (topics, scaling policies, ...)."""
        return self.resolve(alarm.stack, alarm.properties.get("AlarmActions"))

    # --- APIs ----------------------------------------------------------------------------------

    @cached_property
    def stages_by_api(self) -> dict[int, list[Resource]]:
        index: dict[int, list[Resource]] = {}
        for stage in self.assembly.resources("AWS::ApiGateway::Stage"):
            for api in self.assembly.targets(stage.stack, stage.properties.get("RestApiId")):
                index.setdefault(id(api), []).append(stage)
        return index

    def stages_of(self, api: Resource) -> list[Resource]:
        return self.stages_by_api.get(id(api), [])

    @cached_property
    def web_acl_protected(self) -> set[int]:
        """ids of the resources (stages, APIs) a WAFv2 web ACL is associated with."""
        protected: set[int] = set()
        for association in self.assembly.resources("AWS::WAFv2::WebACLAssociation"):
            for resource in self.assembly.targets(association.stack, association.properties.get("ResourceArn")):
                protected.add(id(resource))
        return protected

    # --- outputs -------------------------------------------------------------------------------

    @cached_property
    def output_targets(self) -> dict[str, set[int]]:
        """Top-level stack name -> ids of the resources its outputs (and its nested stacks') point at."""
        index: dict[str, set[int]] = {}
        for stack in self.assembly.stacks:
            targets = index.setdefault(stack.top_level.name, set())
            for output in stack.outputs.values():
                targets.update(id(r) for r in self.assembly.targets(stack, output.get("Value")))
        return index

    def is_output(self, resource: Resource) -> bool:
        return id(resource) in self.output_targets.get(resource.stack.top_level.name, set())


def _alarm_metrics(alarm: Resource) -> list[tuple[str | None, str | None, list[dict]]]:
    """(namespace, metric name, dimensions) of an alarm's metric, or of each metric in its math."""
    props = alarm.properties
    metrics = []
    if props.get("MetricName") is not None:
        metrics.append((props.get("Namespace"), props.get("MetricName"), props.get("Dimensions") or []))
    for query in props.get("Metrics") or []:
        metric = ((query or {}).get("MetricStat") or {}).get("Metric") or {}
        if metric:
            metrics.append((metric.get("Namespace"), metric.get("MetricName"), metric.get("Dimensions") or []))
    return [(ns, name if isinstance(name, str) else None, [d for d in dims if isinstance(d, dict)])
            for ns, name, dims in metrics]
