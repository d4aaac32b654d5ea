"""payments_dr end to end on LocalStack (seed 002): health check, validation, processing and notification.

The ideal variant is synthesized, deployed and driven through ``cfn-outputs/flat-outputs.json``: GET /health
answers 200 ``{"status":"healthy"}``; /validate refuses a negative amount with 400 and flags an amount over
10,000 for review; /process writes the payment to the table and publishes it on the transaction topic.
The baseline's bare API answers 500, and the output probe says so.
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.live.flow_support import api_request, deployed_reference, inbox, received, wait_until

SYSTEM = "payments_dr"
pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def ideal(localstack, tmp_path_factory):
    with deployed_reference(SYSTEM, "ideal", localstack, tmp_path_factory.mktemp(f"{SYSTEM}-ideal")) as deployed:
        yield deployed


def payment(amount, **extra) -> dict:
    return {"customer_id": f"cust-{uuid.uuid4().hex[:8]}", "amount": amount, "currency": "EUR", **extra}


def endpoint(deployed, path: str) -> str:
    return deployed.outputs["APIEndpoint"].rstrip("/") + path


def test_health_answers_healthy(ideal, localstack):
    response = api_request(localstack, ideal.outputs["HealthCheckUrl"])
    assert (response.status, response.json()) == (200, {"status": "healthy"})


def test_validate_refuses_a_negative_amount_and_flags_a_large_one(ideal, localstack):
    negative = api_request(localstack, endpoint(ideal, "/validate"), "POST", payment(-5))
    assert negative.status == 400, negative.body
    large = api_request(localstack, endpoint(ideal, "/validate"), "POST", payment(10_000.01))
    assert large.status == 202, large.body
    assert large.json()["status"] == "flagged_for_review"
    usual = api_request(localstack, endpoint(ideal, "/validate"), "POST", payment(10_000))
    assert (usual.status, usual.json()["status"]) == (202, "queued")  # the threshold itself is not "over"


def test_process_writes_the_payment_and_publishes_a_notification(ideal, localstack):
    sns = ideal.client("sns")
    transaction = f"tx-{uuid.uuid4().hex[:12]}"
    with inbox(ideal, "flow-payments") as (queue_url, queue_arn):
        subscription = sns.subscribe(TopicArn=ideal.outputs["TransactionTopicArn"], Protocol="sqs",
                                     Endpoint=queue_arn, ReturnSubscriptionArn=True)["SubscriptionArn"]
        try:
            response = api_request(localstack, endpoint(ideal, "/process"), "POST",
                                   payment(125.5, transaction_id=transaction))
            assert response.status == 201, response.body
            notes = wait_until(lambda: received(ideal, queue_url, lambda body: transaction in body), timeout=30,
                               what="the transaction notification")
        finally:
            sns.unsubscribe(SubscriptionArn=subscription)
    note = json.loads(json.loads(notes[0]["Body"])["Message"])
    assert note["event_type"] == "payment_processed" and note["payment"]["status"] == "PROCESSED"
    items = ideal.client("dynamodb").query(
        TableName=ideal.outputs["PaymentsTableName"], KeyConditionExpression="transaction_id = :t",
        ExpressionAttributeValues={":t": {"S": transaction}})["Items"]
    assert [(i["amount"]["N"], i["currency"]["S"], i["status"]["S"]) for i in items] == [("125.5", "EUR", "PROCESSED")]


def test_every_probe_of_the_ideal_deployment_passes_or_is_not_emulated(ideal):
    results = ideal.probe()
    assert [r for r in results if r.result == "fail"] == []
    print(f"\n{SYSTEM} ideal: deployed in {ideal.deploy_seconds:.1f} s, {len(results)} probes in "
          f"{ideal.probe_seconds:.1f} s")


def test_the_baseline_api_answers_500_and_the_output_probe_reports_it(localstack, tmp_path):
    with deployed_reference(SYSTEM, "baseline", localstack, tmp_path) as deployed:
        results = deployed.probe()
    failures = [(r.kind, r.rule_id, r.detail) for r in results if r.result == "fail"]
    # The seed's first answer: a bare API with a mock method that maps no response, and nothing else to probe.
    assert len(failures) == 1 and failures[0][:2] == ("output", "SG-LIVE-003")
    assert "with HTTP 500" in failures[0][2]
