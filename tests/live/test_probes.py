"""The template-derived probes (checks/live/probes/) and the live rules' metadata (rules/live.py).

Each probe kind deploys its fixture template (tests/live/fixtures/probes/<module>.yaml) to the session's
LocalStack, breaks some deployed resources with boto3 the way drift or a wrong deploy would, and names
which resources pass and which fail. The tests without the ``live`` marker cover planning and the
runner's own behaviour (timeouts, errors, a lost endpoint) without LocalStack.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import botocore.exceptions
import pytest

from checks.assembly import Assembly
from checks.live import Endpoint, LocalStackDied
from checks.live.deploy import Deployment, DeployedStack, teardown
from checks.live.localstack import free_port
from checks.live.probes import (
    MODULES,
    Budget,
    Live,
    Probe,
    ProbeFailed,
    ProbeResult,
    execute,
    failed,
    passed,
    plan_probes,
    run_probes,
)
from checks.live.probes import alarms, dlq, outputs, tables
from rules import all_rules
from rules.guard import guard_rules
from rules.live import LIVE_RULES, LiveRule, UnknownLiveRule, live_rule, live_rules, rule_for_kind
from tests.live.flow_support import deploy, fixture_assembly, results_by, verdicts

ROOT = Path(__file__).resolve().parents[2]


# --- deployments of the fixture templates (one per module, torn down after it) ---------------------


@pytest.fixture(scope="module")
def fixture_deployments(localstack, tmp_path_factory):
    """``deployed(name)`` -> the fixture template ``name`` deployed once for this module."""
    deployed = {}

    def get(name: str):
        if name not in deployed:
            base = tmp_path_factory.mktemp(f"probe-{name}")
            deployed[name] = deploy(fixture_assembly(name, base / "assembly"), localstack, base / "outputs")
        return deployed[name]

    yield get
    for item in deployed.values():
        teardown(item.deployment)


def as_external(deployment):
    """The same deployment as seen through an external endpoint (the same LocalStack, not known to be ours)."""
    return dataclasses.replace(deployment, endpoint=dataclasses.replace(deployment.endpoint, kind="external"))


# --- dlq -----------------------------------------------------------------------------------------


@pytest.mark.live
def test_dlq_probe_passes_when_the_poison_message_reaches_the_dlq_and_fails_otherwise(fixture_deployments):
    deployed = fixture_deployments("dlq")
    sqs = deployed.client("sqs")
    elsewhere = sqs.get_queue_attributes(QueueUrl=deployed.physical_id("Elsewhere"),
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=deployed.physical_id("Misdirected"), Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": elsewhere, "maxReceiveCount": 2})})
    sqs.set_queue_attributes(QueueUrl=deployed.physical_id("Patched"), Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": elsewhere, "maxReceiveCount": 2})})
    dlq_arn = sqs.get_queue_attributes(QueueUrl=deployed.physical_id("Dlq"),
                                       AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=deployed.physical_id("Hasty"), Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})
    sqs.set_queue_attributes(QueueUrl=deployed.physical_id("Stuck"), Attributes={"RedrivePolicy": ""})
    sqs.send_message(QueueUrl=deployed.physical_id("Dlq"), MessageBody="an earlier failure, kept for inspection")
    lam = deployed.client("lambda")
    mapping = deployed.physical_id("ConsumedMapping")

    results = deployed.probe()

    assert verdicts(results, "dlq") == {
        "Redriven": "pass", "FifoRedriven": "pass", "StringPolicy": "pass", "Consumed": "pass",
        "TooPatient": "fail", "Unprotected": "fail", "Misdirected": "fail", "Dangling": "fail", "Hasty": "fail",
        "Patched": "fail", "Stuck": "fail",
    }
    by_id = results_by(results, "dlq")
    assert "after 2 receives (maxReceiveCount 2)" in by_id["Redriven"].detail
    assert "after 1 receives (maxReceiveCount 1)" in by_id["StringPolicy"].detail
    assert "1 event source mapping(s) paused" in by_id["Consumed"].detail
    assert "beyond the probe's budget" in by_id["TooPatient"].detail
    assert "no redrive policy" in by_id["Unprotected"].detail and "received 5 times" in by_id["Unprotected"].detail
    assert "gone from the queue after 2 receives but not in" in by_id["Misdirected"].detail
    assert by_id["Dangling"].detail == ("the dead-letter queue stackgrade-probe-fixture-nowhere the redrive policy "
                                        "names does not exist")
    assert "reached " in by_id["Hasty"].detail and "after 1 receives, not 3" in by_id["Hasty"].detail
    assert "left it after 2 receives for a place the template does not name" in by_id["Patched"].detail
    assert "still in the queue after 3 receives but not in" in by_id["Stuck"].detail
    assert {r.rule_id for r in by_id.values()} == {"SG-LIVE-001"}
    # The paused consumers run again, and the probe left no message behind.
    assert lam.get_event_source_mapping(UUID=mapping)["State"] in ("Enabled", "Enabling")
    for queue, left in (("Redriven", "0"), ("Dlq", "1"), ("Consumed", "0"), ("ConsumerDlq", "0"),
                        ("Unprotected", "0"), ("Stuck", "0")):
        attributes = sqs.get_queue_attributes(QueueUrl=deployed.physical_id(queue), AttributeNames=["All"])
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == left, queue


@pytest.mark.live
def test_dlq_probe_of_a_queue_whose_redrive_policy_names_nothing_left_fails(fixture_deployments, localstack):
    deployed = fixture_deployments("dlq")
    sqs = deployed.client("sqs")
    queue = deployed.deployment.assembly.stacks[0].resources["StringPolicy"]
    url = deployed.physical_id("StringPolicy")
    live = Live(deployed.deployment)
    # The template names no queue of its own and the literal ARN is dropped: nothing is left to look at.
    verdict = dlq.probe_queue(queue, {"deadLetterTargetArn": {"Fn::Sub": "arn:${AWS::Partition}:sqs"},
                                      "maxReceiveCount": 1}, live, Budget(10))
    assert verdict == passed("the poison message reached stackgrade-probe-fixture-dlq after 1 receives "
                             "(maxReceiveCount 1)")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})
    with pytest.raises(ProbeFailed, match="names no queue of the template"):
        dlq.probe_queue(queue, {"deadLetterTargetArn": {"Fn::Sub": "arn:${AWS::Partition}:sqs"},
                                "maxReceiveCount": 1}, live, Budget(10))
    with pytest.raises(ProbeFailed, match="is not a number"):
        dlq.probe_queue(queue, {"deadLetterTargetArn": "x", "maxReceiveCount": {"Ref": "Count"}}, live, Budget(10))


# --- alarms --------------------------------------------------------------------------------------


@pytest.mark.live
def test_alarm_probe_passes_when_the_topic_notifies_and_fails_otherwise(fixture_deployments):
    deployed = fixture_deployments("alarms")
    cloudwatch = deployed.client("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName=deployed.physical_id("AlreadyAlarming"), StateValue="ALARM",
                               StateReason="test")
    cloudwatch.disable_alarm_actions(AlarmNames=[deployed.physical_id("Muted")])
    cloudwatch.delete_alarms(AlarmNames=[deployed.physical_id("Deleted")])
    stripped = cloudwatch.describe_alarms(AlarmNames=[deployed.physical_id("Stripped")])["MetricAlarms"][0]
    cloudwatch.put_metric_alarm(**{key: stripped[key] for key in (
        "AlarmName", "Namespace", "MetricName", "Statistic", "Period", "EvaluationPeriods", "Threshold",
        "ComparisonOperator")}, AlarmActions=[])

    results = deployed.probe(timeout=4)

    assert verdicts(results, "alarm") == {"Notifying": "pass", "AlreadyAlarming": "pass", "Orphaned": "fail",
                                          "Muted": "fail", "Stripped": "fail", "Deleted": "fail"}
    by_id = results_by(results, "alarm")
    assert "was notified" in by_id["Notifying"].detail
    assert "stackgrade-probe-fixture-nobody does not exist" in by_id["Orphaned"].detail
    assert "no notification reached a subscriber" in by_id["Muted"].detail and "within 4 s" in by_id["Muted"].detail
    assert "lack the template's topic" in by_id["Stripped"].detail
    assert by_id["Deleted"].detail.endswith("does not exist") and by_id["Deleted"].detail.startswith("alarm ")
    # The probe puts an alarm's state back, and removes its subscriber queue and subscription.
    assert cloudwatch.describe_alarms(AlarmNames=[deployed.physical_id("Notifying")])["MetricAlarms"][0][
        "StateValue"] in ("OK", "INSUFFICIENT_DATA")
    topic = deployed.physical_id("Topic")
    assert deployed.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    assert not [url for url in deployed.client("sqs").list_queues().get("QueueUrls", []) if "stackgrade-probe-" in url
                and "fixture" not in url]


# --- outputs and emulation -----------------------------------------------------------------------


@pytest.mark.live
def test_output_probe_resolves_every_kind_of_output_and_reports_what_it_cannot(fixture_deployments):
    deployed = fixture_deployments("outputs")
    deployed.client("sqs").delete_queue(QueueUrl=deployed.physical_id("DoomedQueue"))

    results = deployed.probe()

    found = verdicts(results, "output")
    good = {key: "pass" for key in found if key.startswith("Good")}
    assert len(good) == 34
    assert found == {**good, "UnrecognisedUrl": "fail", "UnrecognisedArn": "fail", "UnrecognisedType": "fail",
                     "StagelessUrl": "fail", "MissingStage": "fail", "BrokenApi": "fail", "GoneQueueUrl": "fail",
                     "Missing": "fail", "ClusterName": "not-emulated"}
    by_id = results_by(results, "output")
    assert "API " in by_id["GoodApiUrl"].detail and "answers GET /health with HTTP 200" in by_id["GoodApiUrl"].detail
    assert "answers GET /health with HTTP 200" in by_id["GoodPathStyleApiUrl"].detail
    for key in ("UnrecognisedUrl", "UnrecognisedArn", "UnrecognisedType", "StagelessUrl"):
        assert "is not recognisable" in by_id[key].detail, key
    assert "no deployed API" in by_id["MissingStage"].detail
    assert "HTTP 500" in by_id["BrokenApi"].detail
    assert "does not resolve" in by_id["GoneQueueUrl"].detail and "NonExistentQueue" in by_id["GoneQueueUrl"].detail
    assert "missing from the deployed stack" in by_id["Missing"].detail
    assert "AWS::ECS::Cluster" in by_id["ClusterName"].detail
    assert "Region" not in found  # names no resource: nothing to resolve
    assert {r.rule_id for r in by_id.values()} == {"SG-LIVE-003"}
    assert [(r.logical_id, r.result, r.rule_id) for r in results if r.kind == "emulation"] == [
        ("Cluster", "not-emulated", None)]


@pytest.mark.live
def test_arn_checks_cover_what_the_fixture_cannot_deploy(fixture_deployments):
    deployed = fixture_deployments("outputs")
    live = Live(deployed.deployment)
    lam = deployed.client("lambda")
    layer = lam.publish_layer_version(LayerName="stackgrade-probe-fixture-layer",
                                      Content={"ZipFile": _zip({"python/shared.py": "VALUE = 1\n"})})
    try:
        check = outputs.recognise(layer["LayerVersionArn"], [])
        assert "layer version stackgrade-probe-fixture-layer:" in check(live, Budget(10))
    finally:
        lam.delete_layer_version(LayerName="stackgrade-probe-fixture-layer", VersionNumber=layer["Version"])
    stage = deployed.deployment.assembly.stacks[0].resources["Stage"]
    orphan = type(stage)(stage.stack, "Orphan", stage.type, {"RestApiId": "abc"}, {})
    with pytest.raises(ProbeFailed, match="stage's REST API is not known"):
        outputs.check_stage("live", orphan, live, Budget(10))
    with pytest.raises(ProbeFailed, match="no log group"):
        outputs.check_log_group("stackgrade-probe-no-such-group", None, live, Budget(10))
    with pytest.raises(ProbeFailed, match="no alarm"):
        outputs.check_alarm("stackgrade-probe-no-such-alarm", None, live, Budget(10))
    with pytest.raises(ProbeFailed, match="got no answer"):
        closed = Live(Deployment(deployed.deployment.assembly, Endpoint(f"http://127.0.0.1:{free_port()}", "external"),
                                 "x", Path(".")))
        outputs.check_api_url("abc", "prod", "", closed, Budget(5))


# --- functions, log groups, tables, event sources ------------------------------------------------


@pytest.mark.live
def test_function_probes_compare_tracing_and_reserved_concurrency(fixture_deployments):
    deployed = fixture_deployments("functions")
    lam = deployed.client("lambda")
    lam.update_function_configuration(FunctionName=deployed.physical_id("Untraced"),
                                      TracingConfig={"Mode": "PassThrough"})
    lam.get_waiter("function_updated_v2").wait(FunctionName=deployed.physical_id("Untraced"))
    lam.delete_function_concurrency(FunctionName=deployed.physical_id("ReservedRemoved"))
    lam.put_function_concurrency(FunctionName=deployed.physical_id("Overcommitted"), ReservedConcurrentExecutions=1)

    results = deployed.probe()

    assert verdicts(results, "tracing") == {"Traced": "pass", "PassThrough": "pass", "Untraced": "fail"}
    reserved = verdicts(results, "reserved-concurrency")
    assert reserved == {"Reserved": "pass", "ReservedRemoved": "fail", "Overcommitted": "fail"}
    by_id = {(r.kind, r.logical_id): r for r in results}
    assert "tracing mode is PassThrough on the deployed function, the template says Active" in \
        by_id["tracing", "Untraced"].detail
    assert "reserved concurrency is 1 on the deployed function, the template says 4" in \
        by_id["reserved-concurrency", "Overcommitted"].detail
    assert "the deployed function reserves no concurrency, the template says 3" in \
        by_id["reserved-concurrency", "ReservedRemoved"].detail
    # An external LocalStack may lack the plugins that apply the setting: a missing one proves nothing there.
    assert verdicts(run_probes(as_external(deployed.deployment)), "reserved-concurrency")["ReservedRemoved"] == \
        "not-emulated"
    assert {r.rule_id for r in results if r.kind == "tracing"} == {"SG-LIVE-004"}
    assert {r.rule_id for r in results if r.kind == "reserved-concurrency"} == {"SG-LIVE-005"}


@pytest.mark.live
def test_log_group_probe_compares_retention(fixture_deployments):
    deployed = fixture_deployments("log_groups")
    logs = deployed.client("logs")
    logs.delete_retention_policy(logGroupName=deployed.physical_id("KeptRemoved"))
    logs.put_retention_policy(logGroupName=deployed.physical_id("Shortened"), retentionInDays=1)
    logs.delete_log_group(logGroupName=deployed.physical_id("Vanished"))

    results = deployed.probe()

    found = verdicts(results, "log-retention")
    assert found == {"Kept": "pass", "KeptRemoved": "fail", "Shortened": "fail", "Vanished": "fail"}
    by_id = results_by(results, "log-retention")
    assert "retention is 1 days on the deployed log group, the template says 90" in by_id["Shortened"].detail
    assert "does not exist" in by_id["Vanished"].detail
    assert "the deployed log group keeps logs forever, the template says 30 days" in by_id["KeptRemoved"].detail
    assert verdicts(run_probes(as_external(deployed.deployment)), "log-retention")["KeptRemoved"] == "not-emulated"


@pytest.mark.live
def test_table_probes_compare_pitr_and_streams(fixture_deployments):
    deployed = fixture_deployments("tables")
    dynamodb = deployed.client("dynamodb")
    dynamodb.update_continuous_backups(TableName=deployed.physical_id("Regressed"),
                                       PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
    dynamodb.update_table(TableName=deployed.physical_id("Unstreamed"), StreamSpecification={"StreamEnabled": False})

    results = deployed.probe()

    assert verdicts(results, "pitr") == {"Recovered": "pass", "Unrecovered": "pass", "Regressed": "fail"}
    assert verdicts(results, "stream") == {"Recovered": "pass", "Unstreamed": "fail"}
    assert "DISABLED on the deployed table, the template asks for ENABLED" in results_by(results, "pitr")[
        "Regressed"].detail
    assert "has no stream" in results_by(results, "stream")["Unstreamed"].detail
    # A stream's view type cannot change once it exists (moto refuses re-enabling, as AWS does for a while):
    # the probe is asked to expect another view type of the deployed stream instead.
    recovered = deployed.deployment.assembly.stacks[0].resources["Recovered"]
    verdict = tables.probe_stream(recovered, "KEYS_ONLY", Live(deployed.deployment), Budget(10))
    assert verdict.result == "fail" and "streams NEW_AND_OLD_IMAGES, the template asks for KEYS_ONLY" in verdict.detail


@pytest.mark.live
def test_event_source_probes_compare_batching_and_failure_handling(fixture_deployments):
    deployed = fixture_deployments("event_sources")
    lam = deployed.client("lambda")
    lam.update_event_source_mapping(UUID=deployed.physical_id("Rebatched"), BatchSize=7, FunctionResponseTypes=[])
    elsewhere = deployed.client("sqs").get_queue_attributes(QueueUrl=deployed.physical_id("Elsewhere"),
                                                            AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.update_event_source_mapping(UUID=deployed.physical_id("Redirected"),
                                    DestinationConfig={"OnFailure": {"Destination": elsewhere}})

    results = deployed.probe()

    assert verdicts(results, "esm-batching") == {"Batched": "pass", "Rebatched": "fail", "StreamMapping": "pass"}
    assert verdicts(results, "esm-failure-handling") == {"Batched": "pass", "Rebatched": "fail",
                                                         "StreamMapping": "pass", "Redirected": "fail"}
    batching, handling = results_by(results, "esm-batching"), results_by(results, "esm-failure-handling")
    assert "BatchSize is 7, the template says 5" in batching["Rebatched"].detail
    assert "FunctionResponseTypes is [], the template says ['ReportBatchItemFailures']" in handling["Rebatched"].detail
    assert "OnFailure=Failures" in handling["StreamMapping"].detail
    assert "the template names Failures" in handling["Redirected"].detail


# --- the runner, without LocalStack --------------------------------------------------------------


def offline_live(template: dict | None = None, alive=None) -> Live:
    """A ``Live`` over an assembly that was never deployed (planning and the runner need no endpoint)."""
    assembly = Assembly.from_templates({"Offline": template or {"Resources": {}}})
    endpoint = Endpoint(f"http://127.0.0.1:{free_port()}", "external")
    deployment = Deployment(assembly, endpoint, "test", Path("."), alive=alive)
    deployment.stacks.append(DeployedStack("Offline", "Offline-test", "id"))
    return Live(deployment)


def test_a_probe_that_overruns_its_budget_fails_with_a_timeout():
    def slow(_live, budget):
        time.sleep(0.3)
        budget.check("waiting on purpose")
        return passed("never")

    result = execute(Probe("dlq", "Offline", "Q", "AWS::SQS::Queue", slow), offline_live(), timeout=0.1)
    assert (result.result, result.rule_id) == ("fail", "SG-LIVE-001")
    assert result.detail == "timed out after 0.1 s while waiting on purpose"


def test_a_probe_that_hangs_is_abandoned_after_its_timeout(monkeypatch):
    import checks.live.probes as probes

    monkeypatch.setattr(probes, "GRACE_SECONDS", 0.1)
    release = threading.Event()
    started = time.perf_counter()
    result = execute(Probe("tracing", "Offline", "F", "AWS::Lambda::Function",
                           lambda _live, _budget: release.wait(5) and passed("late")), offline_live(), timeout=0.2)
    release.set()
    assert result.result == "fail" and result.detail.startswith("timed out after 0.2 s")
    assert time.perf_counter() - started < 2


def test_errors_of_a_probe_become_its_failure_and_a_lost_endpoint_ends_the_run():
    live = offline_live()

    def raising(error):
        def run(_live, _budget):
            raise error
        return run

    client_error = botocore.exceptions.ClientError({"Error": {"Code": "Nope", "Message": "no such thing"}}, "GetThing")
    assert execute(Probe("pitr", "Offline", "T", None, raising(client_error)), live, 5).detail == \
        "GetThing failed: Nope: no such thing"
    assert execute(Probe("pitr", "Offline", "T", None, raising(ValueError("odd"))), live, 5).detail == \
        "the probe failed with ValueError: odd"
    assert execute(Probe("pitr", "Offline", "T", None, raising(ProbeFailed("plain"))), live, 5).detail == "plain"
    with pytest.raises(KeyboardInterrupt):
        execute(Probe("pitr", "Offline", "T", None, raising(KeyboardInterrupt())), live, 5)

    refused = botocore.exceptions.EndpointConnectionError(endpoint_url=live.deployment.endpoint.url)
    with pytest.raises(LocalStackDied, match="stopped answering during the probes"):
        execute(Probe("dlq", "Offline", "Q", None, raising(refused)), live, 30)
    checked = []
    watched = offline_live(alive=lambda: checked.append(True))
    with pytest.raises(LocalStackDied):
        execute(Probe("dlq", "Offline", "Q", None, raising(refused)), watched, 30)
    assert checked == [True]


def test_resources_of_types_not_emulated_are_never_probed_or_passed():
    result = execute(Probe("alarm", "Offline", "Svc", "AWS::ECS::Service", lambda *_: passed("no")), offline_live(), 5)
    assert (result.result, result.detail) == ("not-emulated", "AWS::ECS::Service is not emulated; not probed")


def test_run_probes_plans_from_the_template_and_reports_progress():
    lines = []
    assert run_probes(offline_live().deployment, progress=lines.append) == []
    assert lines == ["Running 0 probes", "Probes done: 0 without failure, 0 failed in 0.0 s"]


def test_clean_ups_run_newest_first_and_one_failing_does_not_stop_the_others():
    live = offline_live()
    order = []
    live.on_close(lambda: order.append("first"))
    live.on_close(lambda: 1 / 0)
    live.on_close(lambda: order.append("last"))
    live.close()
    assert order == ["last", "first"]
    assert live.shared("k", lambda: object()) is live.shared("k", lambda: object())


def test_budget_bounds_waits():
    answers = iter([False, False, True])
    Budget(5).until(lambda: next(answers), "polling", interval=0.01)
    with pytest.raises(ProbeFailed, match="while polling forever"):
        Budget(0.05).until(lambda: False, "polling forever", interval=0.01)
    budget = Budget(0.05)
    assert budget.wait_seconds(1) == 0
    budget.sleep(10, "sleeping")
    assert budget.remaining() == 0
    with pytest.raises(ProbeFailed, match="timed out after 0.05 s while checking"):
        budget.check("checking")


def test_probes_are_planned_only_for_what_the_template_sets_literally():
    queue = {"Type": "AWS::SQS::Queue"}
    template = {"Resources": {
        "Idle": queue,
        "Bad": {"Type": "AWS::SQS::Queue", "Properties": {"RedrivePolicy": "{not json"}},
        "Global": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {
            "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
            "Replicas": [{"Region": "eu-west-1", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": False}},
                         {"Region": {"Ref": "AWS::Region"},
                          "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}]}},
        "Elsewhere": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {
            "Replicas": [{"Region": "eu-west-1", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}]}},
        "Computed": {"Type": "AWS::Lambda::Function", "Properties": {
            "TracingConfig": {"Mode": {"Ref": "Mode"}}, "ReservedConcurrentExecutions": {"Ref": "Count"}}},
        "Topic": {"Type": "AWS::SNS::Topic"},
        "ToTopic": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmActions": [{"Ref": "Topic"}]}},
        "ToLiteral": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmActions": ["arn:aws:sns:us-east-1:000000000000:ops"]}},
        "ToScaling": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmActions": ["arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:x"]}},
    }, "Outputs": {"Literal": {"Value": "x"}, "TopicArn": {"Value": {"Ref": "Topic"}}}}
    planned = {(p.kind, p.logical_id) for p in plan_probes(offline_live(template))}
    assert planned == {("pitr", "Global"), ("stream", "Global"), ("alarm", "ToTopic"), ("alarm", "ToLiteral"),
                       ("output", "TopicArn")}


def test_values_are_recognised_by_form_or_by_the_type_they_name():
    queue = Assembly.from_templates({"S": {"Resources": {"Q": {"Type": "AWS::SQS::Queue"},
                                                          "P": {"Type": "AWS::IAM::Policy"}}}}).stacks[0]
    q, p = queue.resources["Q"], queue.resources["P"]
    assert outputs.recognise("http://sqs.us-east-1.localhost:4566/000000000000/orders", [q]).func is \
        outputs.check_queue_url
    assert outputs.recognise("http://sqs.us-east-1.localhost:4566/000000000000/orders", [p]) is None
    assert outputs.recognise("https://abc.execute-api.us-east-1.amazonaws.com/prod/x", []).args == ("abc", "prod", "x")
    assert outputs.recognise("http://h/_aws/execute-api/abc/prod", []).args == ("abc", "prod", "")
    assert outputs.recognise("arn:aws:ecs:us-east-1:0:cluster/x", []) is None
    assert outputs.recognise("arn:aws:sqs", []) is None
    assert outputs.recognise("orders", [p]) is None
    assert outputs.recognise("orders", [p, q]).func is outputs.check_queue_name


def test_helpers_read_odd_values_safely():
    assert alarms.notification_of("not json") == ("", "")
    assert alarms.notification_of(json.dumps({"Message": json.dumps({"AlarmName": "a", "NewStateValue": "OK"})})) == \
        ("a", "OK")
    queue = Assembly.from_templates({"S": {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {
        "RedrivePolicy": "{broken"}}}}}).stacks[0].resources["Q"]
    assert dlq.redrive_policy(queue) is None
    assert dlq.paused_note(0) == "" and dlq.paused_note(2) == "; 2 event source mapping(s) paused"
    live = offline_live({"Resources": {"T": {"Type": "AWS::DynamoDB::Table"}}})
    assert tables.pitr_setting(live, live.assembly.stacks[0].resources["T"]) is None
    with pytest.raises(ProbeFailed, match="was not deployed"):
        live.require_physical_id(live.assembly.stacks[0].resources["T"])
    assert failed("x").result == "fail"


# --- the live rules' metadata --------------------------------------------------------------------


def test_every_probe_kind_has_one_live_rule_and_every_rule_its_module_and_fixture():
    kinds = {kind for rule in live_rules() for kind in rule.kinds}
    assert kinds == {"dlq", "alarm", "output", "tracing", "reserved-concurrency", "log-retention", "pitr", "stream",
                     "esm-batching", "esm-failure-handling", "deploy"}
    for rule in live_rules():
        assert rule.module in MODULES or rule.source_path, rule.id  # deploy: proven by the deployment (run.py)
        assert (ROOT / rule.source).is_file() and (ROOT / rule.fixture).is_file(), rule.id
        assert rule_for_kind(rule.kinds[0]) is rule and live_rule(rule.id) is rule
        assert rule.rationale.strip() and rule.remediation.strip() and rule.probe.strip()


def test_live_rules_share_no_id_or_title_with_the_catalogue_or_guard_rules():
    others = [*all_rules(), *guard_rules()]
    assert not {r.id for r in live_rules()} & {r.id for r in others}
    assert not {r.title for r in live_rules()} & {r.title for r in others}


def test_unknown_live_rules_and_bad_metadata_are_errors():
    with pytest.raises(UnknownLiveRule, match="'SG-NOPE-001' is not a live rule; known: SG-LIVE-001"):
        live_rule("SG-NOPE-001")
    with pytest.raises(KeyError):
        rule_for_kind("nope")
    good = LIVE_RULES[0]
    with pytest.raises(ValueError, match="live rule SG-LIVE-001: probe must not be empty"):
        LiveRule(**{**good.__dict__, "probe": " "})
    with pytest.raises(ValueError, match="names its probe kinds"):
        LiveRule(**{**good.__dict__, "kinds": ()})
    assert good.category == "reliability"


def test_duplicate_live_rules_are_an_error(monkeypatch):
    import rules.live as module

    for changes, message in (({"id": "SG-LIVE-002"}, "share an id"), ({"title": LIVE_RULES[1].title}, "share a title"),
                             ({"kinds": ("alarm",)}, "share a probe kind")):
        duplicate = LiveRule(**{**LIVE_RULES[0].__dict__, **changes})
        monkeypatch.setattr(module, "LIVE_RULES", (duplicate, *LIVE_RULES[1:]))
        live_rules.cache_clear()
        try:
            with pytest.raises(ValueError, match=message):
                live_rules()
        finally:
            monkeypatch.undo()
            live_rules.cache_clear()


def _zip(files: dict[str, str]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_probe_result_serialises_every_field():
    result = ProbeResult("dlq", "S", "Q", "AWS::SQS::Queue", "pass", "ok", 0.5, "SG-LIVE-001")
    assert result.to_dict() == {"kind": "dlq", "stack": "S", "logical_id": "Q", "resource_type": "AWS::SQS::Queue",
                                "result": "pass", "detail": "ok", "seconds": 0.5, "rule_id": "SG-LIVE-001"}


def test_live_rules_are_documented_from_their_metadata():
    from rules.docs import render_all

    files = render_all()
    assert "11 proven live by probes of the deployed app (`rules/live.py`, engine `live`)" in files["rules.md"]
    for rule in live_rules():
        page = files[f"rules/{rule.id}.md"]
        for text in (f"# {rule.id}: {rule.title}", f"| Engine | live (probe kind `{rule.kinds[0]}`",
                     f"[`{rule.source}`](../../{rule.source})", "## How it is probed", rule.probe, rule.remediation,
                     f"(../../{rule.fixture})", *(f"- {seed}" for seed in rule.seeds)):
            assert text in page, (rule.id, text)
        assert f"| [{rule.id}](rules/{rule.id}.md) | {rule.title} | {rule.severity} | {rule.category} |" in \
            files["rules.md"]
