"""webhook_pipeline end to end on LocalStack (seed 000): API -> receiver -> queue -> processor -> notifier -> events.

The ideal variant is synthesized, deployed and driven through ``cfn-outputs/flat-outputs.json``: a webhook
POST is accepted and flows through the processor and the notifier until EventBridge delivers it; malformed
webhooks are refused by the API's model or the receiver; a poison message in the standard queue is
reported as a batch item failure on every try and ends in the DLQ.
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.live.flow_support import (
    api_request,
    deployed_reference,
    inbox,
    received,
    shorten_visibility,
    wait_until,
)

pytestmark = pytest.mark.live
SYSTEM = "webhook_pipeline"


@pytest.fixture(scope="module")
def ideal(localstack, tmp_path_factory):
    with deployed_reference(SYSTEM, "ideal", localstack, tmp_path_factory.mktemp(f"{SYSTEM}-ideal")) as deployed:
        yield deployed


def webhook_url(deployed, provider: str) -> str:
    return deployed.outputs["WebhookEndpoint"].replace("{provider}", provider)


def test_a_webhook_post_flows_through_the_processor_to_eventbridge(ideal, localstack):
    events = ideal.client("events")
    event_id = f"evt-{uuid.uuid4().hex[:12]}"
    with inbox(ideal, "flow-webhooks") as (queue_url, queue_arn):
        # A rule of the test's own on the default bus, where the notifier publishes processed webhooks.
        rule = f"flow-webhook-{uuid.uuid4().hex[:8]}"
        events.put_rule(Name=rule, EventPattern=json.dumps({"detail-type": ["Webhook Processed"],
                                                            "detail": {"eventId": [event_id]}}))
        events.put_targets(Rule=rule, Targets=[{"Id": "inbox", "Arn": queue_arn}])
        try:
            response = api_request(localstack, webhook_url(ideal, "stripe"), "POST", {
                "id": event_id, "type": "invoice.payment_failed",
                "data": {"object": {"id": "in_1", "amount": 1999, "currency": "eur"}}})
            assert response.status == 202, response.body
            assert response.json()["queue"] == "priority"  # a payment failure costs money: priority queue

            delivered = wait_until(lambda: received(ideal, queue_url, lambda body: event_id in body), timeout=60,
                                   what="the processed webhook to reach EventBridge")
        finally:
            events.remove_targets(Rule=rule, Ids=["inbox"])
            events.delete_rule(Name=rule)
    detail = json.loads(delivered[0]["Body"])["detail"]
    assert detail["eventId"] == event_id and detail["provider"] == "stripe"
    assert detail["severity"] == "critical" and detail["summary"] == "invoice.payment_failed: 19.99 EUR"
    assert detail["sourceQueue"] == ideal.outputs["PriorityQueueUrl"].rsplit("/", 1)[-1]


def test_malformed_webhooks_are_refused_at_the_edge_and_by_the_receiver(ideal, localstack):
    shapeless = api_request(localstack, webhook_url(ideal, "generic"), "POST", {"id": "x y", "data": []})
    assert (shapeless.status, shapeless.json()) == (400, {"message": "Invalid request body"})  # the API's model
    unknown = api_request(localstack, webhook_url(ideal, "acme"), "POST",
                          {"id": "evt-1", "type": "ping", "data": {}})
    assert unknown.status == 400 and "unsupported provider 'acme'" in unknown.body  # the receiver's own rules


def test_a_poison_message_ends_in_the_dlq(ideal):
    sqs = ideal.client("sqs")
    queue, dlq = ideal.outputs["StandardQueueUrl"], ideal.outputs["StandardDlqUrl"]
    shorten_visibility(ideal, queue)
    poison = json.dumps({"provider": "generic", "eventId": f"poison-{uuid.uuid4().hex[:8]}"})  # no type, no data
    sqs.send_message(QueueUrl=queue, MessageBody=poison)
    moved = wait_until(lambda: received(ideal, dlq, lambda body: body == poison), timeout=90,
                       what="the poison message to reach the DLQ")
    # The processor reported it as a batch item failure three times (maxReceiveCount), then SQS moved it.
    assert moved[0]["Attributes"]["DeadLetterQueueSourceArn"].endswith(queue.rsplit("/", 1)[-1])
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=moved[0]["ReceiptHandle"])


def test_every_probe_of_the_ideal_deployment_passes_or_is_not_emulated(ideal):
    results = ideal.probe()
    assert [r for r in results if r.result == "fail"] == []
    assert sorted(r.logical_id for r in results if r.kind == "dlq" and r.result == "pass") == [
        "NotificationQueue36610CC1", "PriorityQueue9B6D3F81", "StandardQueueD43B45BD"]
    print(f"\n{SYSTEM} ideal: deployed in {ideal.deploy_seconds:.1f} s, {len(results)} probes in "
          f"{ideal.probe_seconds:.1f} s")
