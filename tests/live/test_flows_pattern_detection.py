"""pattern_detection end to end on LocalStack (seed 004): workflow, EventBridge, Kinesis, approvals.

The ideal variant (a parent stack and five nested stacks) is synthesized, deployed and driven through
``cfn-outputs/flat-outputs.json``: the express workflow runs its three detectors in parallel; the EventBridge
rule starts the workflow; a Kinesis record reaches the consumer and is stored; a critical pattern goes
through the alert queue to an approval whose second decision gets 409.
"""

from __future__ import annotations

import json
import uuid

import botocore.config
import pytest

from tests.live.flow_support import api_request, deployed_reference, inbox, received, wait_until

pytestmark = pytest.mark.live
SYSTEM = "pattern_detection"
BRANCHES = {"Detect-head-and-shoulders", "Detect-double-top", "Detect-ascending-triangle"}
END_EVENTS = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
# A head-and-shoulders shape: the detector scores it 0.99, so the workflow queues an alert.
PRICES = [10, 12, 15, 13, 11, 14, 18, 14, 11, 13, 15, 12, 10]


@pytest.fixture(scope="module")
def ideal(localstack, tmp_path_factory):
    with deployed_reference(SYSTEM, "ideal", localstack, tmp_path_factory.mktemp(f"{SYSTEM}-ideal")) as deployed:
        yield deployed


def symbol() -> str:
    return f"T{uuid.uuid4().hex[:6].upper()}"


def workflow_events(deployed, execution_arn: str | None = None, text: str | None = None) -> list[dict]:
    """The analysis workflow's execution log (its log group, level ALL), of one execution or mentioning ``text``."""
    logs = deployed.client("logs")
    group = next(g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]
                 if g["logGroupName"].startswith("/aws/vendedlogs/states/PatternAnalysisWorkflow-"))
    events = [json.loads(e["message"]) for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group)
              for e in page["events"]]
    if execution_arn is not None:
        return [e for e in events if e.get("execution_arn") == execution_arn]
    runs = {e.get("execution_arn") for e in events if text in json.dumps(e)}
    return [e for e in events if e.get("execution_arn") in runs]


def state_names(events: list[dict], kind: str) -> set[str]:
    return {e["details"]["name"] for e in events if e.get("type") == kind}


def test_the_express_workflow_runs_its_parallel_branches(ideal):
    # StartSyncExecution's endpoint is "sync-<host>" on AWS; LocalStack answers on its own address.
    sfn = ideal.deployment.session.client("stepfunctions", config=botocore.config.Config(inject_host_prefix=False))
    name = symbol()
    run = sfn.start_sync_execution(stateMachineArn=ideal.outputs["PatternAnalysisStateMachineArn"],
                                   input=json.dumps({"symbol": name, "prices": PRICES}))
    assert run["status"] == "SUCCEEDED", run.get("cause")
    events = wait_until(lambda: workflow_events(ideal, run["executionArn"]), what="the workflow's execution log")
    assert BRANCHES <= state_names(events, "TaskStateEntered")
    assert state_names(events, "TaskStateExited") >= BRANCHES | {"ConfidenceScoring", "AlertDecision", "QueueAlert"}
    assert {e["type"] for e in events} >= {"ParallelStateSucceeded", "ExecutionSucceeded"}


def test_the_eventbridge_rule_starts_the_workflow(ideal):
    name = symbol()
    ideal.client("events").put_events(Entries=[{"Source": "stock.pattern.detection",
                                                "DetailType": "PatternAnalysisRequested",
                                                "Detail": json.dumps({"symbol": name, "prices": PRICES})}])
    events = wait_until(lambda: ended(workflow_events(ideal, text=name)), timeout=10,
                        what="a workflow run for the event to end")
    assert "ExecutionSucceeded" in {e["type"] for e in events}


def ended(events: list[dict]) -> list[dict]:
    """The events of a run once its log shows how it ended (it is written while the run goes on), else []."""
    return events if {e.get("type") for e in events} & END_EVENTS else []


def put_pattern(deployed, pattern: dict) -> str:
    """Put one market-data record on the stream; its sequence number."""
    return deployed.client("kinesis").put_record(StreamName=deployed.outputs["MarketDataStreamName"],
                                                 Data=json.dumps(pattern).encode(),
                                                 PartitionKey=pattern["symbol"])["SequenceNumber"]


def test_a_kinesis_record_reaches_the_consumer_and_is_stored(ideal):
    name = symbol()
    put_pattern(ideal, {"symbol": name, "patternType": "double-top", "confidence": 0.5})
    dynamodb = ideal.client("dynamodb")

    def stored():
        return [item for item in dynamodb.scan(TableName=ideal.outputs["TradingPatternsTableName"],
                                               FilterExpression="symbol = :s",
                                               ExpressionAttributeValues={":s": {"S": name}})["Items"]]

    items = wait_until(stored, timeout=60, what="the consumer to store the record")
    assert [(i["patternType"]["S"], i["confidence"]["N"], i["status"]["S"], i["source"]["S"]) for i in items] == [
        ("double-top", "0.5", "DETECTED", "kinesis")]


def test_a_second_decision_on_the_same_approval_gets_409(ideal, localstack):
    api_key = ideal.client("apigateway").get_api_key(apiKey=ideal.outputs["ApiKeyId"], includeValue=True)["value"]
    sns = ideal.client("sns")
    name = symbol()
    with inbox(ideal, "flow-approvals") as (queue_url, queue_arn):
        subscription = sns.subscribe(TopicArn=ideal.outputs["ApprovalRequestsTopicArn"], Protocol="sqs",
                                     Endpoint=queue_arn, ReturnSubscriptionArn=True)["SubscriptionArn"]
        try:
            # Critical (confidence >= 0.95): stream -> consumer -> alert queue -> alert processor -> approval.
            put_pattern(ideal, {"symbol": name, "patternType": "head-and-shoulders", "confidence": 0.97})
            requests = wait_until(lambda: received(ideal, queue_url, lambda body: name in body), timeout=90,
                                  what="the approval request for the critical pattern")
        finally:
            sns.unsubscribe(SubscriptionArn=subscription)
    request = json.loads(json.loads(requests[0]["Body"])["Message"])
    assert request["severity"] == "CRITICAL" and request["symbol"] == name
    url = ideal.outputs["ApiUrl"].rstrip("/") + request["approvePath"]
    decision = {"decision": "approve", "approver": "flow-test"}
    first = api_request(localstack, url, "POST", decision, headers={"x-api-key": api_key})
    assert (first.status, first.json()["status"]) == (200, "APPROVED"), first.body
    second = api_request(localstack, url, "POST", decision, headers={"x-api-key": api_key})
    assert second.status == 409 and second.json()["status"] == "APPROVED", second.body


def test_every_probe_of_the_ideal_deployment_passes_or_is_not_emulated(ideal):
    results = ideal.probe()
    assert [r for r in results if r.result == "fail"] == []
    not_emulated = {r.resource_type for r in results if r.kind == "emulation"}
    assert {"AWS::CodeDeploy::Application", "AWS::WAFv2::WebACL"} <= not_emulated
    alarm_stacks = {r.stack for r in results if r.kind == "alarm"}
    assert alarm_stacks and all(stack.startswith(ideal.deployment.stacks[0].name + "/") for stack in alarm_stacks)
    print(f"\n{SYSTEM} ideal: deployed in {ideal.deploy_seconds:.1f} s, {len(results)} probes in "
          f"{ideal.probe_seconds:.1f} s")
