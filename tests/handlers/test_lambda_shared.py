"""The modules bundled beside every system's handlers."""

from __future__ import annotations

import base64
import io
import json
import sys

import pytest

from reference_stacks.common import LAMBDA_SHARED_DIR

sys.path.insert(0, str(LAMBDA_SHARED_DIR))

import api_responses  # noqa: E402
import emf_metrics  # noqa: E402


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
