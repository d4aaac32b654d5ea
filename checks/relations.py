"""Relations between resources that rules ask about, each index built once per assembly.

Which queue is another's dead-letter queue, which alarms watch a resource (by
metric dimensions, metric math included: alarm X watches resource R through
metric M via dimension D), which topics an alarm notifies,
which sources feed a function, which log group a function writes to, which
stages belong to an API, who invokes a function asynchronously, and what the
outputs of a stack point at. Every index is a linear pass over the resources.
"""

from __future__ import annotations

import json
import re
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

# CloudWatch metric dimensions whose value is a resource's name: a literal name in one of them
# only matches resources of these types (a queue and a table may well share a name).
DIMENSION_TYPES: dict[str, tuple[str, ...]] = {
    "ApiName": ("AWS::ApiGateway::RestApi",),
    "BucketName": ("AWS::S3::Bucket",),
    "ClusterName": ("AWS::ECS::Cluster",),
    "EventBusName": ("AWS::Events::EventBus",),
    "FunctionName": ("AWS::Lambda::Function",),
    "LogGroupName": ("AWS::Logs::LogGroup",),
    "QueueName": ("AWS::SQS::Queue",),
    "RuleName": ("AWS::Events::Rule",),
    "ServiceName": ("AWS::ECS::Service",),
    "StreamName": ("AWS::Kinesis::Stream",),
    "TableName": ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"),
    "TopicName": ("AWS::SNS::Topic",),
    "WebACL": ("AWS::WAFv2::WebACL",),
}

LAMBDA_LOG_GROUP_PREFIX = "/aws/lambda/"
_SUB_ONE_REFERENCE = re.compile(r"^\$\{([^!}][^}]*)\}$")

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
class AlarmMetric:
    """One metric an alarm reads: its own metric, or one ``MetricStat`` query of its metric math."""

    alarm: Resource
    namespace: str | None
    metric_name: str | None
    dimensions: tuple[tuple[str, Any], ...]
    returned: bool  # the alarm compares this metric itself (not an expression over it) with Threshold

    def dimension(self, name: str) -> Any:
        return next((value for key, value in self.dimensions if key == name), None)

    def has_dimension(self, name: str) -> bool:
        return any(key == name for key, _ in self.dimensions)


@dataclass(frozen=True)
class AlarmWatch:
    """Alarm ``alarm`` watches a resource through ``metric``, whose dimension ``dimension`` names the resource."""

    metric: AlarmMetric
    dimension: str

    @property
    def alarm(self) -> Resource:
        return self.metric.alarm


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

    def resolve(self, stack: Stack, value: Any, *, name_types: Iterable[str] | None = None) -> list[Resource]:
        """Resources a value refers to: by reference, or by literal physical name.

        ``name_types`` narrows the physical-name matches (not the references) to those types.
        """
        found = self.assembly.targets(stack, value)
        literal = self.assembly.literal(stack, value)
        if literal is not None:
            allowed = None if name_types is None else set(name_types)
            found.extend(r for r in self._by_physical_name.get(literal, [])
                         if r not in found and (allowed is None or r.type in allowed))
        return found

    # --- functions -----------------------------------------------------------------------------

    def functions_in(self, stack: Stack, value: Any) -> list[Resource]:
        """The Lambda functions a value names, through aliases and versions."""
        functions: list[Resource] = []
        pending = self.resolve(stack, value)
        seen: set[int] = set()
        while pending:
            resource = pending.pop(0)
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

    @cached_property
    def _mappings_by_function(self) -> dict[int, list[EventSourceMapping]]:
        index: dict[int, list[EventSourceMapping]] = {}
        for mapping in self.event_source_mappings:
            if mapping.function is not None:
                index.setdefault(id(mapping.function), []).append(mapping)
        return index

    @cached_property
    def _mappings_by_source(self) -> dict[int, list[EventSourceMapping]]:
        index: dict[int, list[EventSourceMapping]] = {}
        for mapping in self.event_source_mappings:
            if mapping.source is not None:
                index.setdefault(id(mapping.source), []).append(mapping)
        return index

    def mappings_of_function(self, function: Resource) -> list[EventSourceMapping]:
        return self._mappings_by_function.get(id(function), [])

    def mappings_of_source(self, source: Resource) -> list[EventSourceMapping]:
        return self._mappings_by_source.get(id(source), [])

    @cached_property
    def function_log_groups(self) -> dict[int, Resource]:
        """id(function) -> the log group it writes to (LoggingConfig, or ``/aws/lambda/<name>``)."""
        index: dict[int, Resource] = {}
        custom: set[int] = set()  # functions with LoggingConfig.LogGroup: they never write to the default group
        for function in self.assembly.resources("AWS::Lambda::Function"):
            configured = function.prop("LoggingConfig", "LogGroup")
            if configured is None:
                continue
            custom.add(id(function))
            for group in self.resolve(function.stack, configured, name_types=("AWS::Logs::LogGroup",)):
                if group.type == "AWS::Logs::LogGroup":
                    index[id(function)] = group
                    break
        for group in self.assembly.resources("AWS::Logs::LogGroup"):
            for owner in self._lambda_log_group_owners(group):
                if owner.type == "AWS::Lambda::Function" and id(owner) not in custom:
                    index.setdefault(id(owner), group)
        return index

    def _lambda_log_group_owners(self, group: Resource) -> list[Resource]:
        """The functions whose default group ``/aws/lambda/<function name>`` ``group`` is."""
        name_value = group.properties.get("LogGroupName")
        literal = self.assembly.literal(group.stack, name_value)
        if literal is not None:
            if not literal.startswith(LAMBDA_LOG_GROUP_PREFIX):
                return []
            return self._by_physical_name.get(literal.removeprefix(LAMBDA_LOG_GROUP_PREFIX), [])
        function_name = _after_literal_prefix(self.assembly, group.stack, name_value, LAMBDA_LOG_GROUP_PREFIX)
        # Only a whole name: "/aws/lambda/${Fn}-audit" is some other group.
        if not (isinstance(function_name, dict) and len(function_name) == 1
                and next(iter(function_name)) in ("Ref", "Fn::GetAtt", "Fn::ImportValue")):
            return []
        return self.assembly.targets(group.stack, function_name)

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
            for target in _rule_targets(rule):
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
            for target in _rule_targets(rule):
                dead_letter = target.get("DeadLetterConfig")
                add(rule, dead_letter.get("Arn") if isinstance(dead_letter, dict) else None)
        return index

    def is_dead_letter_queue(self, queue: Resource) -> bool:
        return id(queue) in self.dead_letter_uses

    def redrive_sources(self, dlq: Resource) -> list[Resource]:
        """The queues whose redrive policy sends to ``dlq``."""
        return [q for q in self.dead_letter_uses.get(id(dlq), []) if q.type == "AWS::SQS::Queue"]

    # --- alarms --------------------------------------------------------------------------------

    @cached_property
    def _named_by_expression(self) -> dict[tuple[int, str], list[Resource]]:
        """(id(stack), expression) -> the resources of that stack named by that expression (not a literal)."""
        index: dict[tuple[int, str], list[Resource]] = {}
        for resource in self.assembly.resources(*NAME_PROPERTY):
            name = resource.properties.get(NAME_PROPERTY[resource.type])
            if isinstance(name, dict) and self.assembly.literal(resource.stack, name) is None:
                index.setdefault((id(resource.stack), _canonical(name)), []).append(resource)
        return index

    @cached_property
    def _alarm_watches(self) -> dict[int, list[AlarmWatch]]:
        index: dict[int, list[AlarmWatch]] = {}
        for alarm in self.assembly.resources("AWS::CloudWatch::Alarm"):
            for metric in alarm_metrics(alarm):
                for name, value in metric.dimensions:
                    name_types = DIMENSION_TYPES.get(name)
                    resolved = self.resolve(alarm.stack, value, name_types=name_types)
                    found = {id(r): r for r in self._stream_sources(resolved)}
                    if isinstance(value, dict):
                        # the same expression as a resource's name property in the same stack names it
                        for resource in self._named_by_expression.get((id(alarm.stack), _canonical(value)), []):
                            if name_types is None or resource.type in name_types:
                                found.setdefault(id(resource), resource)
                    for resource in found.values():
                        index.setdefault(id(resource), []).append(AlarmWatch(metric, name))
        return index

    def alarm_watches(self, resource: Resource) -> list[AlarmWatch]:
        """Every (alarm metric, dimension) that names ``resource``: one per dimension that names it."""
        return self._alarm_watches.get(id(resource), [])

    def alarms_on(self, resource: Resource) -> list[MetricUse]:
        """Alarms whose metric dimensions point at ``resource``: one per metric, however many dimensions name it."""
        uses: dict[int, MetricUse] = {}
        for watch in self.alarm_watches(resource):
            metric = watch.metric
            uses.setdefault(id(metric), MetricUse(metric.alarm, metric.namespace, metric.metric_name))
        return list(uses.values())

    def alarm_metric_names(self, resource: Resource) -> set[str]:
        return {use.metric_name for use in self.alarms_on(resource) if use.metric_name}

    def alarm_action_targets(self, alarm: Resource) -> list[Resource]:
        """What an alarm's ALARM-state actions point at (topics, scaling policies, ...)."""
        return self.resolve(alarm.stack, alarm.properties.get("AlarmActions"))

    # --- APIs ----------------------------------------------------------------------------------

    @cached_property
    def stages_by_api(self) -> dict[int, list[Resource]]:
        index: dict[int, list[Resource]] = {}
        for stage in self.assembly.resources("AWS::ApiGateway::Stage", "AWS::ApiGatewayV2::Stage"):
            api_id = stage.properties.get("RestApiId" if stage.type == "AWS::ApiGateway::Stage" else "ApiId")
            for api in self.assembly.targets(stage.stack, api_id):
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
        for distribution in self.assembly.resources("AWS::CloudFront::Distribution"):
            if distribution.prop("DistributionConfig", "WebACLId") not in (None, ""):
                protected.add(id(distribution))
        return protected

    # --- outputs -------------------------------------------------------------------------------

    @cached_property
    def output_targets(self) -> dict[str, set[int]]:
        """Top-level stack name -> ids of the resources its own outputs point at (through nested outputs).

        Outputs of nested stacks that the parent does not surface are CDK's cross-stack plumbing:
        ``cdk deploy`` does not print them and integration tests do not read them.
        """
        index: dict[str, set[int]] = {}
        for stack in self.assembly.stacks:
            if stack.nested:
                continue
            targets = index.setdefault(stack.name, set())
            for output in stack.outputs.values():
                targets.update(id(r) for r in self.assembly.targets(stack, output.get("Value")))
        return index

    def is_output(self, resource: Resource) -> bool:
        return id(resource) in self.output_targets.get(resource.stack.top_level.name, set())


def alarm_metrics(alarm: Resource) -> list[AlarmMetric]:
    """The metric an alarm reads, or each ``MetricStat`` metric of its metric math."""
    props = alarm.properties
    metrics = []
    if props.get("MetricName") is not None:
        metrics.append(_alarm_metric(alarm, props, True))
    queries = props.get("Metrics")
    for query in queries if isinstance(queries, list) else []:
        stat = query.get("MetricStat") if isinstance(query, dict) else None
        metric = stat.get("Metric") if isinstance(stat, dict) else None
        if isinstance(metric, dict) and metric:
            metrics.append(_alarm_metric(alarm, metric, query.get("ReturnData") is not False))
    return metrics


def _alarm_metric(alarm: Resource, source: dict, returned: bool) -> AlarmMetric:
    namespace, name, dimensions = source.get("Namespace"), source.get("MetricName"), source.get("Dimensions")
    return AlarmMetric(
        alarm,
        namespace if isinstance(namespace, str) else None,
        name if isinstance(name, str) else None,
        tuple((d["Name"], d.get("Value")) for d in dimensions
              if isinstance(d, dict) and isinstance(d.get("Name"), str)) if isinstance(dimensions, list) else (),
        returned,
    )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _rule_targets(rule: Resource) -> list[dict]:
    targets = rule.properties.get("Targets")
    return [t for t in targets if isinstance(t, dict)] if isinstance(targets, list) else []


def _after_literal_prefix(assembly: Assembly, stack: Stack, value: Any, prefix: str) -> Any:
    """The one reference that follows literal ``prefix`` in a Join or Sub (``/aws/lambda/${Fn}``), else None."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (key, arg), = value.items()
    if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) \
            and isinstance(arg[1], list) and arg[1]:
        head = [assembly.literal(stack, part) for part in arg[1][:-1]]
        if all(part is not None for part in head) and arg[0].join([*head, ""]) == prefix:  # type: ignore[list-item]
            return arg[1][-1]
        return None
    if key == "Fn::Sub":
        text, variables = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
        if not isinstance(text, str) or not text.startswith(prefix):
            return None
        match = _SUB_ONE_REFERENCE.match(text.removeprefix(prefix))
        if match is None:
            return None
        reference = match.group(1)
        if isinstance(variables, dict) and reference in variables:
            return variables[reference]
        logical_id, _, attribute = reference.partition(".")
        return {"Fn::GetAtt": [logical_id, attribute]} if attribute else {"Ref": logical_id}
    return None
