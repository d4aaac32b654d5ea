"""Helpers the alarm and alarm-action rules share: which alarms watch a resource, how, and whom they tell.

Which alarm watches which resource is the framework's relation:
:meth:`~checks.relations.Relations.alarm_watches` gives, for every watched
metric, the dimension that names the resource, the metric with its other
dimensions (ECS metrics need ``ClusterName`` next to ``ServiceName``, ELB
metrics ``LoadBalancer`` next to ``TargetGroup``) and whether the metric is
what the alarm compares with its threshold (``returned``). This module adds
what only the alarm rules need: which alarms count as the operator's (below),
which way an alarm fires, what reads an alarm's state (composite alarms,
CodeDeploy rollbacks) and the alarms of a stack.

Operator alarms: an alarm whose actions are all auto-scaling policies tells
no one; it adjusts capacity. The alarm rules (SG-ALM-*) do not count such an
alarm as the operator's alarm on a metric, because nothing else would notice
that the metric is watched only by automation: SG-ACT-002 leaves scaling
alarms out on purpose. Alarms with no actions at all, or with actions that do
not reach SNS, still count here: SG-ACT-001 and SG-ACT-002 report those on
the alarm itself, so the same gap is not reported twice.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from typing import Any, Iterable

from checks.assembly import Assembly, Resource, Stack
from checks.relations import AlarmWatch
from rules.rule import RuleContext
from rules.support.values import fmt, listing, number

METRIC_ALARM = "AWS::CloudWatch::Alarm"
COMPOSITE_ALARM = "AWS::CloudWatch::CompositeAlarm"
ALARM_TYPES = (METRIC_ALARM, COMPOSITE_ALARM)
SNS_TOPIC = "AWS::SNS::Topic"
SCALING_POLICY_TYPES = ("AWS::ApplicationAutoScaling::ScalingPolicy", "AWS::AutoScaling::ScalingPolicy")

# Which way an alarm fires.
UPPER = "upper"  # too high: errors, latency, backlog
LOWER = "lower"  # too low: running tasks
_UPPER_OPERATORS = {"GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "GreaterThanUpperThreshold"}
_LOWER_OPERATORS = {"LessThanThreshold", "LessThanOrEqualToThreshold", "LessThanLowerThreshold"}
_BAND_OPERATORS = {"GreaterThanUpperThreshold", "LessThanLowerThreshold", "LessThanLowerOrGreaterThanUpperThreshold"}

_ARN_PART = r"(?:\$\{[^}]*\}|[^:$])*"  # one ARN field, ${AWS::Partition}-style placeholders included
_SNS_ARN = re.compile(rf"^arn:{_ARN_PART}:sns:")
_SCALING_ARN = re.compile(rf"^arn:{_ARN_PART}:autoscaling:{_ARN_PART}:{_ARN_PART}:scalingPolicy:")
_ARN_SERVICE = re.compile(rf"^arn:{_ARN_PART}:([a-z0-9-]+):")
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
_RULE_STATE = re.compile(r"\b(?:ALARM|OK|INSUFFICIENT_DATA)\(\s*\"?([^\")]+?)\"?\s*\)")
_UNSEEN = "${?}"


# --- thresholds and directions -----------------------------------------------------------------


def threshold(ctx: RuleContext, alarm: Resource) -> float | None:
    return number(ctx, alarm.stack, alarm.properties.get("Threshold"))


def operator(alarm: Resource) -> str | None:
    value = alarm.properties.get("ComparisonOperator")
    return value if isinstance(value, str) else None


def fires(alarm: Resource, direction: str) -> bool:
    """Whether the alarm goes off when its metric moves in ``direction`` (anomaly bands count)."""
    op = operator(alarm)
    if op == "LessThanLowerOrGreaterThanUpperThreshold":
        return True
    return op in (_UPPER_OPERATORS if direction == UPPER else _LOWER_OPERATORS)


def is_band(alarm: Resource) -> bool:
    """An anomaly-detection alarm: its threshold is a band, not a number."""
    return operator(alarm) in _BAND_OPERATORS


def agree(items: list, one: str, many: str) -> str:
    """The verb form that agrees with how many items a message names."""
    return one if len(items) == 1 else many


# --- actions -----------------------------------------------------------------------------------

SNS, SCALING, OTHER, UNKNOWN = "sns", "scaling", "other", "unknown"


@dataclass(frozen=True)
class Action:
    """One AlarmActions entry: what kind it is and how to name it in a message."""

    kind: str  # SNS, SCALING, OTHER (something that is not a topic) or UNKNOWN (outside the assembly)
    label: str


def actions(ctx: RuleContext, alarm: Resource) -> list[Action]:
    """The alarm's ALARM-state actions, classified; empty when it has none or they are disabled."""
    if actions_disabled(ctx, alarm):
        return []
    values = alarm.properties.get("AlarmActions")
    if not isinstance(values, list):
        values = [] if values is None else [values]
    return [classify_action(ctx, alarm.stack, value) for value in values]


def actions_disabled(ctx: RuleContext, alarm: Resource) -> bool:
    value = alarm.properties.get("ActionsEnabled")
    return value is False or ctx.assembly.literal(alarm.stack, value) in ("false", "False")


def classify_action(ctx: RuleContext, stack: Stack, value: Any) -> Action:
    targets = ctx.relations.resolve(stack, value)
    for target in targets:
        if target.type == SNS_TOPIC:
            return Action(SNS, f"topic {target.logical_id}")
    for target in targets:
        if target.type in SCALING_POLICY_TYPES:
            return Action(SCALING, f"scaling policy {target.logical_id}")
    text = render(ctx.assembly, stack, value)
    if _SNS_ARN.match(text):
        return Action(SNS, text)
    if _SCALING_ARN.match(text):
        return Action(SCALING, text)
    if targets:
        target = targets[0]
        return Action(OTHER, f"{target.type} {target.logical_id}")
    if _ARN_SERVICE.match(text):
        return Action(OTHER, text)  # an ARN of another service: EC2 actions, SSM OpsItems, Lambda, ...
    if "{{resolve:" in text or _PLACEHOLDER.search(text):
        # a parameter without default, an export of another app, a dynamic reference: we cannot see it
        return Action(UNKNOWN, text)
    return Action(OTHER, text)


def render(assembly: Assembly, stack: Stack, value: Any, depth: int = 0) -> str:
    """A value as text, with ``${...}`` where it holds something that is not a literal."""
    if depth > 8:
        return _UNSEEN
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            literal = assembly.literal(stack, value)
            return literal if literal is not None else "${%s}" % arg
        if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
            return str(arg[0]).join(render(assembly, stack, part, depth + 1) for part in arg[1])
        if key == "Fn::Sub":
            if isinstance(arg, str):
                text, variables = arg, {}
            elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict):
                text, variables = arg
            else:
                return _UNSEEN
            return _PLACEHOLDER.sub(
                lambda m: render(assembly, stack, variables[m.group(0)[2:-1]], depth + 1)
                if m.group(0)[2:-1] in variables else m.group(0), text)
        if key == "Fn::ImportValue":
            name = assembly.literal(stack, arg)
            if name in assembly.exports:
                export_stack, export_value = assembly.exports[name]
                return render(assembly, export_stack, export_value, depth + 1)
    return _UNSEEN


def is_scaling_only(ctx: RuleContext, alarm: Resource) -> bool:
    """Every action is an auto-scaling policy: the alarm adjusts capacity and tells no one."""
    classified = actions(ctx, alarm)
    return bool(classified) and all(a.kind == SCALING for a in classified)


# --- the index ---------------------------------------------------------------------------------


@dataclass
class _Index:
    alarms_by_stack: dict[str, list[Resource]]
    consumed: dict[int, str]  # id(alarm) -> what reads its state instead of its own actions


_INDEXES: weakref.WeakKeyDictionary[Assembly, _Index] = weakref.WeakKeyDictionary()


def _index(ctx: RuleContext) -> _Index:
    index = _INDEXES.get(ctx.assembly)
    if index is None:
        index = _INDEXES[ctx.assembly] = _build(ctx)
    return index


def _build(ctx: RuleContext) -> _Index:
    assembly, relations = ctx.assembly, ctx.relations
    alarms_by_stack: dict[str, list[Resource]] = {}
    for alarm in assembly.resources(*ALARM_TYPES):
        alarms_by_stack.setdefault(alarm.stack.top_level.name, []).append(alarm)

    consumed: dict[int, str] = {}
    for composite in assembly.resources(COMPOSITE_ALARM):
        rule = composite.properties.get("AlarmRule")
        children = {id(r): r for r in assembly.targets(composite.stack, rule)}
        for child_name in _RULE_STATE.findall(render(assembly, composite.stack, rule)):
            if not _PLACEHOLDER.search(child_name):
                children.update({id(r): r for r in relations.resolve(composite.stack, child_name)})
        for child in children.values():
            if child.type in ALARM_TYPES:
                consumed.setdefault(id(child), f"composite alarm {composite.logical_id}")
    for group in assembly.resources("AWS::CodeDeploy::DeploymentGroup"):
        configuration = group.properties.get("AlarmConfiguration") or {}
        if not isinstance(configuration, dict) or configuration.get("Enabled") is False:
            continue
        for entry in configuration.get("Alarms") or []:
            for alarm in relations.resolve(group.stack, (entry or {}).get("Name")):
                if alarm.type in ALARM_TYPES:
                    consumed.setdefault(id(alarm), f"CodeDeploy deployment group {group.logical_id} (rollback)")
    return _Index(alarms_by_stack, consumed)


def watches(ctx: RuleContext, resource: Resource, metric_names: Iterable[str], namespaces: Iterable[str],
            dimension: str | None = None) -> list[AlarmWatch]:
    """Watches of ``resource`` through the named metrics (in one of ``namespaces``)."""
    names, spaces = set(metric_names), set(namespaces)
    return [
        w for w in ctx.relations.alarm_watches(resource)
        if w.metric.metric_name in names and w.metric.namespace in spaces
        and (dimension is None or w.dimension == dimension)
    ]


@dataclass
class Coverage:
    """The operator alarms on one metric of a resource, and why the others do not count."""

    metric: str
    counted: list[AlarmWatch]
    scaling_only: list[Resource]
    wrong_direction: list[Resource]

    def gap(self, direction: str) -> str:
        """The metric, with why the alarms found on it do not count: 'Duration (X only triggers auto-scaling)'."""
        reasons = []
        if self.scaling_only:
            names = [a.logical_id for a in self.scaling_only]
            reasons.append(f"{listing(names)} only {agree(names, 'triggers', 'trigger')} auto-scaling and "
                           f"{agree(names, 'notifies', 'notify')} no one")
        if self.wrong_direction:
            names = [a.logical_id for a in self.wrong_direction]
            way = "rises" if direction == UPPER else "drops"
            reasons.append(f"{listing(names)} {agree(names, 'does', 'do')} not fire when it {way}")
        return f"{self.metric} ({'; '.join(reasons)})" if reasons else self.metric


def coverage(ctx: RuleContext, resource: Resource, metric: str, namespaces: Iterable[str],
             direction: str = UPPER, dimension: str | None = None) -> Coverage:
    counted, scaling_only, wrong_direction = [], [], []
    for watch in watches(ctx, resource, [metric], namespaces, dimension):
        if is_scaling_only(ctx, watch.alarm):
            scaling_only.append(watch.alarm)
        elif not fires(watch.alarm, direction):
            wrong_direction.append(watch.alarm)
        else:
            counted.append(watch)
    return Coverage(metric, counted, _unique(scaling_only), _unique(wrong_direction))


def _unique(alarms: list[Resource]) -> list[Resource]:
    return list({id(a): a for a in alarms}.values())


def alarms_of_stack(ctx: RuleContext, stack: Stack) -> list[Resource]:
    """Every metric and composite alarm of a top-level stack and its nested stacks."""
    return _index(ctx).alarms_by_stack.get(stack.top_level.name, [])


def consumer_of(ctx: RuleContext, alarm: Resource) -> str | None:
    """What reads the alarm's state besides its actions: a composite alarm or a CodeDeploy rollback."""
    return _index(ctx).consumed.get(id(alarm))


def alarms_over_ceiling(ctx: RuleContext, found: Coverage, ceiling: float | None, unit: str = "") -> list[str] | None:
    """The counted alarms whose threshold is not below ``ceiling`` (a timeout, a reservation).

    None when some alarm warns in time, or when one cannot be judged: a band, an expression
    over the metric (another unit) or a threshold or ceiling that cannot be read is accepted.
    """
    late = []
    for watch in found.counted:
        limit = threshold(ctx, watch.alarm)
        if ceiling is None or limit is None or is_band(watch.alarm) or not watch.metric.returned:
            return None
        if limit < ceiling:
            return None
        late.append(f"{watch.alarm.logical_id} ({operator(watch.alarm)} {fmt(limit)}{unit})")
    return late
