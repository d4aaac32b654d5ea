"""Unit tests for the webhook pipeline handlers: receiver, processor, notifier (no AWS)."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

SYSTEM = "webhook_pipeline"
PRIORITY_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/webhook-priority-qa7"
STANDARD_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/webhook-standard-qa7"
NOTIFICATION_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/webhook-notification-qa7"


class FakeSqs:
    """Records send_message calls; fails for the bodies ``fail_when`` matches."""

    def __init__(self, fail_when=lambda body: False, error=None):
        self.sent: list[dict] = []
        self.fail_when = fail_when
        self.error = error or ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")

    def send_message(self, **kwargs):
        if self.fail_when(kwargs["MessageBody"]):
            raise self.error
        self.sent.append(kwargs)
        return {"MessageId": f"msg-{len(self.sent)}"}


class FakeEvents:
    """Records put_events calls; rejects entries whose detail ``reject`` matches, or fails whole calls."""

    def __init__(self, reject=lambda detail: False, fail_calls: int = 0):
        self.calls: list[list[dict]] = []
        self.reject = reject
        self.fail_calls = fail_calls

    def put_events(self, Entries):
        self.calls.append(Entries)
        if self.fail_calls:
            self.fail_calls -= 1
            raise EndpointConnectionError(endpoint_url="https://events.us-east-1.amazonaws.com")
        results = [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
            if self.reject(json.loads(entry["Detail"])) else {"EventId": f"evt-{i}"}
            for i, entry in enumerate(Entries)
        ]
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def emf_records(capsys) -> list[dict]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" in line]


# -- receiver -------------------------------------------------------------------------------------


@pytest.fixture
def receiver(load_handler, monkeypatch):
    module = load_handler(SYSTEM, "receiver")
    monkeypatch.setenv("PRIORITY_QUEUE_URL", PRIORITY_URL)
    monkeypatch.setenv("STANDARD_QUEUE_URL", STANDARD_URL)
    monkeypatch.delenv("METRICS_NAMESPACE", raising=False)
    sqs = FakeSqs()
    monkeypatch.setattr(module, "_client", lambda name: {"sqs": sqs}[name])
    module.fake_sqs = sqs
    return module


def api_event(body, provider="stripe", **extra):
    event = {
        "body": body if isinstance(body, str) or body is None else json.dumps(body),
        "pathParameters": {"provider": provider} if provider is not None else None,
        "requestContext": {"requestId": "req-1"},
    }
    event.update(extra)
    return event


def webhook(**overrides):
    payload = {"id": "evt_123", "type": "charge.succeeded", "data": {"object": {"amount": 1250, "currency": "eur"}}}
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not ...}


def test_receiver_enqueues_a_standard_webhook(receiver, capsys):
    response = receiver.handler(api_event(webhook(created=1700000000)), None)
    assert response["statusCode"] == 202
    body = json.loads(response["body"])
    assert body == {"status": "accepted", "eventId": "evt_123", "queue": "standard", "messageId": "msg-1"}
    [sent] = receiver.fake_sqs.sent
    assert sent["QueueUrl"] == STANDARD_URL
    assert sent["MessageAttributes"]["provider"] == {"DataType": "String", "StringValue": "stripe"}
    assert sent["MessageAttributes"]["eventType"]["StringValue"] == "charge.succeeded"
    envelope = json.loads(sent["MessageBody"])
    assert envelope["provider"] == "stripe" and envelope["eventId"] == "evt_123"
    assert envelope["priority"] == "normal" and envelope["created"] == 1700000000
    assert envelope["requestId"] == "req-1" and envelope["receivedAt"]
    [record] = emf_records(capsys)
    assert record["WebhooksAccepted"] == 1 and record["Provider"] == "stripe" and record["Queue"] == "standard"
    assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "WebhookPipeline"


@pytest.mark.parametrize(
    "provider, payload",
    [
        ("stripe", webhook(type="payment_intent.payment_failed")),
        ("github", webhook(type="secret_scanning_alert", data={"action": "created"})),
        ("generic", webhook(type="anything", priority="high")),
    ],
)
def test_receiver_routes_urgent_webhooks_to_the_priority_queue(receiver, provider, payload):
    response = receiver.handler(api_event(payload, provider=provider), None)
    assert response["statusCode"] == 202
    assert json.loads(response["body"])["queue"] == "priority"
    assert receiver.fake_sqs.sent[0]["QueueUrl"] == PRIORITY_URL


def test_receiver_lets_the_payload_lower_the_priority(receiver):
    response = receiver.handler(api_event(webhook(type="invoice.payment_failed", priority="normal")), None)
    assert json.loads(response["body"])["queue"] == "standard"


def test_receiver_accepts_base64_bodies_and_uses_the_namespace_from_env(receiver, monkeypatch, capsys):
    monkeypatch.setenv("METRICS_NAMESPACE", "Custom")
    raw = base64.b64encode(json.dumps(webhook()).encode()).decode()
    response = receiver.handler(api_event(raw, isBase64Encoded=True), None)
    assert response["statusCode"] == 202
    assert emf_records(capsys)[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Custom"


@pytest.mark.parametrize(
    "event, message",
    [
        (api_event(None), "request body is required"),
        (api_event("{not json"), "not valid JSON"),
        (api_event("[1, 2]"), "must be a JSON object"),
        (api_event(webhook(), provider=None), "path parameter 'provider' is required"),
        (api_event(webhook(), provider="paypal"), "unsupported provider 'paypal'"),
        (api_event(webhook(id=...)), "'id' is required"),
        (api_event(webhook(id=42)), "'id' must be a string"),
        (api_event(webhook(id="has spaces")), "'id' must be a string"),
        (api_event(webhook(type=...)), "'type' is required"),
        (api_event(webhook(type="")), "'type' must be a string"),
        (api_event(webhook(data=...)), "'data' is required"),
        (api_event(webhook(data=[1])), "'data' must be a JSON object"),
        (api_event(webhook(created=-1)), "'created' must be a non-negative integer"),
        (api_event(webhook(created=True)), "'created' must be a non-negative integer"),
        (api_event(webhook(created="yesterday")), "'created' must be a non-negative integer"),
        (api_event(webhook(priority="urgent")), "'priority' must be one of: high, normal"),
        (api_event("x" * (200 * 1024 + 1)), "request body exceeds"),
    ],
)
def test_receiver_rejects_bad_input_with_400(receiver, capsys, event, message):
    response = receiver.handler(event, None)
    assert response["statusCode"] == 400
    assert response["headers"]["Content-Type"] == "application/json"
    assert message in json.loads(response["body"])["error"]
    assert receiver.fake_sqs.sent == []
    [record] = emf_records(capsys)
    assert record["WebhooksRejected"] == 1


def test_receiver_lists_every_problem_at_once(receiver):
    response = receiver.handler(api_event({"data": "nope"}), None)
    error = json.loads(response["body"])["error"]
    assert "'id' is required" in error and "'type' is required" in error and "'data' must be" in error


def test_receiver_answers_503_when_the_queue_is_unavailable(receiver, monkeypatch, capsys):
    monkeypatch.setattr(receiver, "_client", lambda name: FakeSqs(fail_when=lambda body: True))
    response = receiver.handler(api_event(webhook()), None)
    assert response["statusCode"] == 503
    assert json.loads(response["body"]) == {"error": "webhook could not be queued; retry later", "eventId": "evt_123"}
    assert '"enqueue failed"' in capsys.readouterr().out


# -- processor ------------------------------------------------------------------------------------


@pytest.fixture
def processor(load_handler, monkeypatch):
    module = load_handler(SYSTEM, "processor")
    monkeypatch.setenv("NOTIFICATION_QUEUE_URL", NOTIFICATION_URL)
    sqs = FakeSqs(fail_when=lambda body: "evt_unlucky" in body)
    monkeypatch.setattr(module, "_client", lambda name: {"sqs": sqs}[name])
    module.fake_sqs = sqs
    return module


def envelope(**overrides):
    value = {
        "provider": "stripe",
        "eventId": "evt_1",
        "eventType": "charge.succeeded",
        "priority": "normal",
        "data": {"object": {"amount": 1250, "currency": "eur"}},
        "receivedAt": "2026-01-01T00:00:00+00:00",
    }
    value.update(overrides)
    return value


def sqs_record(message_id, body, queue="webhook-standard-qa7"):
    return {
        "messageId": message_id,
        "body": body if isinstance(body, str) else json.dumps(body),
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
    }


def test_processor_turns_envelopes_into_notifications(processor, capsys):
    event = {"Records": [
        sqs_record("m1", envelope()),
        sqs_record("m2", envelope(eventId="evt_2", priority="high", eventType="charge.dispute.created"),
                   queue="webhook-priority-qa7"),
    ]}
    assert processor.handler(event, None) == {"batchItemFailures": []}
    first, second = (json.loads(s["MessageBody"]) for s in processor.fake_sqs.sent)
    assert all(s["QueueUrl"] == NOTIFICATION_URL for s in processor.fake_sqs.sent)
    assert first["summary"] == "charge.succeeded: 12.50 EUR"
    assert (first["category"], first["severity"], first["sourceQueue"]) == ("charge", "info", "webhook-standard-qa7")
    assert first["receivedAt"] == "2026-01-01T00:00:00+00:00" and first["processedAt"]
    assert (second["severity"], second["sourceQueue"]) == ("critical", "webhook-priority-qa7")
    assert processor.fake_sqs.sent[1]["MessageAttributes"]["severity"]["StringValue"] == "critical"
    [record] = emf_records(capsys)
    assert (record["WebhooksProcessed"], record["WebhooksFailed"]) == (2, 0)


@pytest.mark.parametrize(
    "provider, event_type, data, summary",
    [
        ("stripe", "invoice.paid", {"object": {"id": "in_1", "amount": "12"}}, "invoice.paid: in_1"),
        ("stripe", "invoice.paid", {"object": {"amount": True, "currency": "usd"}}, "invoice.paid: unknown object"),
        ("stripe", "invoice.paid", {"object": "in_1"}, "invoice.paid: unknown object"),
        ("github", "push", {"repository": {"full_name": "acme/api"}}, "push on acme/api"),
        ("github", "pull_request", {"action": "opened", "repository": {"full_name": "acme/api"}},
         "pull_request opened on acme/api"),
        ("github", "ping", {"repository": None}, "ping on unknown repository"),
        ("shopify", "orders/create", {"id": 7, "total_price": "9.99"}, "orders/create: order 7 total 9.99"),
        ("shopify", "orders/create", {}, "orders/create: order unknown total ?"),
        ("generic", "thing.happened", {}, "thing.happened from generic"),
    ],
)
def test_processor_summaries_per_provider(load_handler, provider, event_type, data, summary):
    assert load_handler(SYSTEM, "processor").summarize(provider, event_type, data) == summary


def test_processor_categories_split_on_dot_or_slash(load_handler):
    module = load_handler(SYSTEM, "processor")
    notification = module.build_notification(envelope(provider="shopify", eventType="orders/cancelled"), "q")
    assert notification["category"] == "orders"


@pytest.mark.parametrize(
    "body, message",
    [
        ("not json", "not JSON"),
        ("[]", "must be a JSON object"),
        (json.dumps(envelope(provider="")), "'provider' must be a non-empty string"),
        (json.dumps(envelope(eventId=5)), "'eventId' must be a non-empty string"),
        (json.dumps({k: v for k, v in envelope().items() if k != "eventType"}), "'eventType'"),
        (json.dumps(envelope(priority="urgent")), "'priority' must be one of"),
        (json.dumps(envelope(data="x")), "'data' must be a JSON object"),
    ],
)
def test_processor_rejects_malformed_envelopes(load_handler, body, message):
    module = load_handler(SYSTEM, "processor")
    with pytest.raises(module.InvalidEnvelope, match=message):
        module.parse_envelope(body)


def test_processor_reports_only_failed_records(processor, capsys):
    event = {"Records": [
        sqs_record("ok", envelope()),
        sqs_record("poison", "{broken"),
        sqs_record("sqs-down", envelope(eventId="evt_unlucky")),
        {"messageId": "no-body"},
    ]}
    result = processor.handler(event, None)
    assert result == {"batchItemFailures": [
        {"itemIdentifier": "poison"}, {"itemIdentifier": "sqs-down"}, {"itemIdentifier": "no-body"},
    ]}
    assert len(processor.fake_sqs.sent) == 1
    out = capsys.readouterr().out
    assert out.count('"record failed"') == 3
    record = [json.loads(line) for line in out.splitlines() if "_aws" in line][0]
    assert (record["WebhooksProcessed"], record["WebhooksFailed"]) == (1, 3)


def test_processor_handles_an_empty_event(processor):
    assert processor.handler({}, None) == {"batchItemFailures": []}


def test_processor_queue_name_falls_back_when_arn_missing(load_handler):
    assert load_handler(SYSTEM, "processor")._queue_name({}) == "unknown"


# -- notifier -------------------------------------------------------------------------------------


@pytest.fixture
def notifier(load_handler, monkeypatch):
    module = load_handler(SYSTEM, "notifier")
    monkeypatch.setenv("EVENT_SOURCE", "webhook-pipeline.qa7")
    monkeypatch.setenv("EVENT_BUS_NAME", "default")
    fake = FakeEvents(reject=lambda detail: detail["eventId"] == "evt_rejected")
    monkeypatch.setattr(module, "_client", lambda name: {"events": fake}[name])
    module.fake_events = fake
    return module


def notification(event_id="evt_1", **overrides):
    value = {"provider": "stripe", "eventId": event_id, "eventType": "charge.succeeded",
             "severity": "info", "summary": "charge.succeeded: 12.50 EUR"}
    value.update(overrides)
    return value


def test_notifier_publishes_in_batches_of_ten(notifier, capsys):
    records = [sqs_record(f"m{i}", notification(f"evt_{i}")) for i in range(23)]
    assert notifier.handler({"Records": records}, None) == {"batchItemFailures": []}
    assert [len(call) for call in notifier.fake_events.calls] == [10, 10, 3]
    entry = notifier.fake_events.calls[0][0]
    assert entry["Source"] == "webhook-pipeline.qa7"
    assert entry["DetailType"] == "Webhook Processed"
    assert entry["EventBusName"] == "default"
    assert json.loads(entry["Detail"])["eventId"] == "evt_0"
    [record] = emf_records(capsys)
    assert (record["NotificationsPublished"], record["NotificationsFailed"]) == (23, 0)


def test_notifier_reports_rejected_and_malformed_records(notifier, capsys):
    records = [
        sqs_record("good", notification()),
        sqs_record("rejected", notification("evt_rejected")),
        sqs_record("not-json", "nope"),
        sqs_record("not-object", "[1]"),
        sqs_record("incomplete", {"provider": "stripe", "eventId": "e", "summary": ""}),
    ]
    result = notifier.handler({"Records": records}, None)
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [
        "not-json", "not-object", "incomplete", "rejected",
    ]
    out = capsys.readouterr().out
    assert "missing or empty fields: eventType, severity, summary" in out
    assert '"errorCode": "InternalFailure"' in out
    record = [json.loads(line) for line in out.splitlines() if "_aws" in line][0]
    assert (record["NotificationsPublished"], record["NotificationsFailed"]) == (1, 4)


def test_notifier_fails_the_whole_chunk_when_eventbridge_is_unreachable(notifier, monkeypatch):
    fake = FakeEvents(fail_calls=1)
    monkeypatch.setattr(notifier, "_client", lambda name: fake)
    monkeypatch.delenv("EVENT_BUS_NAME")
    records = [sqs_record(f"m{i}", notification(f"evt_{i}")) for i in range(12)]
    result = notifier.handler({"Records": records}, None)
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [f"m{i}" for i in range(10)]
    assert fake.calls[1][0]["EventBusName"] == "default"


def test_notifier_handles_an_empty_event(notifier):
    assert notifier.handler({"Records": []}, None) == {"batchItemFailures": []}
    assert notifier.fake_events.calls == []


@pytest.mark.parametrize(("module_name", "service"), [("receiver", "sqs"), ("processor", "sqs"),
                                                    ("notifier", "events")])
def test_client_factories_are_lazy_and_cached(load_handler, monkeypatch, module_name, service):
    module = load_handler(SYSTEM, module_name)
    created = []
    monkeypatch.setattr(boto3, "client", lambda name: created.append(name) or object())
    module._client.cache_clear()
    try:
        assert module._client(service) is module._client(service)
        assert created == [service]
    finally:
        module._client.cache_clear()
