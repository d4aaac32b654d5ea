"""Unit tests for the order_pipeline handlers: api_handler and order_processor (no network)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

SYSTEM = "order_pipeline"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/order-queue-qa7"
TABLE = "orders-qa7"
TOPIC = "arn:aws:sns:us-east-1:123456789012:order-events-qa7"


def valid_order(**overrides) -> dict:
    order = {
        "orderId": "ord-1001",
        "customerId": "cust-42",
        "items": [
            {"productId": "sku-1", "quantity": 2, "price": 19.99},
            {"productId": "sku-2", "quantity": 1, "price": 5},
        ],
    }
    order.update(overrides)
    return order


def api_event(body, *, method: str = "POST", base64_encoded: bool = False) -> dict:
    if not isinstance(body, str):
        body = json.dumps(body)
    if base64_encoded:
        body = base64.b64encode(body.encode()).decode()
    return {
        "httpMethod": method,
        "path": "/orders",
        "resource": "/orders",
        "body": body,
        "isBase64Encoded": base64_encoded,
        "requestContext": {"stage": "prod"},
    }


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class FakeSqs:
    def __init__(self, error: Exception | None = None):
        self.sent: list[dict] = []
        self.error = error

    def send_message(self, **kwargs):
        if self.error:
            raise self.error
        self.sent.append(kwargs)
        return {"MessageId": f"msg-{len(self.sent)}"}


class FakeDynamo:
    def __init__(self, fail_for: dict[str, Exception] | None = None):
        self.items: list[dict] = []
        self.calls: list[dict] = []
        self.fail_for = fail_for or {}

    def put_item(self, **kwargs):
        self.calls.append(kwargs)
        order_id = kwargs["Item"]["orderId"]["S"]
        if order_id in self.fail_for:
            raise self.fail_for[order_id]
        self.items.append(kwargs["Item"])
        return {}


class FakeSns:
    def __init__(self, error: Exception | None = None):
        self.published: list[dict] = []
        self.error = error

    def publish(self, **kwargs):
        if self.error:
            raise self.error
        self.published.append(kwargs)
        return {"MessageId": "sns-1"}


def body_of(response: dict) -> dict:
    assert response["headers"]["Content-Type"] == "application/json"
    return json.loads(response["body"])


def emf_records(capsys) -> list[dict]:
    records = []
    for line in capsys.readouterr().out.splitlines():
        record = json.loads(line)
        if "_aws" in record:
            records.append(record)
    return records


# --------------------------------------------------------------------------- api_handler


@pytest.fixture
def api_handler(load_handler, monkeypatch):
    module = load_handler(SYSTEM, "api_handler")
    sqs = FakeSqs()
    monkeypatch.setattr(module, "_client", lambda name: {"sqs": sqs}[name])
    monkeypatch.setenv("ORDER_QUEUE_URL", QUEUE_URL)
    monkeypatch.setenv("METRICS_NAMESPACE", "OrderPipelineTest")
    module.fake_sqs = sqs
    return module


class TestApiHandler:
    def test_valid_order_is_queued_and_accepted(self, api_handler, capsys):
        response = api_handler.handler(api_event(valid_order()), None)
        assert response["statusCode"] == 202
        body = body_of(response)
        assert body["orderId"] == "ord-1001" and body["status"] == "QUEUED" and body["messageId"] == "msg-1"
        (sent,) = api_handler.fake_sqs.sent
        assert sent["QueueUrl"] == QUEUE_URL
        message = json.loads(sent["MessageBody"])
        assert message["orderId"] == "ord-1001" and message["customerId"] == "cust-42"
        assert message["items"][0] == {"productId": "sku-1", "quantity": 2, "price": 19.99}
        assert message["timestamp"] == body["receivedAt"] and message["timestamp"].endswith("+00:00")
        assert sent["MessageAttributes"]["customerId"]["StringValue"] == "cust-42"
        (metric,) = emf_records(capsys)
        assert metric["OrdersAccepted"] == 1
        assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "OrderPipelineTest"

    def test_unknown_fields_and_client_timestamps_are_not_forwarded(self, api_handler):
        api_handler.handler(api_event(valid_order(timestamp="1999-01-01", admin=True)), None)
        message = json.loads(api_handler.fake_sqs.sent[0]["MessageBody"])
        assert set(message) == {"orderId", "customerId", "items", "timestamp"}
        assert message["timestamp"] != "1999-01-01"

    def test_base64_body_is_accepted(self, api_handler):
        response = api_handler.handler(api_event(valid_order(), base64_encoded=True), None)
        assert response["statusCode"] == 202

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (None, "request body is required"),
            ("{not json", "not valid JSON"),
            ([1, 2], "must be a JSON object"),
            ({"customerId": "c", "items": [{}]}, "orderId is required"),
            (valid_order(orderId=7), "orderId must be a string"),
            (valid_order(orderId=""), "orderId must be 1-64 characters"),
            (valid_order(orderId="x" * 65), "orderId must be 1-64 characters"),
            (valid_order(customerId=None), "customerId is required"),
            (valid_order(customerId="bad id!"), "customerId must be 1-64"),
            ({"orderId": "o", "customerId": "c"}, "items is required"),
            (valid_order(items="sku-1"), "items must be a list"),
            (valid_order(items=[]), "at least one item"),
            (valid_order(items=[{"productId": "p", "quantity": 1, "price": 1}] * 101), "at most 100"),
            (valid_order(items=["sku-1"]), "items[0] must be an object"),
            (valid_order(items=[{"quantity": 1, "price": 1}]), "items[0].productId"),
            (valid_order(items=[{"productId": " ", "quantity": 1, "price": 1}]), "items[0].productId"),
            (valid_order(items=[{"productId": "p", "quantity": "2", "price": 1}]), "quantity must be an integer"),
            (valid_order(items=[{"productId": "p", "quantity": True, "price": 1}]), "quantity must be an integer"),
            (valid_order(items=[{"productId": "p", "quantity": 1.5, "price": 1}]), "quantity must be an integer"),
            (valid_order(items=[{"productId": "p", "quantity": 0, "price": 1}]), "quantity must be between"),
            (valid_order(items=[{"productId": "p", "quantity": 10_001, "price": 1}]), "quantity must be between"),
            (valid_order(items=[{"productId": "p", "quantity": 1}]), "price must be a number"),
            (valid_order(items=[{"productId": "p", "quantity": 1, "price": "9.99"}]), "price must be a number"),
            (valid_order(items=[{"productId": "p", "quantity": 1, "price": False}]), "price must be a number"),
            (valid_order(items=[{"productId": "p", "quantity": 1, "price": -0.01}]), "must not be negative"),
            (valid_order(items=[{"productId": "p", "quantity": 1, "price": 1.999}]), "two decimal places"),
        ],
    )
    def test_bad_input_is_a_400_with_a_clear_message(self, api_handler, capsys, body, message):
        event = api_event(body) if body is not None else {"httpMethod": "POST", "body": None}
        response = api_handler.handler(event, None)
        assert response["statusCode"] == 400
        assert message in body_of(response)["error"]
        assert api_handler.fake_sqs.sent == []
        assert emf_records(capsys)[0]["OrdersRejected"] == 1

    def test_non_finite_price_is_rejected(self, api_handler):
        event = api_event('{"orderId":"o","customerId":"c","items":[{"productId":"p","quantity":1,"price":NaN}]}')
        response = api_handler.handler(event, None)
        assert response["statusCode"] == 400
        assert "finite" in body_of(response)["error"]

    def test_other_methods_are_405(self, api_handler):
        response = api_handler.handler(api_event(valid_order(), method="GET"), None)
        assert response["statusCode"] == 405
        assert api_handler.fake_sqs.sent == []

    def test_missing_queue_url_is_a_500_not_a_crash(self, api_handler, monkeypatch):
        monkeypatch.delenv("ORDER_QUEUE_URL")
        response = api_handler.handler(api_event(valid_order()), None)
        assert response["statusCode"] == 500
        assert "ORDER_QUEUE_URL" in body_of(response)["error"]

    def test_sqs_failure_is_a_503_the_client_may_retry(self, api_handler, capsys):
        api_handler.fake_sqs.error = client_error("ServiceUnavailable", "SendMessage")
        response = api_handler.handler(api_event(valid_order()), None)
        assert response["statusCode"] == 503
        assert body_of(response) == {"error": "the order could not be queued; please retry", "orderId": "ord-1001"}
        out = capsys.readouterr().out
        assert "could not queue order" in out and "OrdersQueueFailures" in out

    def test_default_namespace_when_unset(self, api_handler, monkeypatch, capsys):
        monkeypatch.delenv("METRICS_NAMESPACE")
        api_handler.handler(api_event(valid_order()), None)
        assert emf_records(capsys)[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "OrderPipeline"


# --------------------------------------------------------------------------- order_processor


@pytest.fixture
def processor(load_handler, monkeypatch):
    module = load_handler(SYSTEM, "order_processor")
    fakes = {"dynamodb": FakeDynamo(), "sns": FakeSns()}
    monkeypatch.setattr(module, "_client", lambda name: fakes[name])
    monkeypatch.setenv("ORDERS_TABLE_NAME", TABLE)
    monkeypatch.setenv("ORDER_TOPIC_ARN", TOPIC)
    monkeypatch.delenv("METRICS_NAMESPACE", raising=False)
    module.fakes = fakes
    return module


def sqs_record(body, message_id: str, *, sent_timestamp: str | None = "1767225600000") -> dict:
    record = {
        "messageId": message_id,
        "eventSource": "aws:sqs",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {},
    }
    if sent_timestamp:
        record["attributes"]["SentTimestamp"] = sent_timestamp
    return record


def queued(order: dict, timestamp: str = "2026-11-02T10:00:00.000+00:00") -> dict:
    return {**order, "timestamp": timestamp}


class TestProcessorBatch:
    def test_a_good_batch_is_stored_and_published(self, processor, capsys):
        event = {"Records": [
            sqs_record(queued(valid_order()), "m1"),
            sqs_record(queued(valid_order(orderId="ord-1002", customerId="cust-7")), "m2"),
        ]}
        assert processor.handler(event, None) == {"batchItemFailures": []}
        dynamo, sns = processor.fakes["dynamodb"], processor.fakes["sns"]
        assert [item["orderId"]["S"] for item in dynamo.items] == ["ord-1001", "ord-1002"]
        item = dynamo.items[0]
        assert dynamo.calls[0]["TableName"] == TABLE
        assert item["customerId"] == {"S": "cust-42"}
        assert item["timestamp"] == {"S": "2026-11-02T10:00:00.000+00:00"}
        assert item["totalAmount"] == {"N": "44.98"}
        assert item["itemCount"] == {"N": "3"}
        assert item["status"] == {"S": "PROCESSED"}
        assert item["items"]["L"][0] == {"M": {"productId": {"S": "sku-1"}, "quantity": {"N": "2"}, "price": {"N": "19.99"}}}
        assert dynamo.calls[0]["ConditionExpression"] == "attribute_not_exists(orderId) OR customerId = :customerId"
        assert dynamo.calls[0]["ExpressionAttributeValues"] == {":customerId": {"S": "cust-42"}}
        assert len(sns.published) == 2
        published = sns.published[0]
        assert published["TopicArn"] == TOPIC
        assert published["MessageAttributes"]["eventType"]["StringValue"] == "OrderProcessed"
        message = json.loads(published["Message"])
        assert message["eventType"] == "OrderProcessed" and message["totalAmount"] == "44.98"
        (metric,) = emf_records(capsys)
        assert metric["OrdersProcessed"] == 2 and metric["OrdersFailed"] == 0

    def test_only_failed_records_are_reported(self, processor, capsys):
        dynamo = processor.fakes["dynamodb"]
        dynamo.fail_for["ord-bad-write"] = client_error("ProvisionedThroughputExceededException", "PutItem")
        event = {"Records": [
            sqs_record(queued(valid_order()), "ok-1"),
            sqs_record("{broken json", "bad-json"),
            sqs_record(queued(valid_order(items=[])), "bad-items"),
            sqs_record(queued(valid_order(orderId="ord-bad-write")), "bad-write"),
            sqs_record("", "empty"),
            sqs_record(queued(valid_order(orderId="ord-1003")), "ok-2"),
        ]}
        result = processor.handler(event, None)
        assert result == {"batchItemFailures": [
            {"itemIdentifier": "bad-json"},
            {"itemIdentifier": "bad-items"},
            {"itemIdentifier": "bad-write"},
            {"itemIdentifier": "empty"},
        ]}
        assert [item["orderId"]["S"] for item in dynamo.items] == ["ord-1001", "ord-1003"]
        out = capsys.readouterr().out
        assert out.count("order record failed") == 4
        assert '"OrdersProcessed": 2' in out and '"OrdersFailed": 4' in out

    def test_another_customers_order_id_is_a_failure(self, processor):
        processor.fakes["dynamodb"].fail_for["ord-1001"] = client_error("ConditionalCheckFailedException", "PutItem")
        result = processor.handler({"Records": [sqs_record(queued(valid_order()), "m1")]}, None)
        assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
        assert processor.fakes["sns"].published == []

    def test_publish_failure_fails_the_record_so_it_is_retried(self, processor):
        processor.fakes["sns"].error = client_error("KMSAccessDenied", "Publish")
        result = processor.handler({"Records": [sqs_record(queued(valid_order()), "m1")]}, None)
        assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}

    def test_missing_configuration_fails_every_record(self, processor, monkeypatch):
        monkeypatch.delenv("ORDER_TOPIC_ARN")
        result = processor.handler({"Records": [sqs_record(queued(valid_order()), "m1")]}, None)
        assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
        assert processor.fakes["dynamodb"].calls == []

    def test_timestamp_falls_back_to_the_sqs_sent_time_then_now(self, processor):
        processor.handler({"Records": [
            sqs_record(valid_order(), "m1"),
            sqs_record(valid_order(orderId="ord-2"), "m2", sent_timestamp=None),
        ]}, None)
        first, second = processor.fakes["dynamodb"].items
        assert first["timestamp"] == {"S": "2026-01-01T00:00:00.000+00:00"}
        assert second["timestamp"]["S"].endswith("+00:00") and second["timestamp"]["S"] > "2026-01-01"

    def test_a_non_string_timestamp_is_a_failure(self, processor):
        result = processor.handler({"Records": [sqs_record(queued(valid_order(), timestamp=12), "m1")]}, None)
        assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}

    def test_an_empty_batch_reports_nothing(self, processor):
        assert processor.handler({"Records": []}, None) == {"batchItemFailures": []}


class TestProcessorValidation:
    @pytest.mark.parametrize(
        ("payload", "message"),
        [
            ("a string", "must be a JSON object"),
            (valid_order(orderId=None), "orderId must be"),
            (valid_order(customerId="has space"), "customerId must be"),
            (valid_order(items={"a": 1}), "items must be a list"),
            (valid_order(items=[7]), "items[0] must be an object"),
            (valid_order(items=[{"productId": "", "quantity": 1, "price": 1}]), "productId"),
            (valid_order(items=[{"productId": "p", "quantity": -1, "price": 1}]), "quantity"),
            (valid_order(items=[{"productId": "p", "quantity": True, "price": 1}]), "quantity"),
            (valid_order(items=[{"productId": "p", "quantity": 1, "price": None}]), "price must be a number"),
            (valid_order(items=[{"productId": "p", "quantity": 1, "price": float("inf")}]), "finite"),
            (valid_order(items=[{"productId": "p", "quantity": 1, "price": Decimal("NaN")}]), "non-negative"),
            (valid_order(items=[{"productId": "p", "quantity": 1, "price": Decimal("-1")}]), "non-negative"),
            (valid_order(items=[{"productId": "p", "quantity": 1, "price": Decimal("0.001")}]), "two decimal"),
        ],
    )
    def test_build_order_rejects(self, processor, payload, message):
        with pytest.raises(processor.InvalidOrder, match=message.replace("[", r"\[").replace("]", r"\]")):
            processor.build_order(payload, received_at="2026-11-02T10:00:00Z")

    def test_build_order_uses_decimal_money(self, processor):
        order = processor.build_order(
            {**valid_order(), "items": [{"productId": "p", "quantity": 3, "price": 0.1}]}, received_at="t"
        )
        assert order["totalAmount"] == Decimal("0.3")

    def test_unsupported_python_values_cannot_be_stored(self, processor):
        with pytest.raises(TypeError, match="float"):
            processor._dynamo_value(1.5)


class TestProcessorDirectApi:
    """The baseline's wrong architecture: API Gateway invokes the processor directly."""

    def test_valid_order_is_processed_synchronously(self, processor, capsys):
        response = processor.handler(api_event(valid_order(timestamp="1999-01-01")), None)
        assert response["statusCode"] == 201
        assert body_of(response) == {"orderId": "ord-1001", "status": "PROCESSED", "totalAmount": "44.98"}
        (item,) = processor.fakes["dynamodb"].items
        assert item["timestamp"]["S"] != "1999-01-01"  # the client does not choose it
        assert len(processor.fakes["sns"].published) == 1
        assert emf_records(capsys)[0]["OrdersProcessed"] == 1

    @pytest.mark.parametrize(
        ("event", "message"),
        [
            ({"httpMethod": "POST", "body": ""}, "request body is required"),
            (api_event("[]"), "must be a JSON object"),
            (api_event("nope"), "not valid JSON"),
            (api_event(valid_order(items=[])), "items must be a list"),
            (api_event(valid_order(items=[{"productId": "p", "quantity": 1, "price": -5}])), "non-negative"),
        ],
    )
    def test_bad_input_is_a_400(self, processor, capsys, event, message):
        response = processor.handler(event, None)
        assert response["statusCode"] == 400
        assert message in body_of(response)["error"]
        assert processor.fakes["dynamodb"].calls == []
        assert emf_records(capsys)[0]["OrdersRejected"] == 1

    def test_conflicting_order_id_is_a_409(self, processor):
        processor.fakes["dynamodb"].fail_for["ord-1001"] = client_error("ConditionalCheckFailedException", "PutItem")
        response = processor.handler(api_event(valid_order()), None)
        assert response["statusCode"] == 409
        assert "another customer" in body_of(response)["error"]

    def test_aws_failure_is_a_502(self, processor, capsys):
        processor.fakes["dynamodb"].fail_for["ord-1001"] = client_error("InternalServerError", "PutItem")
        response = processor.handler(api_event(valid_order()), None)
        assert response["statusCode"] == 502
        assert body_of(response)["orderId"] == "ord-1001"
        out = capsys.readouterr().out
        assert "order processing failed" in out and '"OrdersFailed": 1' in out


class TestProcessorEntryPoint:
    @pytest.mark.parametrize(
        "event",
        [
            {},
            None,
            {"Records": [{"eventSource": "aws:sns"}]},
            {"detail-type": "Scheduled Event"},
        ],
    )
    def test_unsupported_events_raise(self, processor, event):
        with pytest.raises(ValueError, match="unsupported event"):
            processor.handler(event, None)


@pytest.mark.parametrize(("module", "service"), [("api_handler", "sqs"), ("order_processor", "sns")])
def test_real_clients_are_created_lazily_and_cached(load_handler, monkeypatch, module, service):
    handler_module = load_handler(SYSTEM, module)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    handler_module._client.cache_clear()
    client = handler_module._client(service)
    assert client.meta.service_model.service_name == service
    assert handler_module._client(service) is client
    handler_module._client.cache_clear()
