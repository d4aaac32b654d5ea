"""The modules bundled beside every system's handlers."""

from __future__ import annotations

import base64
import io
import json
import sys
from datetime import datetime, timezone
from decimal import Decimal

import boto3
import pytest

from reference_stacks.common import LAMBDA_SHARED_DIR

sys.path.insert(0, str(LAMBDA_SHARED_DIR))

import api_responses  # noqa: E402
import aws_runtime  # noqa: E402
import emf_metrics  # noqa: E402

HANDLERS = [
    ("order_pipeline", "api_handler"), ("order_pipeline", "order_processor"),
    ("payments_dr", "validator"), ("payments_dr", "processor"), ("payments_dr", "failover"),
    ("webhook_pipeline", "receiver"), ("webhook_pipeline", "processor"), ("webhook_pipeline", "notifier"),
    ("pattern_detection", "alert_processor"), ("pattern_detection", "approval_processor"),
    ("pattern_detection", "kinesis_consumer"), ("pattern_detection", "threshold_checker"),
]


def test_emit_writes_one_emf_record_cloudwatch_can_extract():
    stream = io.StringIO()
    record = emf_metrics.emit(
        "Payments", {"PaymentsValidated": 1, "FraudFlags": 0},
        dimensions={"Environment": "qa7"}, properties={"transactionId": "t-1"}, stream=stream,
    )
    line = json.loads(stream.getvalue())
    assert line == record
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Payments"
    assert directive["Dimensions"] == [["Environment"]]
    assert directive["Metrics"] == [{"Name": "PaymentsValidated", "Unit": "Count"},
                                    {"Name": "FraudFlags", "Unit": "Count"}]
    assert (line["Environment"], line["transactionId"], line["PaymentsValidated"]) == ("qa7", "t-1", 1)
    assert isinstance(line["_aws"]["Timestamp"], int)


def test_emit_defaults_to_stdout_without_dimensions(capsys):
    emf_metrics.emit("Orders", {"Latency": 12.5}, unit="Milliseconds")
    line = json.loads(capsys.readouterr().out)
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]
    assert line["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "Latency", "Unit": "Milliseconds"}]


def test_json_and_error_responses():
    response = api_responses.error_response(400, "amount must be positive", field="amount")
    assert response["statusCode"] == 400
    assert response["headers"] == {"Content-Type": "application/json"}
    assert json.loads(response["body"]) == {"error": "amount must be positive", "field": "amount"}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"body": '{"a": 1}'}, {"a": 1}),
        ({"body": {"a": 2}}, {"a": 2}),
        ({"body": base64.b64encode(b'{"a": 3}').decode(), "isBase64Encoded": True}, {"a": 3}),
    ],
)
def test_json_body_accepts_objects(event, expected):
    assert api_responses.json_body(event) == expected


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, "request body is required"),
        ({"body": ""}, "request body is required"),
        ("not an event", "request body is required"),
        ({"body": "{nope"}, "request body is not valid JSON"),
        ({"body": "[1, 2]"}, "request body must be a JSON object"),
        ({"body": "%%%", "isBase64Encoded": True}, "not valid base64-encoded UTF-8"),
        ({"body": base64.b64encode(b"\xff\xfe").decode(), "isBase64Encoded": True}, "not valid base64"),
    ],
)
def test_json_body_rejects_bad_input_with_a_clear_message(event, message):
    with pytest.raises(api_responses.BadRequest, match=message):
        api_responses.json_body(event)


# --- aws_runtime ---------------------------------------------------------------------------------


@pytest.fixture
def fresh_clients():
    aws_runtime.client.cache_clear()
    yield aws_runtime.client
    aws_runtime.client.cache_clear()


def test_client_is_created_on_first_use_and_then_reused(fresh_clients, monkeypatch):
    created = []
    monkeypatch.setattr(boto3, "client", lambda service: created.append(service) or object())
    assert created == []
    sqs = fresh_clients("sqs")
    assert fresh_clients("sqs") is sqs
    assert fresh_clients("sns") is not sqs
    assert created == ["sqs", "sns"]


def test_client_builds_a_real_boto3_client_without_calling_aws(fresh_clients, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert fresh_clients("dynamodb").meta.service_model.service_name == "dynamodb"


@pytest.mark.parametrize(("system", "module"), HANDLERS)
def test_handlers_bind_the_shared_client_factory(load_handler, system, module):
    # Bound as a module global, so tests can still replace ``module._client`` with a fake.
    assert load_handler(system, module)._client is aws_runtime.client


def test_required_setting_returns_the_value(monkeypatch):
    monkeypatch.setenv("ORDER_QUEUE_URL", "https://sqs.example/q")
    assert aws_runtime.required_setting("ORDER_QUEUE_URL") == "https://sqs.example/q"


@pytest.mark.parametrize("value", [None, ""])
def test_required_setting_names_a_missing_or_empty_variable(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("ORDER_QUEUE_URL", raising=False)
    else:
        monkeypatch.setenv("ORDER_QUEUE_URL", value)
    with pytest.raises(RuntimeError, match="^service misconfigured: ORDER_QUEUE_URL is not set$"):
        aws_runtime.required_setting("ORDER_QUEUE_URL")


@pytest.mark.parametrize(("value", "expected"), [(None, Decimal("10000")), ("", Decimal("10000")),
                                                 ("2500.50", Decimal("2500.50"))])
def test_decimal_setting_reads_the_number_or_falls_back_to_the_default(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("FRAUD_THRESHOLD", raising=False)
    else:
        monkeypatch.setenv("FRAUD_THRESHOLD", value)
    assert aws_runtime.decimal_setting("FRAUD_THRESHOLD", Decimal("10000")) == expected


def test_decimal_setting_rejects_a_value_that_is_not_a_number(monkeypatch):
    monkeypatch.setenv("FRAUD_THRESHOLD", "ten thousand")
    with pytest.raises(RuntimeError, match="service misconfigured: FRAUD_THRESHOLD='ten thousand' is not a number"):
        aws_runtime.decimal_setting("FRAUD_THRESHOLD", Decimal("10000"))


def test_log_prints_one_json_line_with_level_message_and_fields(capsys):
    aws_runtime.log("ERROR", "record failed", messageId="m-1", amount=Decimal("1.50"),
                    at=datetime(2024, 1, 2, tzinfo=timezone.utc))
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert json.loads(out) == {"level": "ERROR", "message": "record failed", "messageId": "m-1",
                               "amount": "1.50", "at": "2024-01-02 00:00:00+00:00"}
