"""Helpers the dead-letter, event-source and retry rules share.

Redrive policies (an object or a JSON string), what kind of
source an event source mapping reads from (by the resource it refers to, or
by the service in a literal or joined ARN), and indexes the framework's
:class:`~checks.relations.Relations` does not keep: the consumers of each
queue, every EventInvokeConfig of a function (with its qualifier), and the
mapping behind each AWS::Lambda::EventSourceMapping resource. Each index is
one linear pass, built once per assembly.
"""

from __future__ import annotations

import json
import re
import weakref
from dataclasses import dataclass, field
from typing import Any

from checks.assembly import Assembly, Resource, Stack
from checks.relations import EventSourceMapping
from rules.rule import RuleContext
from rules.support.values import flag, number

# The default retention of an SQS queue without MessageRetentionPeriod: 4 days.
SQS_DEFAULT_RETENTION_SECONDS = 4 * 24 * 3600
LATEST = "$LATEST"

_ARN_SERVICE = re.compile(r"^arn:[^:]*:([a-z0-9-]+):")
_SUB_VARIABLE = re.compile(r"\$\{[^}]*\}")
_SOURCE_KINDS = {
    "AWS::SQS::Queue": "sqs",
    "AWS::Kinesis::Stream": "kinesis",
    "AWS::Kinesis::StreamConsumer": "kinesis",
    "AWS::DynamoDB::Table": "dynamodb",
    "AWS::DynamoDB::GlobalTable": "dynamodb",
    "AWS::MSK::Cluster": "kafka",
    "AWS::AmazonMQ::Broker": "mq",
}
_LABELS = {
    "AWS::Events::Rule": "EventBridge rule",
    "AWS::SNS::Topic": "SNS topic",
    "AWS::SNS::Subscription": "SNS subscription",
    "AWS::S3::Bucket": "S3 bucket",
    "AWS::SQS::Queue": "queue",
    "AWS::Lambda::Function": "function",
    "AWS::Lambda::Alias": "alias",
    "AWS::Lambda::Permission": "permission",
}


# --- rendering values ----------------------------------------------------------------------------


def render(value: Any, placeholder: str) -> str | None:
    """A string value with every intrinsic it cannot resolve replaced by ``placeholder``.

    ``Fn::Join`` parts are joined, ``Fn::Sub`` variables replaced; any other
    intrinsic (Ref, GetAtt, ImportValue, ...) becomes ``placeholder``. None when
    ``value`` is not a string-like value at all (a list, a number).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
            parts = [render(part, placeholder) for part in arg[1]]
            return str(arg[0]).join(placeholder if p is None else p for p in parts)
        if key == "Fn::Sub":
            text = arg[0] if isinstance(arg, list) and arg else arg
            if isinstance(text, str):
                return _SUB_VARIABLE.sub(placeholder, text)
        return placeholder
    return None


def label(resource: Resource) -> str:
    """``EventBridge rule OrdersRule``: a resource as a message names it."""
    kind = _LABELS.get(resource.type)
    return f"{kind} {resource.logical_id}" if kind else resource.logical_id


# --- queues ------------------------------------------------------------------------------------


def redrive_policy(queue: Resource) -> dict | None:
    """A queue's or subscription's RedrivePolicy as a dict (CloudFormation also takes a JSON string)."""
    policy = queue.properties.get("RedrivePolicy")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError:
            return None
    return policy if isinstance(policy, dict) and policy else None


def retention_seconds(ctx: RuleContext, queue: Resource) -> float | None:
    """MessageRetentionPeriod in seconds (4 days when absent), None when it is not a literal."""
    value = queue.properties.get("MessageRetentionPeriod")
    if value is None:
        return float(SQS_DEFAULT_RETENTION_SECONDS)
    return number(ctx, queue.stack, value)


def is_fifo(ctx: RuleContext, queue: Resource) -> bool:
    name = ctx.relations.physical_name(queue) or ""
    return flag(ctx, queue.stack, queue.properties.get("FifoQueue")) is True or name.endswith(".fifo")


def has_on_failure(resource: Resource) -> bool:
    """DestinationConfig.OnFailure.Destination is set (EventInvokeConfig, EventSourceMapping)."""
    return bool(resource.prop("DestinationConfig", "OnFailure", "Destination"))


# --- event source mappings ---------------------------------------------------------------------


def mapping_of(ctx: RuleContext, resource: Resource) -> EventSourceMapping:
    """The framework's view (source, function) of one AWS::Lambda::EventSourceMapping."""
    return _index(ctx).mappings[id(resource)]


def source_kind(ctx: RuleContext, mapping: EventSourceMapping) -> str | None:
    """``sqs``, ``kinesis``, ``dynamodb``, ``kafka``, ``mq``, ... or None when nothing tells."""
    if mapping.source is not None and mapping.source.type in _SOURCE_KINDS:
        return _SOURCE_KINDS[mapping.source.type]
    props = mapping.mapping.properties
    arn = render(props.get("EventSourceArn"), "x")
    match = _ARN_SERVICE.match(arn or "")
    if match:
        return {"rds": "docdb"}.get(match.group(1), match.group(1))
    if props.get("SelfManagedEventSource") is not None:
        return "kafka"
    return None


def describe_mapping(mapping: EventSourceMapping) -> str:
    """``from OrderQueue to OrderProcessor``, as far as both ends are known."""
    source = f" from {mapping.source.logical_id}" if mapping.source is not None else ""
    function = f" to {mapping.function.logical_id}" if mapping.function is not None else ""
    return f"mapping{source}{function}"


def consumers_of(ctx: RuleContext, queue: Resource) -> list[EventSourceMapping]:
    """The event source mappings that read ``queue`` (with the function each invokes)."""
    return _index(ctx).consumers.get(id(queue), [])


# --- asynchronous invocation -------------------------------------------------------------------


@dataclass(frozen=True)
class InvokeConfig:
    """An AWS::Lambda::EventInvokeConfig and the qualifier it configures (None when unknown)."""

    config: Resource
    qualifier: str | None


@dataclass(frozen=True)
class AsyncInvocation:
    """Who invokes a function asynchronously, and which qualifier (None: cannot tell)."""

    invoker: str
    qualifier: str | None


def invoke_configs(ctx: RuleContext, function: Resource) -> list[InvokeConfig]:
    """Every EventInvokeConfig of ``function`` ($LATEST, aliases, versions)."""
    return _index(ctx).invoke_configs.get(id(function), [])


def async_invocations(ctx: RuleContext, function: Resource) -> list[AsyncInvocation]:
    """The asynchronous invokers of ``function`` (``Relations.invokers_of``) with the qualifier each calls.

    A Lambda permission is named by the rule, topic or bucket it allows (its
    SourceArn), so a rule and the permission CDK adds for it count once.
    """
    found: dict[tuple[str, str | None], AsyncInvocation] = {}
    relations = ctx.relations
    for kind, source in relations.invokers_of(function):
        if source.type == "AWS::Lambda::Permission":
            invoked = [source.properties.get("FunctionName")]
            owners = relations.resolve(source.stack, source.properties.get("SourceArn"))
            name = label(owners[0]) if owners else f"{kind} ({label(source)})"
        elif source.type == "AWS::SNS::Subscription":
            invoked = [source.properties.get("Endpoint")]
            topics = relations.resolve(source.stack, source.properties.get("TopicArn"))
            name = label(topics[0]) if topics else label(source)
        else:  # AWS::Events::Rule: invokers_of yields only permissions, subscriptions and rules
            invoked = [t.get("Arn") for t in source.properties.get("Targets") or [] if isinstance(t, dict)
                       and any(f is function for f in relations.functions_in(source.stack, t.get("Arn")))]
            name = label(source)
        for value in invoked:
            qualifier = _qualifier_invoked(ctx, source.stack, value, function)
            found.setdefault((name, qualifier), AsyncInvocation(name, qualifier))
    return list(found.values())


def _qualifier_invoked(ctx: RuleContext, stack: Stack, value: Any, function: Resource) -> str | None:
    """``$LATEST`` for a plain reference to the function, an alias's name, or None (cannot tell)."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt"):
        for target in ctx.relations.resolve(stack, value):
            if target is function:
                return LATEST
            if target.type == "AWS::Lambda::Alias":
                return ctx.assembly.literal(target.stack, target.properties.get("Name"))
    literal = ctx.assembly.literal(stack, value)
    if literal is not None and ":" not in literal:
        return LATEST  # a plain function name
    return None


def _config_qualifier(ctx: RuleContext, config: Resource) -> str | None:
    value = config.properties.get("Qualifier")
    literal = ctx.assembly.literal(config.stack, value)
    if literal is not None:
        return literal
    for target in ctx.relations.resolve(config.stack, value):
        if target.type == "AWS::Lambda::Alias":
            return ctx.assembly.literal(target.stack, target.properties.get("Name"))
    return None


# --- the index ---------------------------------------------------------------------------------


@dataclass
class _Index:
    mappings: dict[int, EventSourceMapping] = field(default_factory=dict)
    consumers: dict[int, list[EventSourceMapping]] = field(default_factory=dict)
    invoke_configs: dict[int, list[InvokeConfig]] = field(default_factory=dict)


_INDEXES: weakref.WeakKeyDictionary[Assembly, _Index] = weakref.WeakKeyDictionary()


def _index(ctx: RuleContext) -> _Index:
    index = _INDEXES.get(ctx.assembly)
    if index is None:
        index = _INDEXES[ctx.assembly] = _build(ctx)
    return index


def _build(ctx: RuleContext) -> _Index:
    index = _Index()
    for mapping in ctx.relations.event_source_mappings:
        index.mappings[id(mapping.mapping)] = mapping
        if mapping.source is not None:
            index.consumers.setdefault(id(mapping.source), []).append(mapping)
    for config in ctx.assembly.resources("AWS::Lambda::EventInvokeConfig"):
        entry = InvokeConfig(config, _config_qualifier(ctx, config))
        for function in ctx.relations.functions_in(config.stack, config.properties.get("FunctionName")):
            index.invoke_configs.setdefault(id(function), []).append(entry)
    return index
