"""Reliability rules against mutations of the ideal reference stacks.

The quality bar (design.md): every rule passes on the ideal reference stacks and
SOME MUTATION of them fails it. Each row of :data:`MUTATIONS` is a change a
careless pull request could make to one ideal assembly: a redrive policy
deleted, an alarm removed or pointed at the wrong thing, a timeout raised
without the queue or alarm that depends on it, a Retry dropped from a Task
state. The test copies the synthesized assembly, applies the edit to the
template on disk, evaluates only that rule and checks that (a) the rule applies
to the unmutated assembly and passes there, and (b) after the edit exactly the
expected logical IDs offend.

Resources are found by a property that carries the test suffix (QueueName,
FunctionName, AlarmName, ...) or, for resources without a name, by their CDK
construct path or what they connect; logical IDs are never hard-coded.

Rules covered: SG-DLQ-001..006, SG-ESM-001..004, SG-SFN-001, SG-ALM-001..009,
SG-ACT-001..003, SG-BAK-001, SG-RMV-001, SG-CMP-001, SG-CMP-002. Every one of
them has at least one mutation that fails it; none needs configuration.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from checks.own_rules import STACK_SUBJECT
from tests.conftest import TEST_SUFFIX
from tests.rules.mutation_harness import RULES, TOP, assembly_file, rule_verdict


RULE_IDS = (
    *(f"SG-DLQ-00{n}" for n in range(1, 7)),
    *(f"SG-ESM-00{n}" for n in range(1, 5)),
    "SG-SFN-001",
    *(f"SG-ALM-00{n}" for n in range(1, 10)),
    *(f"SG-ACT-00{n}" for n in range(1, 4)),
    "SG-BAK-001",
    "SG-RMV-001",
    "SG-CMP-001",
    "SG-CMP-002",
)


def q(name: str) -> str:
    """A physical name as the reference stacks give it: ``<name>-<suffix>``."""
    return f"{name}-{TEST_SUFFIX}"


# --- locating resources -----------------------------------------------------------------------

Resources = dict[str, dict]


@dataclass(frozen=True)
class Locator:
    """Finds the logical ID of one resource in a template's Resources by something stable."""

    describe: str
    match: Callable[[Resources], list[str]]

    def __str__(self) -> str:
        return self.describe


def named(name: str) -> Locator:
    """The resource whose ``*Name`` property (QueueName, AlarmName, Name, ...) is ``name``."""

    def match(resources: Resources) -> list[str]:
        return [lid for lid, r in resources.items()
                if any(k.endswith("Name") and v == name for k, v in (r.get("Properties") or {}).items())]

    return Locator(name, match)


def at_path(suffix: str) -> Locator:
    """The resource whose CDK construct path ends with ``/<suffix>`` (for resources without a name)."""

    def match(resources: Resources) -> list[str]:
        return [lid for lid, r in resources.items()
                if str((r.get("Metadata") or {}).get("aws:cdk:path", "")).endswith(f"/{suffix}")]

    return Locator(suffix, match)


def _refers_to(value: Any, logical_id: str) -> bool:
    return value in ({"Ref": logical_id}, {"Fn::GetAtt": [logical_id, "Arn"]})


def _connector(kind: str, link: str, target: Locator, extra: tuple[str, Locator] | None = None) -> Locator:
    """The ``kind`` resource whose ``link`` property refers to ``target`` (and ``extra``'s to its target)."""

    def match(resources: Resources) -> list[str]:
        wanted = target.match(resources)
        also = extra[1].match(resources) if extra else []
        return [lid for lid, r in resources.items() if r["Type"] == kind
                and any(_refers_to(r["Properties"].get(link), w) for w in wanted)
                and (extra is None or any(_refers_to(r["Properties"].get(extra[0]), a) for a in also))]

    return Locator(f"{kind.split('::')[-1]} of {target}", match)


def mapping_of(function: str, queue: str | None = None) -> Locator:
    """The event source mapping of function ``function`` (reading queue ``queue``, when given)."""
    extra = ("EventSourceArn", named(queue)) if queue else None
    return _connector("AWS::Lambda::EventSourceMapping", "FunctionName", named(function), extra)


def invoke_config_of(function: str) -> Locator:
    return _connector("AWS::Lambda::EventInvokeConfig", "FunctionName", named(function))


def subscription_to(endpoint: str) -> Locator:
    return _connector("AWS::SNS::Subscription", "Endpoint", named(endpoint))


def only(locator: Locator, resources: Resources) -> str:
    found = locator.match(resources)
    assert len(found) == 1, f"{locator} matches {found or 'nothing'}"
    return found[0]


# --- edits ------------------------------------------------------------------------------------

Edit = Callable[[dict], None]  # edits one resource's dict (Type, Properties, DeletionPolicy, ...) in place
REMOVE: Edit = lambda resource: None  # noqa: E731 - marker: delete the resource from the template


def unset(*path: str) -> Edit:
    """Delete ``Properties.<path>``."""

    def edit(resource: dict) -> None:
        node = resource["Properties"]
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]

    return edit


def put(value: Any, *path: str) -> Edit:
    """Set ``Properties.<path>`` to ``value``."""

    def edit(resource: dict) -> None:
        node = resource["Properties"]
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return edit


def unset_policies(resource: dict) -> None:
    """An L1 construct without ``apply_removal_policy``: no DeletionPolicy, no UpdateReplacePolicy."""
    resource.pop("DeletionPolicy")
    resource.pop("UpdateReplacePolicy", None)


def dimension(name: str, value: Any) -> Edit:
    """Set the value of an alarm's metric dimension ``name``."""

    def edit(resource: dict) -> None:
        dimensions = resource["Properties"]["Dimensions"]
        matching = [d for d in dimensions if d["Name"] == name]
        assert matching, f"alarm has no {name} dimension"
        matching[0]["Value"] = value

    return edit


def drop_dimension(name: str) -> Edit:
    def edit(resource: dict) -> None:
        dimensions = resource["Properties"]["Dimensions"]
        kept = [d for d in dimensions if d["Name"] != name]
        assert len(kept) < len(dimensions), f"alarm has no {name} dimension"
        resource["Properties"]["Dimensions"] = kept

    return edit


def target_group_by_arn(resource: dict) -> None:
    """The classic slip: the target group's ARN (Ref) as TargetGroup dimension instead of its full name."""
    for d in resource["Properties"]["Dimensions"]:
        if d["Name"] == "TargetGroup":
            logical_id, attribute = d["Value"]["Fn::GetAtt"]
            assert attribute == "TargetGroupFullName"
            d["Value"] = {"Ref": logical_id}


def without_dlq(resource: dict) -> None:
    """Every target of an EventBridge rule loses its DeadLetterConfig."""
    for target in resource["Properties"]["Targets"]:
        del target["DeadLetterConfig"]


def drop_state_field(state: str, field: str) -> Edit:
    """Remove ``Retry`` or ``Catch`` from Task state ``state`` of a state machine's DefinitionString.

    The definition is an ``Fn::Join`` of string pieces and intrinsics; the state's own fields
    sit in one string piece, before its ``"Type"``.
    """

    def edit(resource: dict) -> None:
        pieces = resource["Properties"]["DefinitionString"]["Fn::Join"][1]
        for index, piece in enumerate(pieces):
            if isinstance(piece, str) and f'"{state}":{{' in piece:
                break
        else:
            raise AssertionError(f"no state {state} in the definition")
        start = piece.index(f'"{state}":{{')
        at = piece.index(f'"{field}":[', start)
        assert at < piece.index('"Type":', start), f"{field} of {state} is not where it was expected"
        depth, end = 0, at + len(f'"{field}":')
        for end in range(end, len(piece)):
            depth += {"[": 1, "]": -1}.get(piece[end], 0)
            if depth == 0:
                break
        end += 1
        if piece[end] == ",":
            end += 1
        pieces[index] = piece[:at] + piece[end:]
        json.loads("".join(p if isinstance(p, str) else "x" for p in pieces))  # still valid JSON

    return edit


# Template-wide edits (the mutation touches more than one resource).

def without_alert_topic(topic: str) -> Callable[[dict], None]:
    """Delete the alert topic and every alarm action that pointed at it (the wiring, not the alarms)."""

    def edit(template: dict) -> None:
        resources = template["Resources"]
        topic_id = only(named(topic), resources)
        del resources[topic_id]
        for resource in resources.values():
            if resource["Type"] == "AWS::CloudWatch::Alarm":
                props = resource["Properties"]
                actions = [a for a in props.get("AlarmActions", []) if a != {"Ref": topic_id}]
                if actions:
                    props["AlarmActions"] = actions
                else:
                    props.pop("AlarmActions", None)

    return edit


def without_alarms(*alarm_names: str) -> Callable[[dict], None]:
    def edit(template: dict) -> None:
        for name in alarm_names:
            del template["Resources"][only(named(name), template["Resources"])]

    return edit


def actions_to_function(alarm: str, function: str) -> Callable[[dict], None]:
    """The alarm's only action becomes invoking a Lambda function (CloudWatch can), not its SNS topic."""

    def edit(template: dict) -> None:
        resources = template["Resources"]
        function_id = only(named(function), resources)
        resources[only(named(alarm), resources)]["Properties"]["AlarmActions"] = [
            {"Fn::GetAtt": [function_id, "Arn"]}]

    return edit


def inline_subscription(topic: str, endpoint: str) -> Callable[[dict], None]:
    """Replace the lambda subscription resource (with its redrive policy) by the topic's inline Subscription."""

    def edit(template: dict) -> None:
        resources = template["Resources"]
        del resources[only(subscription_to(endpoint), resources)]
        function_id = only(named(endpoint), resources)
        resources[only(named(topic), resources)]["Properties"]["Subscription"] = [
            {"Endpoint": {"Fn::GetAtt": [function_id, "Arn"]}, "Protocol": "lambda"}]

    return edit


# --- the table --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mutation:
    rule_id: str
    system: str
    template: str  # "top", or a glob matching one nested template of the assembly
    target: Locator | None  # the resource edited; None: ``edit`` takes the whole template
    edit: Callable[[dict], None]
    offenders: tuple[Locator | str, ...]  # located in any template of the assembly; STACK_SUBJECT for a stack
    what: str

    @property
    def id(self) -> str:
        return f"{self.rule_id}-{self.system}-{self.what}"


def m(rule_id: str, system: str, template: str, target: Locator | None, edit: Callable[[dict], None],
      what: str, offenders: tuple[Locator | str, ...] | None = None) -> Mutation:
    """A mutation; by default the edited resource is the one offender."""
    if offenders is None:
        assert target is not None
        offenders = (target,)
    return Mutation(rule_id, system, template, target, edit, offenders, what)


WEBHOOK, FARGATE, PAYMENTS, ORDERS, PATTERNS = (
    "webhook_pipeline", "order_processing_fargate", "payments_dr", "order_pipeline", "pattern_detection")
COMPUTE, DATA, ORCHESTRATION, MONITORING = (
    f"*{part}*.nested.template.json" for part in ("Compute", "Data", "Orchestration", "Monitoring"))

MUTATIONS: tuple[Mutation, ...] = (
    # SG-DLQ-001: queues have a dead-letter queue.
    # The orphaned DLQ is then an ordinary queue without a DLQ of its own: it offends too.
    m("SG-DLQ-001", PAYMENTS, TOP, named(q("payment-queue")), unset("RedrivePolicy"), "PaymentQueue-no-redrive",
      offenders=(named(q("payment-queue")), named(q("payment-dlq")))),
    # PendingApprovalsDLQ stays a DLQ (the SNS subscription's), so only the queue offends.
    m("SG-DLQ-001", PATTERNS, DATA, named(q("PendingApprovals")), unset("RedrivePolicy"),
      "PendingApprovals-no-redrive"),
    m("SG-DLQ-001", WEBHOOK, TOP, named(q("webhook-standard")), unset("RedrivePolicy"), "StandardQueue-no-redrive",
      offenders=(named(q("webhook-standard")), named(q("webhook-standard-dlq")))),

    # SG-DLQ-002: bounded maxReceiveCount.
    m("SG-DLQ-002", ORDERS, TOP, named(q("order-queue")), put(100, "RedrivePolicy", "maxReceiveCount"),
      "OrderQueue-maxReceiveCount-100"),
    m("SG-DLQ-002", FARGATE, TOP, named(q("order-queue")), unset("RedrivePolicy", "maxReceiveCount"),
      "OrderQueue-no-maxReceiveCount"),

    # SG-DLQ-003: DLQ retention.
    m("SG-DLQ-003", PAYMENTS, TOP, named(q("payment-dlq")), unset("MessageRetentionPeriod"),
      "PaymentDLQ-default-retention"),
    m("SG-DLQ-003", PATTERNS, ORCHESTRATION, named(q("PatternEventTargetDLQ")),
      put(345600, "MessageRetentionPeriod"), "EventTargetDLQ-4-days"),

    # SG-DLQ-004: async functions keep failed events.
    m("SG-DLQ-004", PAYMENTS, TOP, invoke_config_of(q("failover-orchestrator")), unset("DestinationConfig"),
      "FailoverOrchestrator-no-on-failure", offenders=(named(q("failover-orchestrator")),)),
    m("SG-DLQ-004", PATTERNS, COMPUTE, invoke_config_of(q("ThresholdChecker")), REMOVE,
      "ThresholdChecker-no-invoke-config", offenders=(named(q("ThresholdChecker")),)),

    # SG-DLQ-005: EventBridge targets have a DLQ.
    m("SG-DLQ-005", PATTERNS, ORCHESTRATION, named(q("threshold-check")), without_dlq, "ThresholdCheckRule"),
    m("SG-DLQ-005", PATTERNS, ORCHESTRATION, named(q("pattern-analysis-trigger")), without_dlq,
      "PatternAnalysisTriggerRule"),

    # SG-DLQ-006: SNS subscriptions to SQS and Lambda have a DLQ.
    m("SG-DLQ-006", PATTERNS, DATA, subscription_to(q("PendingApprovals")), unset("RedrivePolicy"),
      "PendingApprovals-subscription-no-redrive"),
    m("SG-DLQ-006", PAYMENTS, TOP, subscription_to(q("failover-orchestrator")), unset("RedrivePolicy"),
      "FailoverOrchestrator-subscription-no-redrive"),
    m("SG-DLQ-006", PAYMENTS, TOP, None, inline_subscription(q("payment-ops-alerts"), q("failover-orchestrator")),
      "OpsAlertTopic-inline-subscription", offenders=(named(q("payment-ops-alerts")),)),

    # SG-ESM-001: SQS mappings report batch item failures.
    m("SG-ESM-001", ORDERS, TOP, mapping_of(q("order-processor")), unset("FunctionResponseTypes"),
      "OrderProcessor-mapping"),
    m("SG-ESM-001", WEBHOOK, TOP, mapping_of(q("webhook-processor"), q("webhook-priority")),
      unset("FunctionResponseTypes"), "Processor-priority-mapping"),

    # SG-ESM-002: SQS mappings set batch size and window.
    m("SG-ESM-002", PAYMENTS, TOP, mapping_of(q("payment-processor")), unset("MaximumBatchingWindowInSeconds"),
      "PaymentProcessor-mapping-no-window"),
    m("SG-ESM-002", PATTERNS, COMPUTE, mapping_of(q("AlertProcessor")), unset("BatchSize"),
      "AlertProcessor-mapping-no-batch-size"),

    # SG-ESM-003: visibility timeout covers the consumers' timeout.
    m("SG-ESM-003", ORDERS, TOP, named(q("order-queue")), unset("VisibilityTimeout"), "OrderQueue-default-visibility"),
    # The processor's timeout raised without its two queues' visibility timeouts: both queues offend.
    m("SG-ESM-003", WEBHOOK, TOP, named(q("webhook-processor")), put(60, "Timeout"), "Processor-timeout-raised",
      offenders=(named(q("webhook-priority")), named(q("webhook-standard")))),
    m("SG-ESM-003", PATTERNS, DATA, named(q("AlertQueue")), put(60, "VisibilityTimeout"), "AlertQueue-visibility-60"),

    # SG-ESM-004: stream mappings bisect, cap retries and keep failures.
    m("SG-ESM-004", PATTERNS, COMPUTE, mapping_of(q("KinesisConsumer")), put(-1, "MaximumRetryAttempts"),
      "KinesisConsumer-mapping-infinite-retries"),
    m("SG-ESM-004", PATTERNS, COMPUTE, mapping_of(q("KinesisConsumer")), unset("BisectBatchOnFunctionError"),
      "KinesisConsumer-mapping-no-bisect"),
    m("SG-ESM-004", PATTERNS, COMPUTE, mapping_of(q("KinesisConsumer")), unset("DestinationConfig"),
      "KinesisConsumer-mapping-no-on-failure"),

    # SG-SFN-001: Task states retry and catch (top level, Parallel branches, Map iterators).
    m("SG-SFN-001", PATTERNS, ORCHESTRATION, named(q("PatternAnalysisWorkflow")),
      drop_state_field("ConfidenceScoring", "Catch"), "PatternAnalysisWorkflow-task-without-catch"),
    m("SG-SFN-001", PATTERNS, ORCHESTRATION, named(q("PatternAnalysisWorkflow")),
      drop_state_field("Detect-double-top", "Retry"), "PatternAnalysisWorkflow-parallel-branch-without-retry"),
    m("SG-SFN-001", PATTERNS, ORCHESTRATION, named(q("PowerTuningWorkflow")),
      drop_state_field("Benchmark", "Retry"), "PowerTuningWorkflow-map-task-without-retry"),

    # SG-ALM-001: functions have error and throttle alarms.
    m("SG-ALM-001", PATTERNS, COMPUTE, named(q("KinesisConsumer-errors")), REMOVE,
      "KinesisConsumer-errors-alarm-removed", offenders=(named(q("KinesisConsumer")),)),
    m("SG-ALM-001", WEBHOOK, TOP, named(q("webhook-receiver-throttles")), REMOVE, "Receiver-throttles-alarm-removed",
      offenders=(named(q("webhook-receiver")),)),
    m("SG-ALM-001", ORDERS, TOP, named(q("order-processor-errors")), put("LessThanThreshold", "ComparisonOperator"),
      "OrderProcessor-errors-alarm-wrong-direction", offenders=(named(q("order-processor")),)),

    # SG-ALM-002: duration alarm below the timeout.
    # The timeout lowered to 20 s, the alarm left at 24 000 ms.
    m("SG-ALM-002", PAYMENTS, TOP, named(q("payment-validator")), put(20, "Timeout"),
      "PaymentValidator-timeout-lowered"),
    m("SG-ALM-002", WEBHOOK, TOP, named(q("webhook-notifier-duration")), REMOVE, "Notifier-duration-alarm-removed",
      offenders=(named(q("webhook-notifier")),)),

    # SG-ALM-003: concurrency alarm below the reservation.
    # The reservation lowered to 50, the alarm left at 80.
    m("SG-ALM-003", ORDERS, TOP, named(q("order-processor")), put(50, "ReservedConcurrentExecutions"),
      "OrderProcessor-reservation-lowered"),
    m("SG-ALM-003", PATTERNS, COMPUTE, named(q("AlertProcessor-concurrency")), REMOVE,
      "AlertProcessor-concurrency-alarm-removed", offenders=(named(q("AlertProcessor")),)),

    # SG-ALM-004: source queues have age and depth alarms.
    # Only the auto-scaling alarm still watches the depth: it notifies no one.
    m("SG-ALM-004", FARGATE, TOP, named(q("order-queue-depth-high")), REMOVE, "OrderQueue-depth-alarm-removed",
      offenders=(named(q("order-queue")),)),
    m("SG-ALM-004", PAYMENTS, TOP, named(q("payment-queue-age")), REMOVE, "PaymentQueue-age-alarm-removed",
      offenders=(named(q("payment-queue")),)),
    m("SG-ALM-004", PATTERNS, MONITORING, named(q("AlertQueue-age")), put("LessThanThreshold", "ComparisonOperator"),
      "AlertQueue-age-alarm-wrong-direction", offenders=(named(q("AlertQueue")),)),

    # SG-ALM-005: DLQs alarm on their first message.
    m("SG-ALM-005", PAYMENTS, TOP, named(q("payment-dlq-messages")), put(10, "Threshold"), "PaymentDLQ-alarm-at-10",
      offenders=(named(q("payment-dlq")),)),
    m("SG-ALM-005", FARGATE, TOP, named(q("dlq-messages-detected")), put(0, "Threshold"),
      "OrderDlq-alarm-always-in-alarm", offenders=(named(q("order-dlq")),)),
    m("SG-ALM-005", ORDERS, TOP, named(q("order-dlq-messages")), put("NumberOfMessagesSent", "MetricName"),
      "OrderDLQ-alarm-on-messages-sent", offenders=(named(q("order-dlq")),)),
    m("SG-ALM-005", PATTERNS, MONITORING, named(q("EventTargetDLQ-messages")), REMOVE,
      "EventTargetDLQ-alarm-removed", offenders=(named(q("PatternEventTargetDLQ")),)),

    # SG-ALM-006: REST APIs have 5XX, 4XX and latency alarms.
    m("SG-ALM-006", PATTERNS, MONITORING, named(q("PatternApi-5xx")), REMOVE, "Api-5xx-alarm-removed",
      offenders=(named(q("pattern-detection-api")),)),
    # The ApiName hard-coded without the environment suffix: the alarm watches another API.
    m("SG-ALM-006", PAYMENTS, TOP, named(q("payment-api-p99-latency")), dimension("ApiName", "payment-api"),
      "PaymentAPI-latency-alarm-unsuffixed-name", offenders=(named(q("payment-api")),)),

    # SG-ALM-007: ECS services have CPU, memory and running-task alarms.
    m("SG-ALM-007", FARGATE, TOP, named(q("worker-service-memory-high")), drop_dimension("ClusterName"),
      "WorkerService-memory-alarm-without-cluster", offenders=(named(q("order-worker")),)),
    m("SG-ALM-007", FARGATE, TOP, named(q("api-service-no-tasks")), REMOVE, "ApiService-running-tasks-alarm-removed",
      offenders=(named(q("order-api")),)),

    # SG-ALM-008: target groups have an unhealthy-host alarm.
    m("SG-ALM-008", FARGATE, TOP, named(q("alb-unhealthy-target")), target_group_by_arn,
      "ApiTargetGroup-alarm-on-arn", offenders=(named(q("order-api-tg")),)),
    m("SG-ALM-008", FARGATE, TOP, named(q("alb-unhealthy-target")), drop_dimension("LoadBalancer"),
      "ApiTargetGroup-alarm-without-load-balancer", offenders=(named(q("order-api-tg")),)),

    # SG-ALM-009: DynamoDB tables have a throttle alarm.
    m("SG-ALM-009", PATTERNS, MONITORING, named(q("TradingPatterns-throttles")), REMOVE,
      "TradingPatternsTable-alarm-removed", offenders=(named(q("TradingPatterns")),)),
    m("SG-ALM-009", ORDERS, TOP, None,
      without_alarms(q("orders-table-read-throttles"), q("orders-table-write-throttles")),
      "OrdersTable-alarms-removed", offenders=(named(q("orders")),)),

    # SG-ACT-001: alarms have an alarm action.
    m("SG-ACT-001", PAYMENTS, TOP, named(q("payment-api-p99-latency")), unset("AlarmActions"),
      "ApiLatencyAlarm-no-actions"),
    m("SG-ACT-001", WEBHOOK, TOP, named(q("webhook-priority-dlq-messages")), put(False, "ActionsEnabled"),
      "PriorityDlqAlarm-actions-disabled"),
    m("SG-ACT-001", ORDERS, TOP, named(q("order-queue-age")),
      lambda r: r["Properties"].__setitem__("OKActions", r["Properties"].pop("AlarmActions")),
      "OrderQueueAgeAlarm-ok-actions-only"),

    # SG-ACT-002: alarm actions reach SNS.
    # The alarm routed straight to the failover function instead of the ops topic.
    m("SG-ACT-002", PAYMENTS, TOP, None,
      actions_to_function(q("payments-table-write-throttles"), q("failover-orchestrator")),
      "WriteThrottleAlarm-lambda-action", offenders=(named(q("payments-table-write-throttles")),)),
    m("SG-ACT-002", PATTERNS, MONITORING, named(q("PatternDetectionBilling")),
      put(["arn:aws:ssm:us-east-1:123456789012:opsitem:3#CATEGORY=Cost"], "AlarmActions"),
      "BillingAlarm-opsitem-action"),

    # SG-ACT-003: a stack with alarms notifies an SNS topic.
    # The alert topic deleted with its wiring; only the auto-scaling alarms still act.
    m("SG-ACT-003", FARGATE, TOP, None, without_alert_topic(q("order-processing-alerts")), "AlertTopic-removed",
      offenders=(STACK_SUBJECT,)),
    m("SG-ACT-003", ORDERS, TOP, None, without_alert_topic(q("order-alarms")), "AlarmTopic-removed",
      offenders=(STACK_SUBJECT,)),

    # SG-BAK-001: DynamoDB point-in-time recovery.
    m("SG-BAK-001", ORDERS, TOP, named(q("orders")), unset("PointInTimeRecoverySpecification"),
      "OrdersTable-no-pitr"),
    m("SG-BAK-001", PATTERNS, DATA, named(q("ApprovalTracking")),
      put(False, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"), "ApprovalTrackingTable-pitr-off"),
    m("SG-BAK-001", PAYMENTS, TOP, named(q("payments")),
      lambda r: r["Properties"]["Replicas"][0].pop("PointInTimeRecoverySpecification"),
      "PaymentsTable-replica-without-pitr"),

    # SG-RMV-001: stateful resources have an explicit deletion policy.
    m("SG-RMV-001", ORDERS, TOP, named(q("orders")), unset_policies, "OrdersTable-no-deletion-policy"),
    m("SG-RMV-001", PATTERNS, DATA, named(q("MarketDataStream")), unset_policies,
      "MarketDataStream-no-deletion-policy"),
    m("SG-RMV-001", WEBHOOK, TOP, at_path("AlarmTopicKey/Resource"), unset_policies,
      "AlarmTopicKey-no-deletion-policy"),
    m("SG-RMV-001", PAYMENTS, TOP, named(f"/aws/lambda/{q('payment-processor')}"), unset_policies,
      "PaymentProcessorLogGroup-no-deletion-policy"),

    # SG-CMP-001: explicit timeout and memory.
    m("SG-CMP-001", WEBHOOK, TOP, named(q("webhook-receiver")), unset("MemorySize"), "Receiver-no-memory"),
    m("SG-CMP-001", PATTERNS, COMPUTE, named(q("ApprovalProcessor")), unset("Timeout"), "ApprovalProcessor-no-timeout"),

    # SG-CMP-002: queue consumers reserve concurrency.
    m("SG-CMP-002", ORDERS, TOP, named(q("order-processor")), unset("ReservedConcurrentExecutions"),
      "OrderProcessor-no-reservation"),
    m("SG-CMP-002", PAYMENTS, TOP, named(q("payment-processor")), put(0, "ReservedConcurrentExecutions"),
      "PaymentProcessor-reservation-0"),
    m("SG-CMP-002", PATTERNS, COMPUTE, named(q("AlertProcessor")), unset("ReservedConcurrentExecutions"),
      "AlertProcessor-no-reservation"),
)


# --- the test ---------------------------------------------------------------------------------

def locate_everywhere(directory: Path, locator: Locator) -> str:
    """The logical ID ``locator`` finds in exactly one template of the assembly."""
    found = [lid for path in sorted(directory.glob("*.template.json"))
             for lid in locator.match(json.loads(path.read_text())["Resources"])]
    assert len(found) == 1, f"{locator} matches {found or 'nothing'} in the assembly"
    return found[0]


def test_every_rule_has_a_mutation():
    assert set(RULE_IDS) <= set(RULES)
    assert {mutation.rule_id for mutation in MUTATIONS} == set(RULE_IDS)
    ids = [mutation.id for mutation in MUTATIONS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda mutation: mutation.id)
def test_mutation_fails_the_rule(mutation: Mutation, ideal_dir, tmp_path):
    original = ideal_dir(mutation.system)
    applied, failing = rule_verdict(original, mutation.rule_id)
    assert applied, f"{mutation.rule_id} does not apply to the ideal {mutation.system}"
    assert not failing, f"{mutation.rule_id} already fails on the ideal {mutation.system}: {failing}"

    directory = tmp_path / mutation.system
    shutil.copytree(original, directory)
    path = assembly_file(directory, mutation.template)
    template = json.loads(path.read_text())
    resources = template["Resources"]
    if mutation.target is None:
        mutation.edit(template)
    else:
        logical_id = only(mutation.target, resources)
        if mutation.edit is REMOVE:
            del resources[logical_id]
        else:
            mutation.edit(resources[logical_id])
    path.write_text(json.dumps(template, indent=1))

    expected = {o if isinstance(o, str) else locate_everywhere(directory, o) for o in mutation.offenders}
    assert rule_verdict(directory, mutation.rule_id)[1] == expected
