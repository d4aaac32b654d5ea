"""payments_dr handlers: validator, processor and failover orchestrator with fake AWS clients."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError

SYSTEM = "payments_dr"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/payment-queue-qa7"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:payment-transactions-qa7"


class FakeClient:
    """Records calls; ``fail`` makes every call raise it."""

    def __init__(self, fail: Exception | None = None, fail_on: str | None = None):
        self.calls: list[tuple[str, dict]] = []
        self.fail = fail
        self.fail_on = fail_on

    def _call(self, operation: str, kwargs: dict) -> dict:
        self.calls.append((operation, kwargs))
        if self.fail is not None and self.fail_on in (None, operation):
            raise self.fail
        return {"MessageId": "m-1"}

    def send_message(self, **kwargs):
        return self._call("send_message", kwargs)

    def put_item(self, **kwargs):
        return self._call("put_item", kwargs)

    def publish(self, **kwargs):
        return self._call("publish", kwargs)


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "Operation")


def install(monkeypatch, module, **clients: FakeClient) -> dict[str, FakeClient]:
    monkeypatch.setattr(module, "_client", lambda service: clients[service])
    return clients


def metrics(capsys) -> list[str]:
    names = []
    for line in capsys.readouterr().out.splitlines():
        record = json.loads(line)
        if "_aws" in record:
            names += [m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    return names


def api_event(body) -> dict:
    return {"httpMethod": "POST", "body": body if isinstance(body, str) or body is None else json.dumps(body)}


GOOD = {"customer_id": "cust-1", "amount": 125.5, "currency": "USD"}


# --- validator --------------------------------------------------------------------------------


@pytest.fixture
def validator(load_handler, monkeypatch):
    module = load_handler(SYSTEM, "validator")
    monkeypatch.setenv("PAYMENT_QUEUE_URL", QUEUE_URL)
    monkeypatch.setenv("ENVIRONMENT_SUFFIX", "qa7")
    monkeypatch.delenv("FRAUD_THRESHOLD", raising=False)
    return module


def test_validator_queues_valid_payment(validator, monkeypatch, capsys):
    fakes = install(monkeypatch, validator, sqs=FakeClient())
    response = validator.handler(api_event({**GOOD, "transaction_id": "tx-1", "description": "rent"}), None)
    assert response["statusCode"] == 202
    body = json.loads(response["body"])
    assert body["transaction_id"] == "tx-1"
    assert (body["status"], body["fraud_flag"]) == ("queued", False)
    (operation, sent), = fakes["sqs"].calls
    assert operation == "send_message" and sent["QueueUrl"] == QUEUE_URL
    message = json.loads(sent["MessageBody"])
    assert message == {"transaction_id": "tx-1", "customer_id": "cust-1", "amount": "125.5", "currency": "USD",
                       "fraud_flag": False, "description": "rent", "timestamp": body["timestamp"]}
    assert sent["MessageAttributes"]["fraud_flag"]["StringValue"] == "false"
    assert metrics(capsys) == ["PaymentsValidated"]


def test_validator_generates_transaction_id(validator, monkeypatch, capsys):
    install(monkeypatch, validator, sqs=FakeClient())
    body = json.loads(validator.handler(api_event(GOOD), None)["body"])
    assert len(body["transaction_id"]) == 36


def test_validator_flags_amounts_above_10000(validator, monkeypatch, capsys):
    fakes = install(monkeypatch, validator, sqs=FakeClient())
    at_limit = json.loads(validator.handler(api_event({**GOOD, "amount": 10000}), None)["body"])
    assert at_limit["fraud_flag"] is False
    capsys.readouterr()
    response = validator.handler(api_event({**GOOD, "amount": 10000.01}), None)
    body = json.loads(response["body"])
    assert (response["statusCode"], body["status"], body["fraud_flag"]) == (202, "flagged_for_review", True)
    assert json.loads(fakes["sqs"].calls[-1][1]["MessageBody"])["fraud_flag"] is True
    assert metrics(capsys) == ["PaymentsValidated", "FraudFlagged"]


def test_validator_fraud_threshold_from_environment(validator, monkeypatch, capsys):
    install(monkeypatch, validator, sqs=FakeClient())
    monkeypatch.setenv("FRAUD_THRESHOLD", "100")
    assert json.loads(validator.handler(api_event(GOOD), None)["body"])["fraud_flag"] is True
    monkeypatch.setenv("FRAUD_THRESHOLD", "lots")
    with pytest.raises(RuntimeError, match="FRAUD_THRESHOLD"):
        validator.handler(api_event(GOOD), None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "request body is required"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ({"amount": 5, "currency": "USD"}, "customer_id is required"),
        ({**GOOD, "customer_id": 42}, "customer_id must be a string"),
        ({**GOOD, "customer_id": "bad id!"}, "customer_id must be 1-64 characters"),
        ({"customer_id": "c", "currency": "USD"}, "amount is required"),
        ({**GOOD, "amount": "12"}, "amount must be a number"),
        ({**GOOD, "amount": True}, "amount must be a number"),
        ({**GOOD, "amount": 0}, "amount must be positive"),
        ({**GOOD, "amount": -5}, "amount must be positive"),
        ({**GOOD, "amount": 1.005}, "at most two decimal places"),
        ({**GOOD, "amount": 1e12}, "must not exceed"),
        ('{"customer_id": "c", "amount": NaN, "currency": "USD"}', "finite"),
        ({"customer_id": "c", "amount": 5}, "currency is required"),
        ({**GOOD, "currency": "usd"}, "three-letter ISO 4217"),
        ({**GOOD, "transaction_id": ""}, "transaction_id must be 1-64"),
        ({**GOOD, "description": 7}, "description must be a string"),
    ],
)
def test_validator_rejects_bad_input_with_400(validator, monkeypatch, capsys, body, message):
    fakes = install(monkeypatch, validator, sqs=FakeClient())
    response = validator.handler(api_event(body), None)
    assert response["statusCode"] == 400
    assert message in json.loads(response["body"])["error"]
    assert fakes["sqs"].calls == []
    assert metrics(capsys) == ["ValidationFailures"]


def test_validator_accepts_base64_body(validator, monkeypatch, capsys):
    install(monkeypatch, validator, sqs=FakeClient())
    event = {"body": base64.b64encode(json.dumps(GOOD).encode()).decode(), "isBase64Encoded": True}
    assert validator.handler(event, None)["statusCode"] == 202


def test_validator_returns_502_when_queue_fails(validator, monkeypatch, capsys):
    install(monkeypatch, validator, sqs=FakeClient(fail=client_error("AWS.SimpleQueueService.NonExistentQueue")))
    response = validator.handler(api_event({**GOOD, "transaction_id": "tx-9"}), None)
    assert response["statusCode"] == 502
    assert json.loads(response["body"])["transaction_id"] == "tx-9"
    assert metrics(capsys) == ["QueueFailures"]


def test_validator_without_queue_url_is_500(validator, monkeypatch):
    monkeypatch.delenv("PAYMENT_QUEUE_URL")
    response = validator.handler(api_event(GOOD), None)
    assert response["statusCode"] == 500
    assert "PAYMENT_QUEUE_URL" in json.loads(response["body"])["error"]


# --- processor --------------------------------------------------------------------------------


@pytest.fixture
def processor(load_handler, monkeypatch):
    module = load_handler(SYSTEM, "processor")
    monkeypatch.setenv("TABLE_NAME", "payments-qa7")
    monkeypatch.setenv("TRANSACTION_TOPIC_ARN", TOPIC_ARN)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("FRAUD_THRESHOLD", raising=False)
    return module


QUEUED = {"transaction_id": "tx-1", "customer_id": "cust-1", "amount": "125.50", "currency": "USD",
          "fraud_flag": False, "timestamp": 1_700_000_000_000}


def sqs_event(*bodies) -> dict:
    return {"Records": [{"messageId": f"msg-{i}", "eventSource": "aws:sqs",
                         "body": body if isinstance(body, str) else json.dumps(body)}
                        for i, body in enumerate(bodies)]}


def test_processor_writes_and_publishes_sqs_record(processor, monkeypatch, capsys):
    fakes = install(monkeypatch, processor, dynamodb=FakeClient(), sns=FakeClient())
    assert processor.handler(sqs_event(QUEUED), None) == {"batchItemFailures": []}
    (operation, put), = fakes["dynamodb"].calls
    assert operation == "put_item" and put["TableName"] == "payments-qa7"
    item = put["Item"]
    assert item["transaction_id"] == {"S": "tx-1"}
    assert item["timestamp"] == {"N": "1700000000000"}
    assert item["amount"] == {"N": "125.50"}
    assert item["status"] == {"S": "PROCESSED"}
    assert item["fraud_flag"] == {"BOOL": False}
    assert item["processed_region"] == {"S": "us-east-1"}
    assert put["ConditionExpression"] == "attribute_not_exists(transaction_id)"
    (_, published), = fakes["sns"].calls
    assert published["TopicArn"] == TOPIC_ARN
    message = json.loads(published["Message"])
    assert message["event_type"] == "payment_processed" and message["duplicate"] is False
    assert message["payment"]["transaction_id"] == "tx-1"
    assert published["MessageAttributes"]["status"]["StringValue"] == "PROCESSED"
    assert metrics(capsys) == ["PaymentsProcessed"]


def test_processor_reports_only_failed_records(processor, monkeypatch, capsys):
    fakes = install(monkeypatch, processor, dynamodb=FakeClient(), sns=FakeClient())
    event = sqs_event(QUEUED, "{broken", {**QUEUED, "amount": "-3"}, [1], {**QUEUED, "currency": "us"},
                      {**QUEUED, "timestamp": "soon"}, {**QUEUED, "amount": "abc"}, {**QUEUED, "amount": "Infinity"},
                      {**QUEUED, "amount": None})
    result = processor.handler(event, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": f"msg-{i}"} for i in range(1, 9)]}
    assert len(fakes["dynamodb"].calls) == 1
    assert metrics(capsys).count("ProcessingFailures") == 8


def test_processor_reports_record_when_aws_fails(processor, monkeypatch, capsys):
    install(monkeypatch, processor, dynamodb=FakeClient(fail=client_error("ProvisionedThroughputExceededException")),
            sns=FakeClient())
    assert processor.handler(sqs_event(QUEUED), None) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}


def test_processor_duplicate_is_not_rewritten_but_republished(processor, monkeypatch, capsys):
    fakes = install(monkeypatch, processor,
                    dynamodb=FakeClient(fail=client_error("ConditionalCheckFailedException")), sns=FakeClient())
    assert processor.handler(sqs_event(QUEUED), None) == {"batchItemFailures": []}
    assert json.loads(fakes["sns"].calls[0][1]["Message"])["duplicate"] is True
    assert metrics(capsys) == ["DuplicatePayments"]


def test_processor_flags_large_payments(processor, monkeypatch, capsys):
    fakes = install(monkeypatch, processor, dynamodb=FakeClient(), sns=FakeClient())
    processor.handler(sqs_event({**QUEUED, "amount": "25000"}), None)
    assert fakes["dynamodb"].calls[0][1]["Item"]["status"] == {"S": "FLAGGED"}
    assert fakes["dynamodb"].calls[0][1]["Item"]["fraud_flag"] == {"BOOL": True}
    assert metrics(capsys) == ["PaymentsProcessed", "FraudFlagged"]


def test_processor_api_creates_payment(processor, monkeypatch, capsys):
    fakes = install(monkeypatch, processor, dynamodb=FakeClient(), sns=FakeClient())
    response = processor.handler(api_event({"transaction_id": "tx-api", "customer_id": "c-2",
                                            "amount": 10, "currency": "EUR"}), None)
    assert response["statusCode"] == 201
    body = json.loads(response["body"])
    assert (body["transaction_id"], body["status"], body["duplicate"]) == ("tx-api", "PROCESSED", False)
    assert int(fakes["dynamodb"].calls[0][1]["Item"]["timestamp"]["N"]) == body["timestamp"] > 0


def test_processor_api_duplicate_is_200(processor, monkeypatch, capsys):
    install(monkeypatch, processor, dynamodb=FakeClient(fail=client_error("ConditionalCheckFailedException")),
            sns=FakeClient())
    response = processor.handler(api_event(QUEUED), None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["duplicate"] is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "request body is required"),
        ("nope", "not valid JSON"),
        ({**QUEUED, "transaction_id": None}, "transaction_id must be"),
        ({**QUEUED, "customer_id": ""}, "customer_id must be"),
        ({**QUEUED, "amount": False}, "amount must be a number"),
        ({**QUEUED, "amount": 0}, "amount must be positive"),
        ({**QUEUED, "amount": "2000000000"}, "must not exceed"),
        ({**QUEUED, "amount": 3.333}, "two decimal places"),
        ('{"transaction_id": "t", "customer_id": "c", "amount": Infinity, "currency": "USD"}', "finite"),
        ({**QUEUED, "timestamp": -1}, "timestamp must be a positive integer"),
        ({**QUEUED, "timestamp": True}, "timestamp must be a positive integer"),
    ],
)
def test_processor_api_rejects_bad_input(processor, monkeypatch, body, message):
    fakes = install(monkeypatch, processor, dynamodb=FakeClient(), sns=FakeClient())
    response = processor.handler(api_event(body), None)
    assert response["statusCode"] == 400
    assert message in json.loads(response["body"])["error"]
    assert fakes["dynamodb"].calls == []


def test_processor_api_502_when_publish_fails(processor, monkeypatch, capsys):
    install(monkeypatch, processor, dynamodb=FakeClient(), sns=FakeClient(fail=client_error("KMSAccessDenied")))
    response = processor.handler(api_event(QUEUED), None)
    assert response["statusCode"] == 502
    assert json.loads(response["body"])["transaction_id"] == "tx-1"
    assert "ProcessingFailures" in metrics(capsys)


def test_processor_api_500_when_misconfigured(processor, monkeypatch):
    monkeypatch.delenv("TRANSACTION_TOPIC_ARN")
    response = processor.handler(api_event(QUEUED), None)
    assert response["statusCode"] == 500
    assert "TRANSACTION_TOPIC_ARN" in json.loads(response["body"])["error"]


def test_processor_fraud_threshold_from_environment(processor, monkeypatch, capsys):
    fakes = install(monkeypatch, processor, dynamodb=FakeClient(), sns=FakeClient())
    monkeypatch.setenv("FRAUD_THRESHOLD", "100")
    processor.handler(sqs_event(QUEUED), None)
    assert fakes["dynamodb"].calls[0][1]["Item"]["status"] == {"S": "FLAGGED"}
    monkeypatch.setenv("FRAUD_THRESHOLD", "x")
    assert processor.handler(sqs_event(QUEUED), None) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}


def test_processor_rejects_unknown_events(processor):
    with pytest.raises(ValueError, match="unsupported event"):
        processor.handler({"detail-type": "Scheduled Event"}, None)


# --- failover orchestrator -------------------------------------------------------------------


@pytest.fixture
def failover(load_handler, monkeypatch):
    module = load_handler(SYSTEM, "failover")
    monkeypatch.setenv("COORDINATION_TOPIC_ARN", TOPIC_ARN)
    monkeypatch.setenv("PRIMARY_REGION", "us-east-1")
    monkeypatch.setenv("REPLICA_REGION", "us-east-2")
    monkeypatch.setenv("TABLE_NAME", "payments-qa7")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return module


def alarm(state: str = "ALARM", region: str = "us-east-1", **extra) -> dict:
    return {
        "AlarmName": "payment-api-5xx-qa7",
        "AlarmArn": f"arn:aws:cloudwatch:{region}:123456789012:alarm:payment-api-5xx-qa7",
        "NewStateValue": state,
        "OldStateValue": "OK" if state == "ALARM" else "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint [12.0] was >= 10.0",
        "StateChangeTime": "2026-11-02T10:00:00.000+0000",
        "Region": "US East (N. Virginia)",
        "Trigger": {"MetricName": "5XXError", "Namespace": "AWS/ApiGateway"},
        **extra,
    }


def sns_event(*messages) -> dict:
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": m if isinstance(m, str) else json.dumps(m)}}
                        for m in messages]}


def test_failover_alarm_in_primary_initiates_failover_to_replica(failover, monkeypatch, capsys):
    fakes = install(monkeypatch, failover, sns=FakeClient())
    result = failover.handler(sns_event(alarm()), None)
    assert result == {"coordinated": [{"alarm": "payment-api-5xx-qa7", "action": "initiate_failover"}], "ignored": 0}
    (_, published), = fakes["sns"].calls
    assert published["TopicArn"] == TOPIC_ARN
    message = json.loads(published["Message"])
    assert message["action"] == "initiate_failover"
    assert (message["affected_region"], message["target_region"]) == ("us-east-1", "us-east-2")
    assert message["table_name"] == "payments-qa7"
    assert message["alarm"]["metric"] == "5XXError"
    assert published["MessageAttributes"]["event_type"]["StringValue"] == "failover_coordination"
    assert "FailoverTriggered" in metrics(capsys)


def test_failover_alarm_in_replica_targets_primary(failover, monkeypatch, capsys):
    fakes = install(monkeypatch, failover, sns=FakeClient())
    failover.handler(sns_event(alarm(region="us-east-2")), None)
    message = json.loads(fakes["sns"].calls[0][1]["Message"])
    assert (message["affected_region"], message["target_region"]) == ("us-east-2", "us-east-1")


def test_failover_ok_reports_recovery(failover, monkeypatch, capsys):
    fakes = install(monkeypatch, failover, sns=FakeClient())
    result = failover.handler(sns_event(alarm("OK", AlarmArn="not-an-arn", Trigger="odd")), None)
    assert result["coordinated"][0]["action"] == "primary_recovered"
    message = json.loads(fakes["sns"].calls[0][1]["Message"])
    # Without a parsable ARN the function's own region is the affected one.
    assert message["affected_region"] == message["target_region"] == "us-east-1"
    assert message["alarm"]["metric"] is None
    assert "FailoverRecovered" in metrics(capsys)


@pytest.mark.parametrize(
    "message",
    ["plain text alert", json.dumps([1, 2]), json.dumps({"AlarmName": "x"}), alarm("INSUFFICIENT_DATA")],
)
def test_failover_skips_what_it_cannot_act_on(failover, monkeypatch, capsys, message):
    fakes = install(monkeypatch, failover, sns=FakeClient())
    assert failover.handler(sns_event(message), None) == {"coordinated": [], "ignored": 1}
    assert fakes["sns"].calls == []


def test_failover_skips_records_without_sns(failover, monkeypatch, capsys):
    install(monkeypatch, failover, sns=FakeClient())
    assert failover.handler({"Records": [{"foo": 1}, "junk"]}, None)["ignored"] == 2


def test_failover_publish_error_propagates_for_async_retry(failover, monkeypatch, capsys):
    install(monkeypatch, failover, sns=FakeClient(fail=client_error("AuthorizationError")))
    with pytest.raises(ClientError):
        failover.handler(sns_event(alarm()), None)


def test_failover_rejects_non_sns_events_and_missing_topic(failover, monkeypatch):
    with pytest.raises(ValueError, match="expected SNS records"):
        failover.handler({"detail": {}}, None)
    monkeypatch.delenv("COORDINATION_TOPIC_ARN")
    with pytest.raises(RuntimeError, match="COORDINATION_TOPIC_ARN"):
        failover.handler(sns_event(alarm()), None)


def test_client_factories_build_boto3_clients_lazily(load_handler, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for module_name in ("validator", "processor", "failover"):
        module = load_handler(SYSTEM, module_name)
        module._client.cache_clear()
        client = module._client("sns")
        assert client.meta.service_model.service_name == "sns"
        assert module._client("sns") is client
        module._client.cache_clear()
