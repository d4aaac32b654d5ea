"""Quality bar for the tracing, logging, IAM, naming, outputs, encryption, API, WAF, tag and suppression rules.

``../shared/design.md`` ("Quality bar for every rule"): every rule passes on the
ideal reference stacks and some mutation of them fails it. Each row of
``MUTATIONS`` is the kind of change a careless pull request makes to an ideal
stack (tracing switched off, a retention dropped, an ``Action: "*"`` added while
debugging, a name without the environment suffix, an output deleted, ...). The
test copies the ideal cloud assembly to ``tmp_path``, applies the edit to the
template JSON on disk, loads it with ``Assembly.load`` and evaluates only the
rule under test:

* on the unmutated assembly the rule applies (at least one outcome) and passes;
* on the mutated one its failures are exactly the expected logical IDs (usually
  the edited resource; for the stack-scoped output rules the stack, ``STACK``).

Resources are found by a property (their physical name or their ``aws:cdk:path``
metadata), never by the hash in their logical ID.

Rules that cannot fail by editing one resource:

* SG-TAG-001 does nothing until ``required_tags`` is configured, so its rows pass
  the configuration the pattern_detection seed asks for (only that ideal is
  tagged). CloudFormation propagates a stack's tags (the manifest's stack tags and
  a nested stack resource's ``Tags``) to everything in it, so removing a tag from
  one resource changes nothing: the mutation drops the app-wide ``CostCenter``
  tag from the manifest and from the Data nested stack resource, and one
  resource (the market-data stream) that does not tag itself.
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from checks.config import StackgradeConfig
from checks.own_rules import STACK_SUBJECT
from tests.rules.mutation_harness import MANIFEST, RULES, TOP, assembly_file, rule_verdict

STACK = STACK_SUBJECT  # offender of a stack-scoped rule (the top-level stack itself)
SUFFIX = "qa7"

# 004 #3 requirement 18: cost allocation tags on ALL resources (as in test_reference_assemblies).
PATTERN_TAGS = StackgradeConfig(required_tags=("Project", "Environment", "CostCenter"))

Locator = Callable[[dict], str]


# --------------------------------------------------------------------------- locators


def named(type_: str, prop: str, value: str) -> Locator:
    """The one resource of ``type_`` whose ``prop`` is ``value`` (a physical name)."""

    def find(doc: dict) -> str:
        hits = [lid for lid, r in doc.get("Resources", {}).items()
                if r.get("Type") == type_ and (r.get("Properties") or {}).get(prop) == value]
        assert len(hits) == 1, f"expected one {type_} with {prop}={value!r}, found {hits}"
        return hits[0]

    return find


def at(type_: str, path: str) -> Locator:
    """The one resource of ``type_`` whose ``aws:cdk:path`` ends with ``path`` (or ``path/Resource``)."""

    def find(doc: dict) -> str:
        hits = []
        for lid, r in doc.get("Resources", {}).items():
            cdk_path = (r.get("Metadata") or {}).get("aws:cdk:path", "")
            if r.get("Type") == type_ and (cdk_path.endswith("/" + path) or cdk_path.endswith(f"/{path}/Resource")):
                hits.append(lid)
        assert len(hits) == 1, f"expected one {type_} at {path!r}, found {hits}"
        return hits[0]

    return find


def output(key: str) -> Locator:
    return lambda doc: key


# --------------------------------------------------------------------------- edits

Change = Callable[[dict], None]


def props(resource: dict) -> dict:
    return resource.setdefault("Properties", {})


def delete(*keys: str) -> Change:
    """Delete a (nested) property, e.g. ``delete("TracingConfig")`` or ``delete("StreamEncryption", "KeyId")``."""

    def change(resource: dict) -> None:
        node = props(resource)
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return change


def set_(value, *keys: str) -> Change:
    """Set a (nested) property, creating intermediate objects."""

    def change(resource: dict) -> None:
        node = props(resource)
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value

    return change


def strip_suffix(prop: str) -> Change:
    """``order-queue-qa7`` -> ``order-queue``: the name a copy-pasted literal would have."""

    def change(resource: dict) -> None:
        name = props(resource)[prop]
        assert name.endswith("-" + SUFFIX), name
        props(resource)[prop] = name[: -len(SUFFIX) - 1]

    return change


def method_settings(**fields) -> Change:
    """Update the stage-wide (``*``, ``/*``) MethodSettings entry; a value of None deletes the field."""

    def change(resource: dict) -> None:
        entries = [e for e in props(resource)["MethodSettings"]
                   if e.get("HttpMethod") == "*" and e.get("ResourcePath") == "/*"]
        assert entries, "no stage-wide MethodSettings entry"
        for entry in entries:
            for key, value in fields.items():
                if value is None:
                    entry.pop(key, None)
                else:
                    entry[key] = value

    return change


def statements(resource: dict) -> list[dict]:
    document = props(resource)["PolicyDocument"]
    if isinstance(document["Statement"], dict):
        document["Statement"] = [document["Statement"]]
    return document["Statement"]


def add_statement(**statement) -> Change:
    return lambda resource: statements(resource).append({"Effect": "Allow", **statement})


def edit_statement(select: Callable[[dict], bool], **fields) -> Change:
    """Overwrite fields of the first statement ``select`` picks."""

    def change(resource: dict) -> None:
        hits = [s for s in statements(resource) if select(s)]
        assert hits, "no statement matched"
        hits[0].update(fields)

    return change


def by_sid(sid: str) -> Callable[[dict], bool]:
    return lambda s: s.get("Sid") == sid


def acting_on(prefix: str) -> Callable[[dict], bool]:
    """A statement whose first action starts with ``prefix`` (``"sqs:"``)."""

    def select(s: dict) -> bool:
        actions = s.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        return bool(actions) and isinstance(actions[0], str) and actions[0].startswith(prefix)

    return select


def managed_policy(name: str) -> Change:
    """Attach an AWS managed policy the way CDK writes it (``arn:${AWS::Partition}:iam::aws:policy/<name>``)."""
    arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::aws:policy/{name}"]]}
    return lambda resource: props(resource).setdefault("ManagedPolicyArns", []).append(arn)


def add_metadata_entry(key: str, list_key: str, entry: dict) -> Change:
    """Append a suppression entry to the resource's ``Metadata.<key>.<list_key>`` (what ``add_metadata`` writes)."""

    def change(resource: dict) -> None:
        resource.setdefault("Metadata", {}).setdefault(key, {}).setdefault(list_key, []).append(entry)

    return change


def remove_resource(doc: dict, logical_id: str) -> None:
    del doc["Resources"][logical_id]


def remove_outputs(*keys: str) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        for key in keys:
            del doc["Outputs"][key]

    return change


def drop_tag(key: str) -> Change:
    def change(resource: dict) -> None:
        tags = props(resource)["Tags"]
        assert any(t.get("Key") == key for t in tags), f"no tag {key}"
        props(resource)["Tags"] = [t for t in tags if t.get("Key") != key]

    return change


def drop_stack_tag(key: str) -> Callable[[dict], None]:
    """Remove a stack tag from the cloud assembly manifest (what ``Stack(tags=...)`` writes)."""

    def change(manifest: dict) -> None:
        stacks = [a for a in manifest["artifacts"].values() if a.get("type") == "aws:cloudformation:stack"]
        assert len(stacks) == 1
        del stacks[0]["properties"]["tags"][key]

    return change


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Edit:
    """One change to one file of the assembly.

    ``file``: ``TOP``, a glob of a nested template (``"*Data*.nested.template.json"``) or ``MANIFEST``.
    ``find``: locates the logical ID (or output key) to edit; None edits the whole document.
    ``change``: edits that resource's dict (output's dict in ``Outputs``), or the document; ``remove_resource``
    is called with the document and the logical ID.
    """

    file: str
    find: Locator | None
    change: Callable
    section: str = "Resources"


@dataclass(frozen=True)
class Mutation:
    rule_id: str
    system: str
    label: str
    edits: tuple[Edit, ...]
    expected: tuple  # (file, locator) pairs, or STACK
    config: StackgradeConfig | None = None

    @property
    def id(self) -> str:
        return f"{self.rule_id}-{self.system}-{self.label}"


def mutation(rule_id: str, system: str, label: str, file: str, find: Locator | None, change: Callable, *,
             section: str = "Resources", expect=None, also: tuple[Edit, ...] = (),
             config: StackgradeConfig | None = None) -> Mutation:
    """One edit, by default expected to make exactly the edited resource fail."""
    expected = ((file, find),) if expect is None else expect
    return Mutation(rule_id, system, label, (Edit(file, find, change, section), *also), expected, config)


DATA = "*Data*.nested.template.json"
COMPUTE = "*Compute*.nested.template.json"
API = "*Api*.nested.template.json"
ORCHESTRATION = "*Orchestration*.nested.template.json"

FUNCTION = "AWS::Lambda::Function"
LOG_GROUP = "AWS::Logs::LogGroup"
STAGE = "AWS::ApiGateway::Stage"
METHOD = "AWS::ApiGateway::Method"
REST_API = "AWS::ApiGateway::RestApi"
MACHINE = "AWS::StepFunctions::StateMachine"
POLICY = "AWS::IAM::Policy"
ROLE = "AWS::IAM::Role"
QUEUE = "AWS::SQS::Queue"
TOPIC = "AWS::SNS::Topic"
KEY = "AWS::KMS::Key"
STREAM = "AWS::Kinesis::Stream"
WAF_ASSOCIATION = "AWS::WAFv2::WebACLAssociation"

MUTATIONS: list[Mutation] = [
    # --- SG-TRC-001: functions trace with X-Ray (Mode Active)
    mutation("SG-TRC-001", "webhook_pipeline", "Processor-PassThrough", TOP,
             named(FUNCTION, "FunctionName", "webhook-processor-qa7"), set_("PassThrough", "TracingConfig", "Mode")),
    mutation("SG-TRC-001", "pattern_detection", "PatternDetector-no-TracingConfig", COMPUTE,
             named(FUNCTION, "FunctionName", "PatternDetector-qa7"), delete("TracingConfig")),
    mutation("SG-TRC-001", "payments_dr", "PaymentProcessor-no-TracingConfig", TOP,
             named(FUNCTION, "FunctionName", "payment-processor-qa7"), delete("TracingConfig")),
    # --- SG-TRC-002: API stages trace
    mutation("SG-TRC-002", "payments_dr", "prod-TracingEnabled-false", TOP,
             named(STAGE, "StageName", "prod"), set_(False, "TracingEnabled")),
    mutation("SG-TRC-002", "pattern_detection", "prod-no-TracingEnabled", API,
             named(STAGE, "StageName", "prod"), delete("TracingEnabled")),
    mutation("SG-TRC-002", "webhook_pipeline", "v1-no-TracingEnabled", TOP,
             named(STAGE, "StageName", "v1"), delete("TracingEnabled")),
    # --- SG-TRC-003: state machines trace
    mutation("SG-TRC-003", "pattern_detection", "PatternAnalysisWorkflow-no-tracing", ORCHESTRATION,
             named(MACHINE, "StateMachineName", "PatternAnalysisWorkflow-qa7"), delete("TracingConfiguration")),
    mutation("SG-TRC-003", "pattern_detection", "PowerTuningWorkflow-tracing-false", ORCHESTRATION,
             named(MACHINE, "StateMachineName", "PowerTuningWorkflow-qa7"),
             set_(False, "TracingConfiguration", "Enabled")),
    # --- SG-LOG-001: log groups expire
    mutation("SG-LOG-001", "webhook_pipeline", "ApiAccessLogs-no-retention", TOP,
             named(LOG_GROUP, "LogGroupName", "/aws/apigateway/webhook-api-access-qa7"), delete("RetentionInDays")),
    mutation("SG-LOG-001", "order_processing_fargate", "WorkerLogGroup-no-retention", TOP,
             named(LOG_GROUP, "LogGroupName", "/ecs/order-worker-qa7"), delete("RetentionInDays")),
    mutation("SG-LOG-001", "pattern_detection", "PowerTuningLogs-no-retention", ORCHESTRATION,
             named(LOG_GROUP, "LogGroupName", "/aws/vendedlogs/states/PowerTuningWorkflow-qa7"),
             delete("RetentionInDays")),
    # --- SG-LOG-002: functions write to a log group with retention
    mutation("SG-LOG-002", "payments_dr", "PaymentValidator-group-no-retention", TOP,
             named(LOG_GROUP, "LogGroupName", "/aws/lambda/payment-validator-qa7"), delete("RetentionInDays"),
             expect=((TOP, named(FUNCTION, "FunctionName", "payment-validator-qa7")),)),
    # `log_group=` dropped from the function: no LoggingConfig and no app-defined group any more
    mutation("SG-LOG-002", "order_pipeline", "ApiHandler-no-log-group", TOP,
             named(FUNCTION, "FunctionName", "order-api-handler-qa7"), delete("LoggingConfig"),
             also=(Edit(TOP, named(LOG_GROUP, "LogGroupName", "/aws/lambda/order-api-handler-qa7"),
                        remove_resource),)),
    mutation("SG-LOG-002", "pattern_detection", "AlertProcessor-group-no-retention", COMPUTE,
             named(LOG_GROUP, "LogGroupName", "/aws/lambda/AlertProcessor-qa7"), delete("RetentionInDays"),
             expect=((COMPUTE, named(FUNCTION, "FunctionName", "AlertProcessor-qa7")),)),
    # --- SG-LOG-003: API stages write access logs
    mutation("SG-LOG-003", "order_pipeline", "prod-no-AccessLogSetting", TOP,
             named(STAGE, "StageName", "prod"), delete("AccessLogSetting")),
    mutation("SG-LOG-003", "pattern_detection", "prod-no-AccessLogSetting", API,
             named(STAGE, "StageName", "prod"), delete("AccessLogSetting")),
    # --- SG-LOG-004: API stages log methods and publish metrics
    mutation("SG-LOG-004", "payments_dr", "prod-LoggingLevel-OFF", TOP,
             named(STAGE, "StageName", "prod"), method_settings(LoggingLevel="OFF")),
    mutation("SG-LOG-004", "order_pipeline", "prod-MetricsEnabled-false", TOP,
             named(STAGE, "StageName", "prod"), method_settings(MetricsEnabled=False)),
    mutation("SG-LOG-004", "webhook_pipeline", "v1-no-MethodSettings", TOP,
             named(STAGE, "StageName", "v1"), delete("MethodSettings")),
    # --- SG-LOG-005: state machines log executions
    mutation("SG-LOG-005", "pattern_detection", "PatternAnalysisWorkflow-no-logging", ORCHESTRATION,
             named(MACHINE, "StateMachineName", "PatternAnalysisWorkflow-qa7"), delete("LoggingConfiguration")),
    mutation("SG-LOG-005", "pattern_detection", "PowerTuningWorkflow-Level-OFF", ORCHESTRATION,
             named(MACHINE, "StateMachineName", "PowerTuningWorkflow-qa7"),
             set_("OFF", "LoggingConfiguration", "Level")),
    # --- SG-IAM-001: no Action "*" (or Allow + NotAction)
    mutation("SG-IAM-001", "payments_dr", "LambdaExecutionRole-admin-statement", TOP,
             at(POLICY, "LambdaExecutionRole/DefaultPolicy"), add_statement(Action="*", Resource="*")),
    mutation("SG-IAM-001", "webhook_pipeline", "Processor-star-on-queue", TOP,
             at(POLICY, "Processor/ServiceRole/DefaultPolicy"),
             edit_statement(acting_on("sqs:SendMessage"), Action="*")),
    mutation("SG-IAM-001", "order_pipeline", "ApiHandler-NotAction", TOP,
             at(POLICY, "ApiHandler/ServiceRole/DefaultPolicy"), add_statement(NotAction="iam:*", Resource="*")),
    # --- SG-IAM-002: no service wildcard (s3:*)
    mutation("SG-IAM-002", "payments_dr", "LambdaExecutionRole-dynamodb-star", TOP,
             at(POLICY, "LambdaExecutionRole/DefaultPolicy"),
             edit_statement(by_sid("PaymentsTable"), Action="dynamodb:*")),
    mutation("SG-IAM-002", "pattern_detection", "PatternDetector-dynamodb-star", COMPUTE,
             at(POLICY, "PatternDetector/ServiceRole/DefaultPolicy"),
             edit_statement(acting_on("dynamodb:"), Action=["dynamodb:*"])),
    # --- SG-IAM-003: Resource "*" only for actions that need it
    mutation("SG-IAM-003", "payments_dr", "LambdaExecutionRole-queue-on-star", TOP,
             at(POLICY, "LambdaExecutionRole/DefaultPolicy"), edit_statement(by_sid("PaymentQueueSend"), Resource="*")),
    mutation("SG-IAM-003", "order_processing_fargate", "WorkerTaskRole-sqs-on-star", TOP,
             at(POLICY, "WorkerTaskRole/DefaultPolicy"), edit_statement(acting_on("sqs:"), Resource="*")),
    # --- SG-IAM-004: no AdministratorAccess / PowerUserAccess
    mutation("SG-IAM-004", "payments_dr", "LambdaExecutionRole-AdministratorAccess", TOP,
             named(ROLE, "RoleName", "payment-lambda-role-qa7"), managed_policy("AdministratorAccess")),
    mutation("SG-IAM-004", "order_processing_fargate", "ApiTaskRole-PowerUserAccess", TOP,
             at(ROLE, "ApiTaskRole"), managed_policy("PowerUserAccess")),
    mutation("SG-IAM-004", "pattern_detection", "PatternDetectorRole-AdministratorAccess", COMPUTE,
             at(ROLE, "PatternDetector/ServiceRole"), managed_policy("AdministratorAccess")),
    # --- SG-IAM-005: no iam:PassRole on every role
    mutation("SG-IAM-005", "order_processing_fargate", "ExecutionRole-PassRole-star", TOP,
             at(POLICY, "ApiTaskDefinition/ExecutionRole/DefaultPolicy"),
             add_statement(Action="iam:PassRole", Resource="*")),
    mutation("SG-IAM-005", "pattern_detection", "PatternDetector-iam-star", COMPUTE,
             at(POLICY, "PatternDetector/ServiceRole/DefaultPolicy"),
             add_statement(Action=["iam:*"], Resource="*")),
    # --- SG-NAM-001: explicit names carry the environment suffix
    mutation("SG-NAM-001", "payments_dr", "PaymentQueue-bare-name", TOP,
             named(QUEUE, "QueueName", "payment-queue-qa7"), strip_suffix("QueueName")),
    mutation("SG-NAM-001", "order_pipeline", "OrderProcessor-bare-name", TOP,
             named(FUNCTION, "FunctionName", "order-processor-qa7"), strip_suffix("FunctionName")),
    mutation("SG-NAM-001", "order_processing_fargate", "Cluster-bare-name", TOP,
             named("AWS::ECS::Cluster", "ClusterName", "order-processing-qa7"), strip_suffix("ClusterName")),
    mutation("SG-NAM-001", "pattern_detection", "TradingPatternsTable-bare-name", DATA,
             named("AWS::DynamoDB::Table", "TableName", "TradingPatterns-qa7"), strip_suffix("TableName")),
    # --- SG-OUT-001: outputs are described
    mutation("SG-OUT-001", "payments_dr", "PaymentQueueUrl-no-description", TOP,
             output("PaymentQueueUrl"), lambda o: o.pop("Description"), section="Outputs", expect=STACK),
    mutation("SG-OUT-001", "pattern_detection", "AlertQueueUrl-blank-description", TOP,
             output("AlertQueueUrl"), lambda o: o.update(Description=" "), section="Outputs", expect=STACK),
    # --- SG-OUT-002: export names carry the suffix
    mutation("SG-OUT-002", "payments_dr", "PaymentQueueUrl-bare-export", TOP,
             output("PaymentQueueUrl"), lambda o: o["Export"].update(Name="payments-payment-queue-url"),
             section="Outputs", expect=STACK),
    mutation("SG-OUT-002", "pattern_detection", "AlertQueueUrl-bare-export", TOP,
             output("AlertQueueUrl"), lambda o: o["Export"].update(Name="patterns-alert-queue-url"),
             section="Outputs", expect=STACK),
    # --- SG-OUT-003: key resources are outputs
    mutation("SG-OUT-003", "payments_dr", "PaymentQueue-outputs-removed", TOP,
             None, remove_outputs("PaymentQueueUrl", "PaymentQueueArn"),
             expect=((TOP, named(QUEUE, "QueueName", "payment-queue-qa7")),)),
    mutation("SG-OUT-003", "pattern_detection", "AlertQueue-outputs-removed", TOP,
             None, remove_outputs("AlertQueueUrl", "AlertQueueArn"),
             expect=((DATA, named(QUEUE, "QueueName", "AlertQueue-qa7")),)),
    # --- SG-ENC-001: queues are explicitly encrypted
    mutation("SG-ENC-001", "payments_dr", "PaymentQueue-SSE-false", TOP,
             named(QUEUE, "QueueName", "payment-queue-qa7"), set_(False, "SqsManagedSseEnabled")),
    mutation("SG-ENC-001", "webhook_pipeline", "PriorityDlq-no-encryption", TOP,
             named(QUEUE, "QueueName", "webhook-priority-dlq-qa7"), delete("SqsManagedSseEnabled")),
    mutation("SG-ENC-001", "pattern_detection", "AlertQueue-no-encryption", DATA,
             named(QUEUE, "QueueName", "AlertQueue-qa7"), delete("SqsManagedSseEnabled")),
    # --- SG-ENC-002: topics are encrypted with KMS
    mutation("SG-ENC-002", "payments_dr", "OpsAlertTopic-no-key", TOP,
             named(TOPIC, "TopicName", "payment-ops-alerts-qa7"), delete("KmsMasterKeyId")),
    mutation("SG-ENC-002", "order_pipeline", "OrderTopic-no-key", TOP,
             named(TOPIC, "TopicName", "order-events-qa7"), delete("KmsMasterKeyId")),
    mutation("SG-ENC-002", "pattern_detection", "TradingAlertsTopic-no-key", DATA,
             named(TOPIC, "TopicName", "TradingAlerts-qa7"), delete("KmsMasterKeyId")),
    # --- SG-ENC-003: Kinesis streams are encrypted with KMS (pattern_detection is the only ideal with a stream)
    mutation("SG-ENC-003", "pattern_detection", "MarketDataStream-no-encryption", DATA,
             named(STREAM, "Name", "MarketDataStream-qa7"), delete("StreamEncryption")),
    mutation("SG-ENC-003", "pattern_detection", "MarketDataStream-EncryptionType-NONE", DATA,
             named(STREAM, "Name", "MarketDataStream-qa7"), set_({"EncryptionType": "NONE"}, "StreamEncryption")),
    # --- SG-ENC-004: KMS keys rotate
    mutation("SG-ENC-004", "payments_dr", "TopicKey-rotation-false", TOP,
             at(KEY, "TopicKey"), set_(False, "EnableKeyRotation")),
    mutation("SG-ENC-004", "webhook_pipeline", "AlarmTopicKey-no-rotation", TOP,
             at(KEY, "AlarmTopicKey"), delete("EnableKeyRotation")),
    mutation("SG-ENC-004", "pattern_detection", "DataKey-no-rotation", DATA,
             at(KEY, "DataKey"), delete("EnableKeyRotation")),
    # --- SG-API-001: write methods validate the body
    mutation("SG-API-001", "payments_dr", "validate-POST-no-validator", TOP,
             at(METHOD, "PaymentAPI/Default/validate/POST"), delete("RequestValidatorId")),
    mutation("SG-API-001", "webhook_pipeline", "webhooks-POST-no-model", TOP,
             at(METHOD, "WebhookApi/Default/webhooks/{provider}/POST"), delete("RequestModels")),
    mutation("SG-API-001", "order_pipeline", "validator-body-off", TOP,
             named("AWS::ApiGateway::RequestValidator", "Name", "order-body-validator-qa7"),
             set_(False, "ValidateRequestBody"),
             expect=((TOP, at(METHOD, "OrderApi/Default/orders/POST")),)),
    mutation("SG-API-001", "pattern_detection", "patterns-POST-no-validator", API,
             at(METHOD, "Api/Default/patterns/POST"), delete("RequestValidatorId")),
    # --- SG-API-002: stages throttle stage-wide
    mutation("SG-API-002", "payments_dr", "prod-no-throttling", TOP,
             named(STAGE, "StageName", "prod"), method_settings(ThrottlingRateLimit=None, ThrottlingBurstLimit=None)),
    mutation("SG-API-002", "webhook_pipeline", "v1-throttling-off", TOP,
             named(STAGE, "StageName", "v1"), method_settings(ThrottlingRateLimit=-1, ThrottlingBurstLimit=-1)),
    mutation("SG-API-002", "pattern_detection", "prod-no-burst-limit", API,
             named(STAGE, "StageName", "prod"), method_settings(ThrottlingBurstLimit=None)),
    # --- SG-WAF-001: public APIs are behind a web ACL
    mutation("SG-WAF-001", "payments_dr", "PaymentAPI-association-removed", TOP,
             at(WAF_ASSOCIATION, "PaymentApiWebAclAssociation"), remove_resource,
             expect=((TOP, named(REST_API, "Name", "payment-api-qa7")),)),
    mutation("SG-WAF-001", "order_pipeline", "OrderApi-association-removed", TOP,
             at(WAF_ASSOCIATION, "OrderApiWebAclAssociation"), remove_resource,
             expect=((TOP, named(REST_API, "Name", "order-api-qa7")),)),
    mutation("SG-WAF-001", "pattern_detection", "Api-association-removed", API,
             at(WAF_ASSOCIATION, "WafAssociation"), remove_resource,
             expect=((API, named(REST_API, "Name", "pattern-detection-api-qa7")),)),
    # --- SG-TAG-001: resources carry the required tags (see the module docstring)
    mutation("SG-TAG-001", "pattern_detection", "CostCenter-dropped", DATA,
             named(STREAM, "Name", "MarketDataStream-qa7"), drop_tag("CostCenter"),
             also=(Edit(MANIFEST, None, drop_stack_tag("CostCenter")),
                   Edit(TOP, at("AWS::CloudFormation::Stack", "Data.NestedStack/Data.NestedStackResource"),
                        drop_tag("CostCenter"))),
             expect=((DATA, named(STREAM, "Name", "MarketDataStream-qa7")),
                     (TOP, at("AWS::CloudFormation::Stack", "Data.NestedStack/Data.NestedStackResource"))),
             config=PATTERN_TAGS),
    # --- SG-SUP-001: suppressions give a reason (a stack-level rule: nested stacks report on the top level)
    mutation("SG-SUP-001", "payments_dr", "PaymentQueue-checkov-skip-without-comment", TOP,
             named(QUEUE, "QueueName", "payment-queue-qa7"),
             add_metadata_entry("checkov", "skip", {"id": "CKV_AWS_27"}), expect=STACK),
    mutation("SG-SUP-001", "pattern_detection", "AlertQueue-stackgrade-suppress-without-reason", DATA,
             named(QUEUE, "QueueName", "AlertQueue-qa7"),
             add_metadata_entry("stackgrade", "suppress", {"rule": "SG-DLQ-001"}), expect=STACK),
    mutation("SG-SUP-001", "order_pipeline", "OrderProcessor-cdk-nag-suppression-blank-reason", TOP,
             named(FUNCTION, "FunctionName", "order-processor-qa7"),
             add_metadata_entry("cdk_nag", "rules_to_suppress", {"id": "AwsSolutions-L1", "reason": " "}),
             expect=STACK),
]



# --------------------------------------------------------------------------- helpers


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def apply(directory: Path, edit: Edit) -> None:
    path = assembly_file(directory, edit.file)
    doc = read(path)
    before = copy.deepcopy(doc)
    if edit.find is None:
        edit.change(doc)
    elif edit.change is remove_resource:
        remove_resource(doc, edit.find(doc))
    else:
        edit.change(doc[edit.section][edit.find(doc)])
    assert doc != before, f"edit of {path.name} changed nothing"
    path.write_text(json.dumps(doc, indent=1))


def expected_ids(directory: Path, m: Mutation) -> set[str]:
    if m.expected == STACK:
        return {STACK}
    return {find(read(assembly_file(directory, file))) for file, find in m.expected}


def test_every_rule_has_a_mutation():
    covered = {m.rule_id for m in MUTATIONS}
    mine = {f"SG-TRC-00{i}" for i in range(1, 4)} | {f"SG-LOG-00{i}" for i in range(1, 6)} \
        | {f"SG-IAM-00{i}" for i in range(1, 6)} | {"SG-NAM-001"} | {f"SG-OUT-00{i}" for i in range(1, 4)} \
        | {f"SG-ENC-00{i}" for i in range(1, 5)} | {"SG-API-001", "SG-API-002", "SG-WAF-001", "SG-TAG-001"} \
        | {"SG-SUP-001"}
    assert mine <= set(RULES)
    assert covered == mine
    assert len({m.id for m in MUTATIONS}) == len(MUTATIONS), "duplicate mutation ids"


@pytest.mark.parametrize("m", MUTATIONS, ids=lambda m: m.id)
def test_mutation_fails_rule(m: Mutation, ideal_dir, tmp_path):
    source = ideal_dir(m.system)
    applied, failed = rule_verdict(source, m.rule_id, m.config)
    assert applied > 0, f"{m.rule_id} does not apply to the ideal {m.system}"
    assert failed == set(), f"{m.rule_id} fails the unmutated ideal {m.system}: {sorted(failed)}"

    mutated = tmp_path / m.system
    shutil.copytree(source, mutated)
    for edit in m.edits:
        apply(mutated, edit)

    assert rule_verdict(mutated, m.rule_id, m.config)[1] == expected_ids(source, m)
