"""Relations between resources, on hand-written templates and on a synthesized assembly."""

from __future__ import annotations

import pytest

from checks.assembly import Assembly
from checks.relations import NAME_PROPERTY, EventSourceMapping, MetricUse, Relations
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

RELATIONS = FIXTURES / "relations"
TOP = "PatternDetection-ideal-qa7"


def load(name: str) -> tuple[Assembly, Relations]:
    assembly = Assembly.load(RELATIONS / f"{name}.yaml")
    return assembly, Relations(assembly)


@pytest.fixture(scope="module")
def dlq():
    return load("dlq")


@pytest.fixture(scope="module")
def alarms():
    return load("alarms")


@pytest.fixture(scope="module")
def functions():
    return load("functions")


@pytest.fixture(scope="module")
def apis():
    return load("apis")


def uses(metric_uses: list[MetricUse]) -> list[tuple[str, str | None, str | None]]:
    return [(u.alarm.logical_id, u.namespace, u.metric_name) for u in metric_uses]


# --- names -------------------------------------------------------------------------------------


def test_physical_name(alarms):
    assembly, relations = alarms
    assert relations.physical_name(by_id(assembly, "Orders")) == "orders-qa7"
    assert relations.physical_name(by_id(assembly, "OrdersTable")) == "orders-qa7"
    assert relations.physical_name(by_id(assembly, "Api")) == "orders-api-qa7"
    assert relations.physical_name(by_id(assembly, "OtherFn")) is None  # no FunctionName
    assert relations.physical_name(by_id(assembly, "Consumer")) is None  # a type without a name property
    assert NAME_PROPERTY["AWS::SQS::Queue"] == "QueueName"


def test_resolve_by_reference_and_by_literal_name(alarms):
    assembly, relations = alarms
    stack = assembly.stacks[0]
    assert ids(relations.resolve(stack, {"Ref": "Orders"})) == ["Orders"]
    assert ids(relations.resolve(stack, "orders-qa7")) == ["Orders", "OrdersTable"]
    assert ids(relations.resolve(stack, "orders-qa7", name_types=["AWS::DynamoDB::Table"])) == ["OrdersTable"]
    assert ids(relations.resolve(stack, {"Fn::Join": ["-", ["orders", "qa7"]]})) == ["Orders", "OrdersTable"]
    # name_types narrows names only: a reference is always what it refers to
    assert ids(relations.resolve(stack, {"Ref": "Orders"}, name_types=["AWS::DynamoDB::Table"])) == ["Orders"]
    assert relations.resolve(stack, "no-such-name") == []


# --- queues ------------------------------------------------------------------------------------


def test_dlq_of_follows_the_redrive_policy(dlq):
    assembly, relations = dlq
    assert relations.dlq_of(by_id(assembly, "Orders")) is by_id(assembly, "OrdersDlq")
    assert relations.dlq_of(by_id(assembly, "Payments")) is by_id(assembly, "PaymentsDlq")  # via Fn::Sub
    assert relations.dlq_of(by_id(assembly, "Refunds")) is by_id(assembly, "OrdersDlq")
    assert relations.dlq_of(by_id(assembly, "Plain")) is None
    assert relations.dlq_of(by_id(assembly, "RedriveToTopic")) is None
    assert relations.dlq_of(by_id(assembly, "OrdersDlq")) is None


@pytest.mark.parametrize(("queue_id", "senders"), [
    ("OrdersDlq", ["Orders", "Refunds"]),
    ("PaymentsDlq", ["Payments"]),
    ("SubscriptionDlq", ["AlertsSubscription"]),
    ("FunctionDlq", ["Worker"]),
    ("InvokeFailures", ["WorkerInvokeConfig"]),
    ("MappingFailures", ["OrdersMapping"]),
    ("RuleTargetDlq", ["Schedule"]),
])
def test_is_dead_letter_queue_for_every_kind_of_sender(dlq, queue_id, senders):
    assembly, relations = dlq
    target = by_id(assembly, queue_id)
    assert relations.is_dead_letter_queue(target)
    assert ids(relations.dead_letter_uses[id(target)]) == senders


@pytest.mark.parametrize("queue_id", ["Orders", "Payments", "Refunds", "Plain", "RedriveToTopic"])
def test_queues_nobody_sends_failures_to_are_not_dead_letter_queues(dlq, queue_id):
    assembly, relations = dlq
    assert not relations.is_dead_letter_queue(by_id(assembly, queue_id))


def test_redrive_sources_are_only_queues(dlq):
    assembly, relations = dlq
    assert ids(relations.redrive_sources(by_id(assembly, "OrdersDlq"))) == ["Orders", "Refunds"]
    assert relations.redrive_sources(by_id(assembly, "SubscriptionDlq")) == []
    assert relations.redrive_sources(by_id(assembly, "Plain")) == []


def test_a_topic_is_never_a_dead_letter_queue(dlq):
    assembly, relations = dlq
    assert id(by_id(assembly, "Alerts")) not in relations.dead_letter_uses
    assert id(by_id(assembly, "Alerts")) not in relations.redrive_targets.values()


# --- alarms ------------------------------------------------------------------------------------


def test_alarms_on_a_function_through_dimensions_and_metric_math(alarms):
    assembly, relations = alarms
    fn = by_id(assembly, "Fn")
    assert uses(relations.alarms_on(fn)) == [
        ("ErrorsAlarm", "AWS/Lambda", "Errors"),
        ("ThrottleRateAlarm", "AWS/Lambda", "Throttles"),
        ("ThrottleRateAlarm", "AWS/Lambda", "Invocations"),  # by the literal FunctionName
    ]
    assert relations.alarms_on(fn)[0] == MetricUse(by_id(assembly, "ErrorsAlarm"), "AWS/Lambda", "Errors")
    assert relations.alarm_metric_names(fn) == {"Errors", "Throttles", "Invocations"}


def test_alarm_watches_name_the_dimension_and_keep_the_metric(alarms):
    assembly, relations = alarms
    watches = relations.alarm_watches(by_id(assembly, "Fn"))
    assert [(w.alarm.logical_id, w.metric.metric_name, w.dimension, w.metric.returned) for w in watches] == [
        ("ErrorsAlarm", "Errors", "FunctionName", True),
        ("ThrottleRateAlarm", "Throttles", "FunctionName", False),  # an input to metric math
        ("ThrottleRateAlarm", "Throttles", "Resource", False),  # two dimensions name it: one watch each
        ("ThrottleRateAlarm", "Invocations", "FunctionName", False),
    ]
    assert watches[1].metric is watches[2].metric
    assert watches[1].metric.has_dimension("Resource") and not watches[3].metric.has_dimension("Resource")
    assert watches[3].metric.dimension("FunctionName") == "orders-fn-qa7"


def test_literal_names_in_dimensions_match_only_the_dimensions_type(alarms):
    assembly, relations = alarms
    # The queue and the table share the name orders-qa7: QueueName means the queue, TableName the table.
    assert uses(relations.alarms_on(by_id(assembly, "Orders"))) == [
        ("QueueAgeAlarm", "AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("CustomDimensionAlarm", "Orders", "Backlog"),  # a dimension of no known type matches any name
    ]
    assert uses(relations.alarms_on(by_id(assembly, "OrdersTable"))) == [
        ("TableThrottleAlarm", "AWS/DynamoDB", "ThrottledRequests"),
        ("CustomDimensionAlarm", "Orders", "Backlog"),
    ]
    assert uses(relations.alarms_on(by_id(assembly, "Api"))) == [("Api5xxAlarm", "AWS/ApiGateway", "5XXError")]


def test_alarm_on_a_stream_consumer_watches_the_stream(alarms):
    assembly, relations = alarms
    assert uses(relations.alarms_on(by_id(assembly, "Stream"))) == [
        ("IteratorAgeAlarm", "AWS/Kinesis", "SubscribeToShardEvent.MillisBehindLatest"),
    ]
    assert relations.alarms_on(by_id(assembly, "Consumer")) == []


def test_alarms_with_computed_metrics_watch_nothing(alarms):
    assembly, relations = alarms
    assert relations.alarms_on(by_id(assembly, "OtherFn")) == []
    assert relations.alarm_metric_names(by_id(assembly, "OtherFn")) == set()
    assert relations.alarms_on(by_id(assembly, "AlarmTopic")) == []


def test_alarm_action_targets(alarms):
    assembly, relations = alarms
    # the literal ARN names no resource of the template
    assert ids(relations.alarm_action_targets(by_id(assembly, "ErrorsAlarm"))) == ["AlarmTopic"]
    assert ids(relations.alarm_action_targets(by_id(assembly, "ThrottleRateAlarm"))) == ["AlarmTopic"]
    assert relations.alarm_action_targets(by_id(assembly, "QueueAgeAlarm")) == []


# --- functions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ({"Ref": "Live"}, ["Fn"]),
    ({"Ref": "FnVersion"}, ["Fn"]),
    ({"Fn::GetAtt": ["Fn", "Arn"]}, ["Fn"]),
    ("orders-fn", ["Fn"]),
    ({"Ref": "Orders"}, []),
    ([{"Ref": "Joined"}, {"Ref": "Live"}, {"Ref": "Fn"}], ["Joined", "Fn"]),
    (None, []),
])
def test_functions_in_through_aliases_and_versions(functions, value, expected):
    assembly, relations = functions
    assert ids(relations.functions_in(assembly.stacks[0], value)) == expected


def test_event_source_mappings_source_and_function(functions):
    assembly, relations = functions
    assert relations.event_source_mappings == [
        EventSourceMapping(by_id(assembly, "QueueMapping"), by_id(assembly, "Orders"), by_id(assembly, "Fn")),
        # a stream consumer stands for its stream; a literal function name finds the function
        EventSourceMapping(by_id(assembly, "StreamMapping"), by_id(assembly, "Stream"), by_id(assembly, "Ingest")),
        EventSourceMapping(by_id(assembly, "OrphanMapping"), None, None),
    ]
    assert ids(m.mapping for m in relations.mappings_of_function(by_id(assembly, "Fn"))) == ["QueueMapping"]
    assert ids(m.mapping for m in relations.mappings_of_function(by_id(assembly, "Ingest"))) == ["StreamMapping"]
    assert relations.mappings_of_function(by_id(assembly, "Joined")) == []
    assert ids(m.mapping for m in relations.mappings_of_source(by_id(assembly, "Stream"))) == ["StreamMapping"]
    assert ids(m.mapping for m in relations.mappings_of_source(by_id(assembly, "Orders"))) == ["QueueMapping"]
    assert relations.mappings_of_source(by_id(assembly, "Consumer")) == []


@pytest.mark.parametrize(("function_id", "group_id"), [
    ("Fn", "CustomLogs"),  # LoggingConfig.LogGroup, not the /aws/lambda/orders-fn group
    ("Ingest", "IngestLogs"),  # /aws/lambda/<literal FunctionName>
    ("Joined", "JoinedLogs"),  # Join ["", ["/aws/lambda/", Ref]]
    ("Subbed", "SubbedLogs"),  # Sub "/aws/lambda/${Fn}"
    ("Variable", "VariableLogs"),  # Sub with a variables map
    ("Audited", None),  # /audit/${Fn}, /aws/lambda/${Fn}-audit, ... are other groups
    ("External", None),  # logs to a group outside the template, never to its default group
])
def test_log_group_of(functions, function_id, group_id):
    assembly, relations = functions
    group = relations.log_group_of(by_id(assembly, function_id))
    assert (group.logical_id if group else None) == group_id


def test_invokers_of(functions):
    assembly, relations = functions
    assert [(kind, r.logical_id) for kind, r in relations.invokers_of(by_id(assembly, "Fn"))] == [
        ("SNS", "TopicPermission"), ("S3", "BucketPermission"),
    ]
    # an apigateway.amazonaws.com permission is synchronous: only the subscription counts
    assert [(kind, r.logical_id) for kind, r in relations.invokers_of(by_id(assembly, "Ingest"))] == [
        ("SNS", "Subscription"),
    ]
    assert [(kind, r.logical_id) for kind, r in relations.invokers_of(by_id(assembly, "Joined"))] == [
        ("EventBridge", "Rule"),
    ]
    assert relations.invokers_of(by_id(assembly, "Subbed")) == []


def test_invoke_configs(functions):
    assembly, relations = functions
    assert relations.invoke_configs == {id(by_id(assembly, "Fn")): by_id(assembly, "FnInvokeConfig")}


def test_log_group_of_a_nested_function_by_output_and_by_parameter(tmp_path):
    write_json(tmp_path / "Child.json", {
        "Parameters": {"LoggerName": {"Type": "String"}},
        "Resources": {
            "ChildFn": {"Type": "AWS::Lambda::Function"},
            "ParentFnLogs": {"Type": "AWS::Logs::LogGroup",
                             "Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${LoggerName}"}}},
        },
        "Outputs": {"FnName": {"Value": {"Ref": "ChildFn"}}},
    })
    path = write_json(tmp_path / "Parent.template.json", {"Resources": {
        "ParentFn": {"Type": "AWS::Lambda::Function"},
        "Child": nested_stack_resource("Child.json", parameters={"LoggerName": {"Ref": "ParentFn"}}),
        "ChildFnLogs": {"Type": "AWS::Logs::LogGroup",
                        "Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${Child.Outputs.FnName}"}}},
    }})
    assembly = Assembly.load(path)
    relations = Relations(assembly)
    assert relations.log_group_of(by_id(assembly, "ChildFn")) is by_id(assembly, "ChildFnLogs")
    assert relations.log_group_of(by_id(assembly, "ParentFn")) is by_id(assembly, "ParentFnLogs")


# --- APIs --------------------------------------------------------------------------------------


def test_stages_of(apis):
    assembly, relations = apis
    assert ids(relations.stages_of(by_id(assembly, "Api"))) == ["Prod", "Beta"]
    assert ids(relations.stages_of(by_id(assembly, "HttpApi"))) == ["HttpStage"]
    assert relations.stages_of(by_id(assembly, "InternalApi")) == []


def test_web_acl_protected(apis):
    assembly, relations = apis
    protected = [r.logical_id for r in assembly.resources() if id(r) in relations.web_acl_protected]
    assert protected == ["Api", "Prod", "LoadBalancer", "ProtectedCdn"]


# --- outputs -----------------------------------------------------------------------------------


@pytest.fixture
def outputs(tmp_path):
    write_json(tmp_path / "Child.nested.json", {
        "Resources": {"ChildQueue": queue(), "Plumbing": queue(), "Hidden": queue()},
        "Outputs": {
            "QueueArn": {"Value": {"Fn::GetAtt": ["ChildQueue", "Arn"]}},
            "PlumbingRef": {"Value": {"Ref": "Plumbing"}},  # CDK's cross-stack plumbing, not surfaced
        },
    })
    write_json(tmp_path / "Parent.template.json", {
        "Resources": {"Child": nested_stack_resource("Child.nested.json"), "ParentQueue": queue(), "Quiet": queue()},
        "Outputs": {
            "ParentQueueUrl": {"Value": {"Ref": "ParentQueue"}, "Export": {"Name": "parent-queue"}},
            "ChildQueueArn": {"Value": {"Fn::GetAtt": ["Child", "Outputs.QueueArn"]}},
        },
    })
    write_json(tmp_path / "Other.template.json", {
        "Resources": {"OtherQueue": queue()},
        "Outputs": {"Imported": {"Value": {"Fn::ImportValue": "parent-queue"}}},
    })
    write_manifest(tmp_path, {"Parent": stack_artifact("Parent.template.json"),
                              "Other": stack_artifact("Other.template.json")})
    assembly = Assembly.load(tmp_path)
    return assembly, Relations(assembly)


def test_is_output_for_top_level_and_surfaced_nested_outputs(outputs):
    assembly, relations = outputs
    assert [s.name for s in assembly.stacks] == ["Parent", "Parent/Child", "Other"]
    assert relations.is_output(by_id(assembly, "ParentQueue"))
    assert relations.is_output(by_id(assembly, "ChildQueue"))  # GetAtt Child.Outputs.QueueArn on the parent
    assert not relations.is_output(by_id(assembly, "Quiet"))
    assert not relations.is_output(by_id(assembly, "Hidden"))
    assert not relations.is_output(by_id(assembly, "OtherQueue"))
    assert not relations.is_output(by_id(assembly, "Child"))


def test_unsurfaced_nested_stack_outputs_do_not_count(outputs):
    """A nested stack's own output is CDK plumbing until the parent surfaces it."""
    assembly, relations = outputs
    assert not relations.is_output(by_id(assembly, "Plumbing"))


def test_output_targets_by_top_level_stack(outputs):
    assembly, relations = outputs
    names = {stack: sorted(r.logical_id for r in assembly.resources() if id(r) in targets)
             for stack, targets in relations.output_targets.items()}
    assert names == {"Parent": ["ChildQueue", "ParentQueue"], "Other": ["ParentQueue"]}


# --- the synthesized pattern_detection assembly ------------------------------------------------


def test_relations_across_nested_stacks_of_a_synthesized_assembly(pattern_assembly):
    relations = Relations(pattern_assembly)
    stream = by_id(pattern_assembly, "MarketDataStreamA0CDB39A")
    alert_queue = by_id(pattern_assembly, "AlertQueue78A7D684")
    # (subset checks: the reference system grows; the hand-written fixtures above pin exact lists)
    mappings = {m.function.logical_id: m.source for m in relations.event_source_mappings}
    # the Compute stack's mappings read the Data stack's resources, through nested parameters
    assert mappings["AlertProcessor3CCB37DD"] is alert_queue
    assert mappings["KinesisConsumer453FA388"] is stream  # through the Data stack's stream consumer
    assert relations.dlq_of(alert_queue) is by_id(pattern_assembly, "AlertQueueDLQA1E60706")
    assert relations.is_dead_letter_queue(by_id(pattern_assembly, "AlertQueueDLQA1E60706"))
    assert not relations.is_dead_letter_queue(alert_queue)
    assert {u.alarm.logical_id for u in relations.alarms_on(alert_queue)} >= {
        "AlertQueueAgeAlarm2BB67F85", "AlertQueueDepthAlarm690F708C",
    }
    # the alarm lives in the Monitoring stack and names the queue through a nested parameter
    assert by_id(pattern_assembly, "AlertQueueAgeAlarm2BB67F85").stack.name.startswith(f"{TOP}/Monitoring")
    detector = by_id(pattern_assembly, "PatternDetector4600CF89")
    assert relations.alarm_metric_names(detector) >= {"Errors", "Throttles"}
    assert relations.log_group_of(detector) is by_id(pattern_assembly, "PatternDetectorLogGroupF814851A")
    api = by_id(pattern_assembly, "ApiF70053CD")
    assert ids(relations.stages_of(api)) == ["ApiDeploymentStageprod3EB9684E"]
    assert id(api) in relations.web_acl_protected
    assert relations.is_output(alert_queue)
