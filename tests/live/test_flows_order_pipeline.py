"""order_pipeline end to end on LocalStack (seed 003): API -> validator -> queue -> processor -> table -> GSI.

The ideal variant is synthesized, deployed and driven through ``cfn-outputs/flat-outputs.json`` as the
seed's integration tests do: an invalid body is refused by API Gateway's request validator, a valid order
is stored and found by customer through the GSI, a poison order ends in the DLQ and the DLQ alarm notifies
its topic. The baseline variant (no DLQ) loses its poison message, and the DLQ probe says so.
"""

from __future__ import annotations

import uuid

import pytest

from tests.live.flow_support import (
    api_request,
    deployed_reference,
    inbox,
    queue_alarm,
    received,
    results_by,
    shorten_visibility,
    wait_for_alarm,
    wait_until,
)

pytestmark = pytest.mark.live
SYSTEM = "order_pipeline"
# The embedded LocalStack reports queue depth to CloudWatch every 5 s (SQS_CLOUDWATCH_METRICS_REPORT_INTERVAL),
# so the DLQ alarm follows its first message within seconds, not LocalStack's default minute.
ALARM_SECONDS = 30


@pytest.fixture(scope="module")
def ideal(localstack, tmp_path_factory):
    with deployed_reference(SYSTEM, "ideal", localstack, tmp_path_factory.mktemp(f"{SYSTEM}-ideal")) as deployed:
        yield deployed


def order(customer: str, order_id: str | None = None) -> dict:
    return {"orderId": order_id or f"o-{uuid.uuid4().hex[:10]}", "customerId": customer,
            "items": [{"productId": "sku-1", "quantity": 2, "price": 1250}]}


def test_an_invalid_body_is_refused_by_the_request_validator(ideal, localstack):
    response = api_request(localstack, ideal.outputs["OrdersUrl"], "POST", {"orderId": "o-1"})
    assert response.status == 400
    assert response.json() == {"message": "Invalid request body"}  # API Gateway's answer, not the handler's


def test_a_valid_order_is_stored_and_found_by_customer_through_the_index(ideal, localstack):
    customer = f"c-{uuid.uuid4().hex[:8]}"
    placed = order(customer)
    response = api_request(localstack, ideal.outputs["OrdersUrl"], "POST", placed)
    assert response.status == 202, response.body
    dynamodb = ideal.client("dynamodb")

    def stored():
        return dynamodb.query(
            TableName=ideal.outputs["OrdersTableName"], IndexName=ideal.outputs["CustomerIndexName"],
            KeyConditionExpression="customerId = :c", ExpressionAttributeValues={":c": {"S": customer}},
        )["Items"]

    items = wait_until(stored, timeout=60, what="the order to be processed into the table")
    assert [(i["orderId"]["S"], i["status"]["S"], i["totalAmount"]["N"]) for i in items] == [
        (placed["orderId"], "PROCESSED", "2500")]


def test_a_poison_order_ends_in_the_dlq_and_its_alarm_notifies(ideal):
    sqs, sns = ideal.client("sqs"), ideal.client("sns")
    queue, dlq = ideal.outputs["OrderQueueUrl"], ideal.outputs["DLQUrl"]
    shorten_visibility(ideal, queue)
    alarm = queue_alarm(ideal, dlq)
    assert ideal.outputs["AlarmTopicArn"] in alarm["AlarmActions"]
    with inbox(ideal, "flow-alarms") as (inbox_url, inbox_arn):
        subscription = sns.subscribe(TopicArn=ideal.outputs["AlarmTopicArn"], Protocol="sqs", Endpoint=inbox_arn,
                                     ReturnSubscriptionArn=True)["SubscriptionArn"]
        try:
            poison = f"not an order {uuid.uuid4().hex}"
            sqs.send_message(QueueUrl=queue, MessageBody=poison)
            moved = wait_until(lambda: received(ideal, dlq, lambda body: body == poison), timeout=90,
                               what="the poison order to reach the DLQ")
            # The processor reported it as a batch item failure on each of its three receives.
            assert moved[0]["Attributes"]["DeadLetterQueueSourceArn"].endswith(queue.rsplit("/", 1)[-1])
            sqs.change_message_visibility(QueueUrl=dlq, ReceiptHandle=moved[0]["ReceiptHandle"], VisibilityTimeout=0)
            notification = wait_for_alarm(ideal, inbox_url, alarm, timeout=ALARM_SECONDS)
        finally:
            sns.unsubscribe(SubscriptionArn=subscription)
    assert notification["NewStateValue"] == "ALARM"
    assert "Threshold Crossed" in notification["NewStateReason"]  # evaluated from the metric, not set


def test_every_probe_of_the_ideal_deployment_passes_or_is_not_emulated(ideal):
    # Last: the flows above must see the DLQ and its alarm untouched by the probes.
    results = ideal.probe()
    assert [r for r in results if r.result == "fail"] == []
    assert results_by(results, "dlq")["OrderQueue39B99167"].result == "pass"
    print(f"\n{SYSTEM} ideal: deployed in {ideal.deploy_seconds:.1f} s, {len(results)} probes in "
          f"{ideal.probe_seconds:.1f} s")


def test_the_baseline_loses_its_poison_message_and_the_dlq_probe_reports_it(localstack, tmp_path):
    with deployed_reference(SYSTEM, "baseline", localstack, tmp_path) as deployed:
        results = deployed.probe()
    failures = {r.logical_id: r for r in results if r.result == "fail"}
    assert list(failures) == ["OrderQueue39B99167"]
    assert failures["OrderQueue39B99167"].rule_id == "SG-LIVE-001"
    assert "no redrive policy" in failures["OrderQueue39B99167"].detail
    assert "then lost" in failures["OrderQueue39B99167"].detail
