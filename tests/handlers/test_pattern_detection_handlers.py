"""Unit tests for the pattern-detection handlers (seed 004): fakes for boto3, no network."""

from __future__ import annotations

import base64
import importlib.util
import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

SYSTEM = "pattern_detection"
LAYER_MODULE = (Path(__file__).resolve().parents[2] / "reference_stacks" / SYSTEM / "layer" / "python"
                / "pattern_shared.py")

HEAD_AND_SHOULDERS = [10, 12, 10, 15, 10, 12.2, 10, 9, 9.5, 9]
DOUBLE_TOP = [10, 11, 13, 11, 10, 11, 13.1, 11, 10, 9]
ASCENDING_TRIANGLE = [10, 12, 10.5, 12.05, 11, 12.1, 11.5, 12.0, 11.8, 11.9]
RISING = [float(i) for i in range(1, 13)]


def conditional_failure(operation: str = "PutItem") -> ClientError:
    return ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}}, operation)


def other_failure(operation: str = "PutItem") -> ClientError:
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, operation)


def emf_records(capsys) -> list[dict]:
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [record for record in map(json.loads, lines) if "_aws" in record]


class FakeClient:
    """Records every call; ``responses[name]`` is a value, a list consumed in order, or an exception."""

    def __init__(self, **responses):
        self.calls: list[tuple[str, dict]] = []
        self.responses = responses

    def __getattr__(self, name):
        def call(**kwargs):
            self.calls.append((name, kwargs))
            response = self.responses.get(name, {})
            if isinstance(response, list):
                response = response.pop(0)
            if isinstance(response, Exception):
                raise response
            return response

        return call

    def named(self, name: str) -> list[dict]:
        return [kwargs for call, kwargs in self.calls if call == name]


@pytest.fixture
def clients(monkeypatch):
    """``clients(module, dynamodb=FakeClient(), ...)`` installs fakes as the module's ``_client``."""

    def install(module, **fakes):
        monkeypatch.setattr(module, "_client", lambda name: fakes[name])
        return fakes

    return install


# --- pattern detector -----------------------------------------------------------------------


@pytest.fixture
def detector(load_handler, monkeypatch):
    module = load_handler(SYSTEM, "pattern_detector")
    monkeypatch.setenv("PATTERNS_TABLE", "TradingPatterns-qa7")
    monkeypatch.delenv("PATTERN_CONFIDENCE_THRESHOLD", raising=False)
    return module


@pytest.fixture
def table(detector, monkeypatch):
    fake = FakeClient()
    monkeypatch.setattr(detector, "_table", lambda name: fake if name == "TradingPatterns-qa7" else None)
    return fake


@pytest.mark.parametrize(
    "data, message",
    [
        ([], "JSON object"),
        ({"symbol": "aapl", "prices": RISING}, "symbol"),
        ({"symbol": 7, "prices": RISING}, "symbol"),
        ({"symbol": "AAPL", "prices": [1, 2, 3]}, "prices must be a list"),
        ({"symbol": "AAPL", "prices": "1,2,3"}, "prices must be a list"),
        ({"symbol": "AAPL", "prices": RISING[:-1] + [True]}, "prices[11] must be a number"),
        ({"symbol": "AAPL", "prices": ["1"] + RISING[1:]}, "prices[0] must be a number"),
        ({"symbol": "AAPL", "prices": [-1.0] + RISING[1:]}, "positive finite"),
        ({"symbol": "AAPL", "prices": [float("inf")] + RISING[1:]}, "positive finite"),
    ],
)
def test_validate_rejects_bad_series(detector, data, message):
    with pytest.raises(detector.ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        detector.handler({"action": "validate", **data} if isinstance(data, dict) else data, None)


def test_validate_series_rejects_a_non_object(detector):
    with pytest.raises(detector.ValidationError, match="input must be a JSON object"):
        detector.validate_series([1, 2, 3])


def test_validate_returns_clean_series(detector):
    result = detector.handler({"action": "validate", "symbol": "BRK.B", "prices": [1, 2.5] * 5}, None)
    assert result == {"symbol": "BRK.B", "prices": [1.0, 2.5] * 5, "valid": True}


@pytest.mark.parametrize(
    "pattern_type, prices, low, high",
    [
        ("head-and-shoulders", HEAD_AND_SHOULDERS, 0.85, 0.95),
        ("double-top", DOUBLE_TOP, 0.88, 0.96),
        ("ascending-triangle", ASCENDING_TRIANGLE, 0.84, 0.92),
    ],
)
def test_detect_finds_each_pattern_and_emits_duration(detector, capsys, pattern_type, prices, low, high):
    result = detector.handler({"action": "detect", "symbol": "AAPL", "prices": prices,
                               "patternType": pattern_type}, None)
    assert result["patternType"] == pattern_type and result["detected"] is True
    assert low <= result["confidence"] <= high
    (record,) = emf_records(capsys)
    metric = record["_aws"]["CloudWatchMetrics"][0]
    assert metric["Namespace"] == "StockPatternDetection"
    assert metric["Metrics"] == [{"Name": "PatternDetectionDuration", "Unit": "Milliseconds"}]
    assert record["Service"] == "pattern-detector" and record["patternType"] == pattern_type


@pytest.mark.parametrize(
    "pattern_type, prices",
    [
        ("head-and-shoulders", RISING),
        ("head-and-shoulders", [10, 15, 10, 12, 10, 14, 10, 9, 8, 7]),  # middle peak not the highest
        ("head-and-shoulders", [10, 12, 10, 15, 10, 13.5, 10, 9, 8, 7]),  # shoulders 12 % apart
        ("double-top", [10, 11, 13, 11, 10, 11, 14, 11, 10, 9]),  # tops 7 % apart
        ("double-top", [10, 11, 13, 12.8, 12.7, 12.8, 13, 11, 10, 9]),  # trough too shallow
        ("ascending-triangle", RISING),
        ("ascending-triangle", [10, 12, 10.5, 13, 11, 12.1, 11.5, 12.0, 11.8, 11.9]),  # resistance not flat
        ("ascending-triangle", [10, 12, 11, 12.05, 10.5, 12.1, 11.5, 12.0, 11.8, 11.9]),  # lows not rising
    ],
)
def test_detect_reports_no_pattern(detector, pattern_type, prices):
    result = detector.handler({"action": "detect", "symbol": "AAPL", "prices": prices,
                               "patternType": pattern_type}, None)
    assert result == {"patternType": pattern_type, "detected": False, "confidence": 0.0}


def test_detect_rejects_unknown_pattern_type(detector):
    with pytest.raises(detector.ValidationError, match="patternType"):
        detector.handler({"action": "detect", "symbol": "AAPL", "prices": RISING, "patternType": "cup"}, None)


def test_score_picks_the_strongest_detection_and_emits_confidence(detector, capsys):
    detections = [{"patternType": "double-top", "confidence": 0.7},
                  {"patternType": "head-and-shoulders", "confidence": 0.93},
                  {"patternType": "ascending-triangle", "confidence": 0}]
    result = detector.handler({"action": "score", "symbol": "AAPL", "detections": detections}, None)
    assert (result["patternType"], result["confidence"], result["detected"]) == ("head-and-shoulders", 0.93, True)
    (record,) = emf_records(capsys)
    assert record["ConfidenceScore"] == pytest.approx(93.0)
    assert record["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "ConfidenceScore", "Unit": "Percent"}]
    assert record["PatternType"] == "head-and-shoulders"


def test_score_without_detections_is_none(detector):
    result = detector.handler({"action": "score", "symbol": "AAPL", "detections": []}, None)
    assert (result["patternType"], result["confidence"], result["detected"]) == ("none", 0.0, False)


@pytest.mark.parametrize(
    "detections, message",
    [
        ("x", "detections must be a list"),
        (["x"], "each detection"),
        ([{"patternType": "double-top", "confidence": 1.5}], "confidence"),
        ([{"patternType": "double-top", "confidence": True}], "confidence"),
    ],
)
def test_score_rejects_bad_detections(detector, detections, message):
    with pytest.raises(detector.ValidationError, match=message):
        detector.handler({"action": "score", "symbol": "AAPL", "detections": detections}, None)


@pytest.mark.parametrize(
    "confidence, severity, alert",
    [(0.97, "CRITICAL", True), (0.91, "HIGH", True), (0.85, "MEDIUM", True), (0.5, "LOW", False)],
)
def test_decide_maps_confidence_to_severity_and_alert(detector, confidence, severity, alert):
    result = detector.handler({"action": "decide", "symbol": "AAPL", "patternType": "double-top",
                               "confidence": confidence, "patternId": "p1"}, None)
    assert result == {"patternId": "p1", "symbol": "AAPL", "patternType": "double-top",
                      "confidence": confidence, "severity": severity, "shouldAlert": alert}


def test_decide_threshold_comes_from_the_environment(detector, monkeypatch):
    monkeypatch.setenv("PATTERN_CONFIDENCE_THRESHOLD", "0.95")
    result = detector.handler({"action": "decide", "confidence": 0.91}, None)
    assert result["shouldAlert"] is False and len(result["patternId"]) == 32


def test_tune_benchmarks_at_the_current_memory(detector):
    result = detector.handler({"action": "tune", "iterations": 2}, SimpleNamespace(memory_limit_in_mb=1536))
    assert result["memorySize"] == 1536 and result["durationMs"] >= 0
    explicit = detector.handler({"action": "tune", "memorySize": 512, "iterations": 1}, None)
    assert explicit["memorySize"] == 512


def test_tune_recommends_the_cheapest_configuration(detector):
    results = [{"memorySize": 512, "durationMs": 400}, {"memorySize": 1024, "durationMs": 150},
               {"memorySize": 3008, "durationMs": 60}]
    result = detector.handler({"action": "tune", "results": results}, None)
    assert result["recommendedMemorySize"] == 1024
    assert [r["memorySize"] for r in result["results"]] == [512, 1024, 3008]
    assert all(r["cost"] > 0 for r in result["results"])


@pytest.mark.parametrize(
    "event, message",
    [
        ({"iterations": 0}, "iterations"),
        ({"iterations": True}, "iterations"),
        ({"results": []}, "non-empty list"),
        ({"results": ["x"]}, "each result"),
        ({"results": [{"memorySize": 64, "durationMs": 1}]}, "memorySize"),
        ({"results": [{"memorySize": 512, "durationMs": -1}]}, "durationMs"),
    ],
)
def test_tune_rejects_bad_input(detector, event, message):
    with pytest.raises(detector.ValidationError, match=message):
        detector.handler({"action": "tune", **event}, None)


def test_unknown_action_and_non_object_event_are_validation_errors(detector):
    with pytest.raises(detector.ValidationError, match="action must be one of"):
        detector.handler({"action": "explode"}, None)
    with pytest.raises(detector.ValidationError, match="JSON object"):
        detector.handler(["not", "an", "object"], None)


def api_event(method: str, resource: str, body=None, query=None) -> dict:
    return {"httpMethod": method, "resource": resource, "queryStringParameters": query,
            "body": body if body is None or isinstance(body, str) else json.dumps(body)}


def test_post_patterns_detects_scores_and_stores(detector, table, capsys):
    response = detector.handler(api_event("POST", "/patterns", {"symbol": "AAPL", "prices": DOUBLE_TOP}), None)
    assert response["statusCode"] == 201
    body = json.loads(response["body"])
    assert body["patternType"] == "double-top" and body["status"] == "DETECTED"
    assert len(body["detections"]) == 3
    (put,) = table.named("put_item")
    item = put["Item"]
    assert item["symbol"] == "AAPL" and isinstance(item["confidence"], Decimal)
    assert item["severity"] == body["severity"] and item["patternId"] == body["patternId"]
    assert len(emf_records(capsys)) == 4  # three durations and one confidence score


def test_post_patterns_with_nothing_detected_stores_status_none(detector, table):
    body = {"symbol": "AAPL", "prices": RISING, "patternTypes": ["double-top"]}
    response = detector.handler(api_event("POST", "/patterns", body), None)
    assert json.loads(response["body"])["status"] == "NONE"
    assert table.named("put_item")[0]["Item"]["status"] == "NONE"


@pytest.mark.parametrize(
    "body, message",
    [
        ("{not json", "not valid JSON"),
        (None, "request body is required"),
        ({"symbol": "AAPL", "prices": [1, 2]}, "prices must be a list"),
        ({"symbol": "AAPL", "prices": RISING, "patternTypes": []}, "patternTypes"),
        ({"symbol": "AAPL", "prices": RISING, "patternTypes": ["cup-and-handle"]}, "patternType must be one of"),
    ],
)
def test_post_patterns_rejects_bad_requests_with_400(detector, table, body, message):
    response = detector.handler(api_event("POST", "/patterns", body), None)
    assert response["statusCode"] == 400
    assert message in json.loads(response["body"])["error"]
    assert table.named("put_item") == []


def test_get_alerts_filters_pages_and_sorts(detector, table):
    table.responses["scan"] = [
        {"Items": [{"patternId": "a", "timestamp": Decimal(1), "confidence": Decimal("0.91")}],
         "LastEvaluatedKey": {"patternId": "a"}},
        {"Items": [{"patternId": "b", "timestamp": Decimal(5), "confidence": Decimal("0.95")}]},
    ]
    response = detector.handler(api_event("GET", "/alerts", query={"minConfidence": "0.9", "symbol": "AAPL"}), None)
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert [a["patternId"] for a in body["alerts"]] == ["b", "a"]
    assert body["alerts"][0] == {"patternId": "b", "timestamp": 5, "confidence": 0.95}
    first, second = table.named("scan")
    assert first["FilterExpression"] == "confidence >= :minimum AND symbol = :symbol"
    assert first["ExpressionAttributeValues"] == {":minimum": Decimal("0.9"), ":symbol": "AAPL"}
    assert second["ExclusiveStartKey"] == {"patternId": "a"}


def test_get_alerts_stops_at_the_limit(detector, table):
    table.responses["scan"] = [{"Items": [{"patternId": "a", "tags": [Decimal("1.5")]}, {"patternId": "b"}],
                                "LastEvaluatedKey": {"patternId": "b"}}]
    response = detector.handler(api_event("GET", "/alerts", query={"limit": "1"}), None)
    body = json.loads(response["body"])
    assert len(body["alerts"]) == 1 and body["minConfidence"] == 0.8
    assert len(table.named("scan")) == 1
    assert table.named("scan")[0]["FilterExpression"] == "confidence >= :minimum"


@pytest.mark.parametrize(
    "query, message",
    [({"limit": "ten"}, "limit must be a number"), ({"limit": "500"}, "limit must be between"),
     ({"minConfidence": "2"}, "minConfidence must be between"), ({"symbol": "bad symbol"}, "symbol")],
)
def test_get_alerts_rejects_bad_query_parameters(detector, table, query, message):
    response = detector.handler(api_event("GET", "/alerts", query=query), None)
    assert response["statusCode"] == 400 and message in json.loads(response["body"])["error"]


def test_unknown_route_is_404(detector):
    response = detector.handler(api_event("DELETE", "/patterns"), None)
    assert response["statusCode"] == 404


# --- alert processor ------------------------------------------------------------------------


@pytest.fixture
def alerts(load_handler, monkeypatch, clients):
    module = load_handler(SYSTEM, "alert_processor")
    monkeypatch.setenv("TRADING_ALERTS_TOPIC_ARN", "arn:aws:sns:us-east-1:1:TradingAlerts-qa7")
    monkeypatch.setenv("APPROVAL_TOPIC_ARN", "arn:aws:sns:us-east-1:1:AlertApprovalRequests-qa7")
    monkeypatch.setenv("APPROVAL_TABLE", "ApprovalTracking-qa7")
    fakes = clients(module, dynamodb=FakeClient(), sns=FakeClient())
    return module, fakes


def sqs_record(message_id: str, body) -> dict:
    return {"messageId": message_id, "body": body if isinstance(body, str) else json.dumps(body)}


def test_alert_processor_routes_by_severity_and_reports_partial_failures(alerts, capsys):
    module, fakes = alerts
    event = {"Records": [
        sqs_record("m1", {"symbol": "AAPL", "patternType": "double-top", "confidence": 0.85}),
        sqs_record("m2", "{broken"),
        sqs_record("m3", {"symbol": "TSLA", "patternType": "head-and-shoulders", "confidence": 0.97,
                          "patternId": "p-3"}),
    ]}
    assert module.handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    trading, approval = fakes["sns"].named("publish")
    assert trading["TopicArn"].endswith("TradingAlerts-qa7")
    assert trading["MessageAttributes"]["severity"]["StringValue"] == "MEDIUM"
    assert approval["TopicArn"].endswith("AlertApprovalRequests-qa7")
    message = json.loads(approval["Message"])
    (put,) = fakes["dynamodb"].named("put_item")
    token = put["Item"]["token"]["S"]
    assert message["approvalToken"] == token and message["approvePath"] == f"/approve/{token}"
    assert put["ConditionExpression"] == "attribute_not_exists(#token)"
    expires = int(put["Item"]["expiresAt"]["N"]) - int(put["Item"]["createdAt"]["N"])
    assert expires == 3600
    severities = {r["Severity"]: r["AlertPriority"] for r in emf_records(capsys)}
    assert severities == {"MEDIUM": 2, "CRITICAL": 4}


def test_alert_processor_redelivery_reuses_the_token_and_still_notifies(alerts):
    module, fakes = alerts
    fakes["dynamodb"].responses["put_item"] = conditional_failure()
    body = {"symbol": "TSLA", "patternType": "double-top", "confidence": 0.5, "severity": "CRITICAL"}
    assert module.handler({"Records": [sqs_record("m9", body)]}, None) == {"batchItemFailures": []}
    again = module.handler({"Records": [sqs_record("m9", body)]}, None)
    assert again == {"batchItemFailures": []}
    tokens = [json.loads(p["Message"])["approvalToken"] for p in fakes["sns"].named("publish")]
    assert len(tokens) == 2 and tokens[0] == tokens[1]


def test_alert_processor_fails_the_record_on_other_dynamodb_errors(alerts):
    module, fakes = alerts
    fakes["dynamodb"].responses["put_item"] = other_failure()
    body = {"symbol": "TSLA", "patternType": "double-top", "confidence": 0.99}
    assert module.handler({"Records": [sqs_record("m1", body)]}, None) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert fakes["sns"].named("publish") == []


@pytest.mark.parametrize(
    "body, message",
    [
        ("[1]", "JSON object"),
        ({"patternType": "double-top", "confidence": 0.5}, "symbol is required"),
        ({"symbol": "A", "confidence": 0.5}, "patternType is required"),
        ({"symbol": "A", "patternType": "x", "confidence": "high"}, "confidence"),
        ({"symbol": "A", "patternType": "x", "confidence": 0.5, "severity": "URGENT"}, "severity"),
    ],
)
def test_alert_processor_parse_rejects_bad_alerts(alerts, body, message):
    module, _fakes = alerts
    with pytest.raises(ValueError, match=message):
        module.parse_alert(body if isinstance(body, str) else json.dumps(body))


def test_alert_processor_with_no_records(alerts):
    module, _fakes = alerts
    assert module.handler({}, None) == {"batchItemFailures": []}
    assert module.severity_for(0.92) == "HIGH" and module.severity_for(0.1) == "LOW"


# --- threshold checker ----------------------------------------------------------------------


def pattern_item(pattern_id: str, status: str, confidence: str | None = "0.95") -> dict:
    item = {"patternId": {"S": pattern_id}, "timestamp": {"N": "1"}, "status": {"S": status},
            "symbol": {"S": "AAPL"}, "patternType": {"S": "double-top"}}
    if confidence is not None:
        item["confidence"] = {"N": confidence}
    return item


@pytest.fixture
def checker(load_handler, monkeypatch, clients):
    module = load_handler(SYSTEM, "threshold_checker")
    monkeypatch.setenv("PATTERNS_TABLE", "TradingPatterns-qa7")
    monkeypatch.setenv("ALERT_QUEUE_URL", "https://sqs/AlertQueue-qa7")
    monkeypatch.setenv("ERROR_THRESHOLD", "1")
    monkeypatch.setenv("PATTERN_CONFIDENCE_THRESHOLD", "0.9")
    fakes = clients(module, dynamodb=FakeClient(), sqs=FakeClient())
    return module, fakes


def test_threshold_checker_alerts_once_per_pattern_and_on_error_count(checker, capsys):
    module, fakes = checker
    fakes["dynamodb"].responses["scan"] = [
        {"Items": [pattern_item("hot", "DETECTED"), pattern_item("cold", "DETECTED", "0.5")],
         "LastEvaluatedKey": {"patternId": {"S": "cold"}}},
        {"Items": [pattern_item("done", "ALERTED"), pattern_item("e1", "ERROR"), pattern_item("e2", "ERROR"),
                   pattern_item("nocf", "DETECTED", None)]},
    ]
    result = module.handler({}, None)
    assert result == {"evaluated": 6, "alertsSent": 2, "errorPatterns": 2}
    (update,) = fakes["dynamodb"].named("update_item")
    assert update["ConditionExpression"] == "#status = :detected"
    assert update["Key"] == {"patternId": {"S": "hot"}, "timestamp": {"N": "1"}}
    assert fakes["dynamodb"].named("scan")[1]["ExclusiveStartKey"] == {"patternId": {"S": "cold"}}
    pattern_alert, error_alert = (json.loads(m["MessageBody"]) for m in fakes["sqs"].named("send_message"))
    assert pattern_alert["patternId"] == "hot" and pattern_alert["confidence"] == 0.95
    assert error_alert["patternType"] == "error-threshold" and error_alert["errorCount"] == 2
    (record,) = emf_records(capsys)
    assert record["ThresholdChecks"] == 1 and record["PatternsEvaluated"] == 6


def test_threshold_checker_skips_patterns_another_run_alerted(checker):
    module, fakes = checker
    fakes["dynamodb"].responses["scan"] = {"Items": [pattern_item("hot", "DETECTED")]}
    fakes["dynamodb"].responses["update_item"] = conditional_failure("UpdateItem")
    assert module.handler({}, None)["alertsSent"] == 0
    assert fakes["sqs"].named("send_message") == []


def test_threshold_checker_propagates_other_errors(checker):
    module, fakes = checker
    fakes["dynamodb"].responses["scan"] = {"Items": [pattern_item("hot", "DETECTED")]}
    fakes["dynamodb"].responses["update_item"] = other_failure("UpdateItem")
    with pytest.raises(ClientError):
        module.handler({}, None)


@pytest.mark.parametrize("name, value, message", [
    ("ERROR_THRESHOLD", "many", "must be a number"), ("PATTERN_CONFIDENCE_THRESHOLD", "-1", "must not be negative")])
def test_threshold_checker_rejects_bad_settings(checker, monkeypatch, name, value, message):
    module, _fakes = checker
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        module.handler({}, None)


# --- kinesis consumer -----------------------------------------------------------------------


def kinesis_record(sequence: str, payload) -> dict:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return {"kinesis": {"sequenceNumber": sequence, "data": base64.b64encode(raw).decode()}}


@pytest.fixture
def consumer(load_handler, monkeypatch, clients):
    module = load_handler(SYSTEM, "kinesis_consumer")
    monkeypatch.setenv("PATTERNS_TABLE", "TradingPatterns-qa7")
    monkeypatch.setenv("ALERT_QUEUE_URL", "https://sqs/AlertQueue-qa7")
    fakes = clients(module, dynamodb=FakeClient(), sqs=FakeClient())
    return module, fakes


def test_kinesis_consumer_stores_patterns_and_alerts_above_0_9(consumer, capsys):
    module, fakes = consumer
    event = {"Records": [
        kinesis_record("1", {"symbol": "AAPL", "patternType": "double-top", "confidence": 0.95, "timestamp": 42}),
        kinesis_record("2", {"symbol": "MSFT", "patternType": "double-top", "confidence": 0.9}),
    ]}
    assert module.handler(event, None) == {"batchItemFailures": []}
    first, second = fakes["dynamodb"].named("put_item")
    assert first["Item"]["timestamp"] == {"N": "42"} and first["Item"]["confidence"] == {"N": "0.95"}
    assert int(second["Item"]["timestamp"]["N"]) > 1_600_000_000_000  # defaulted to now
    (alert,) = fakes["sqs"].named("send_message")
    assert json.loads(alert["MessageBody"])["symbol"] == "AAPL"
    (record,) = emf_records(capsys)
    assert (record["RecordsProcessed"], record["HighConfidenceAlerts"]) == (2, 1)


def test_kinesis_consumer_pattern_id_is_stable_per_sequence_number(consumer):
    module, fakes = consumer
    record = kinesis_record("77", {"symbol": "AAPL", "patternType": "x", "confidence": 0.1})
    module.handler({"Records": [record]}, None)
    module.handler({"Records": [record]}, None)
    first, second = fakes["dynamodb"].named("put_item")
    assert first["Item"]["patternId"] == second["Item"]["patternId"]


def test_kinesis_consumer_checkpoints_at_the_first_bad_record(consumer):
    module, fakes = consumer
    event = {"Records": [
        kinesis_record("1", {"symbol": "AAPL", "patternType": "double-top", "confidence": 0.2}),
        kinesis_record("2", b"not json"),
        kinesis_record("3", {"symbol": "AAPL", "patternType": "double-top", "confidence": 0.2}),
    ]}
    assert module.handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert len(fakes["dynamodb"].named("put_item")) == 1


@pytest.mark.parametrize(
    "record, message",
    [
        ({"kinesis": {"data": "***"}}, "base64"),
        ({}, "base64"),
        (kinesis_record("1", [1, 2]), "JSON object"),
        (kinesis_record("1", {"patternType": "x", "confidence": 0.5}), "symbol"),
        (kinesis_record("1", {"symbol": "A", "patternType": "x", "confidence": 5}), "confidence"),
    ],
)
def test_kinesis_consumer_decode_rejects_bad_records(consumer, record, message):
    module, _fakes = consumer
    with pytest.raises(ValueError, match=message):
        module.decode(record)


def test_kinesis_consumer_reports_storage_failures(consumer):
    module, fakes = consumer
    fakes["dynamodb"].responses["put_item"] = other_failure()
    event = {"Records": [kinesis_record("5", {"symbol": "A", "patternType": "x", "confidence": 0.99})]}
    assert module.handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "5"}]}
    assert module.handler(None, None) == {"batchItemFailures": []}


# --- approval processor ---------------------------------------------------------------------

TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def approvals(load_handler, monkeypatch, clients):
    module = load_handler(SYSTEM, "approval_processor")
    monkeypatch.setenv("APPROVAL_TABLE", "ApprovalTracking-qa7")
    monkeypatch.setenv("RESULTS_TOPIC_ARN", "arn:aws:sns:us-east-1:1:TradingAlerts-qa7")
    fakes = clients(module, dynamodb=FakeClient(), sns=FakeClient())
    return module, fakes


def approve_event(token=TOKEN, body=None) -> dict:
    if body is None:
        body = {"decision": "approve", "approver": "dana"}
    return {"pathParameters": {"token": token}, "body": body if isinstance(body, str) else json.dumps(body)}


def approval_item(status: str, expires_at: int) -> dict:
    return {"token": {"S": TOKEN}, "status": {"S": status}, "expiresAt": {"N": str(expires_at)},
            "alert": {"S": json.dumps({"symbol": "TSLA"})}}


def test_approval_decides_once_and_publishes_the_result(approvals, capsys):
    module, fakes = approvals
    fakes["dynamodb"].responses["get_item"] = {"Item": approval_item("APPROVED", 9_999_999_999)}
    response = module.handler(approve_event(body={"decision": "approve", "approver": " dana ",
                                                  "comment": "ok"}), None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"token": TOKEN, "status": "APPROVED"}
    (update,) = fakes["dynamodb"].named("update_item")
    assert update["ConditionExpression"] == "attribute_exists(#token) AND #status = :pending AND expiresAt > :now"
    assert update["ExpressionAttributeValues"][":approver"] == {"S": "dana"}
    (published,) = fakes["sns"].named("publish")
    message = json.loads(published["Message"])
    assert message["status"] == "APPROVED" and message["alert"] == {"symbol": "TSLA"}
    (record,) = emf_records(capsys)
    assert record["ApprovalsProcessed"] == 1 and record["Action"] == "approve"


def test_approval_duplicate_is_409(approvals, capsys):
    module, fakes = approvals
    fakes["dynamodb"].responses["update_item"] = conditional_failure("UpdateItem")
    fakes["dynamodb"].responses["get_item"] = {"Item": approval_item("REJECTED", 9_999_999_999)}
    response = module.handler(approve_event(), None)
    assert response["statusCode"] == 409
    assert json.loads(response["body"])["status"] == "REJECTED"
    assert fakes["sns"].named("publish") == []
    assert emf_records(capsys)[0]["Action"] == "duplicate"


def test_approval_unknown_token_is_404(approvals):
    module, fakes = approvals
    fakes["dynamodb"].responses["update_item"] = conditional_failure("UpdateItem")
    assert module.handler(approve_event(), None)["statusCode"] == 404


def test_approval_after_one_hour_is_auto_rejected_with_410(approvals):
    module, fakes = approvals
    fakes["dynamodb"].responses["update_item"] = [conditional_failure("UpdateItem"), {}]
    fakes["dynamodb"].responses["get_item"] = {"Item": approval_item("PENDING", 1)}
    response = module.handler(approve_event(), None)
    assert response["statusCode"] == 410
    _first, expire = fakes["dynamodb"].named("update_item")
    assert expire["ExpressionAttributeValues"][":status"] == {"S": "EXPIRED"}
    assert "expiresAt <= :now" in expire["ConditionExpression"]
    assert json.loads(fakes["sns"].named("publish")[0]["Message"])["status"] == "EXPIRED"


def test_approval_expiry_race_is_still_410_without_a_second_publish(approvals):
    module, fakes = approvals
    fakes["dynamodb"].responses["update_item"] = [conditional_failure("UpdateItem"),
                                                  conditional_failure("UpdateItem")]
    fakes["dynamodb"].responses["get_item"] = {"Item": approval_item("PENDING", 1)}
    assert module.handler(approve_event(), None)["statusCode"] == 410
    assert fakes["sns"].named("publish") == []


def test_approval_propagates_other_dynamodb_errors(approvals):
    module, fakes = approvals
    fakes["dynamodb"].responses["update_item"] = other_failure("UpdateItem")
    with pytest.raises(ClientError):
        module.handler(approve_event(), None)
    fakes["dynamodb"].responses["update_item"] = [conditional_failure("UpdateItem"), other_failure("UpdateItem")]
    fakes["dynamodb"].responses["get_item"] = {"Item": approval_item("PENDING", 1)}
    with pytest.raises(ClientError):
        module.handler(approve_event(), None)


@pytest.mark.parametrize(
    "event, message",
    [
        (approve_event(token="../etc"), "token must be"),
        ({"body": "{}"}, "token must be"),
        (approve_event(body="{oops"), "not valid JSON"),
        (approve_event(body={"decision": "maybe", "approver": "dana"}), "decision"),
        (approve_event(body={"decision": "reject", "approver": "   "}), "approver"),
        (approve_event(body={"decision": "reject", "approver": 5}), "approver"),
        (approve_event(body={"decision": "reject", "approver": "dana", "comment": 5}), "comment"),
    ],
)
def test_approval_rejects_bad_requests_with_400(approvals, event, message):
    module, fakes = approvals
    response = module.handler(event, None)
    assert response["statusCode"] == 400
    assert message in json.loads(response["body"])["error"]
    assert fakes["dynamodb"].calls == []


def test_approval_rejects_a_non_object_event(approvals):
    module, _fakes = approvals
    assert module.handler("nope", None)["statusCode"] == 400


def test_approval_publish_without_alert_payload(approvals):
    module, fakes = approvals
    fakes["dynamodb"].responses["get_item"] = {}
    response = module.handler(approve_event(body={"decision": "reject", "approver": "dana"}), None)
    assert json.loads(response["body"])["status"] == "REJECTED"
    assert json.loads(fakes["sns"].named("publish")[0]["Message"])["alert"] == {}


# --- shared: client factories and the layer --------------------------------------------------


@pytest.mark.parametrize("module_name", ["alert_processor", "threshold_checker", "kinesis_consumer",
                                         "approval_processor"])
def test_client_factories_create_boto3_clients_lazily(load_handler, monkeypatch, module_name):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    module = load_handler(SYSTEM, module_name)
    module._client.cache_clear()
    try:
        assert module._client("sqs").meta.service_model.service_name == "sqs"
    finally:
        module._client.cache_clear()


def test_table_factory_creates_a_dynamodb_table_resource(load_handler, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    module = load_handler(SYSTEM, "pattern_detector")
    module._table.cache_clear()
    try:
        assert module._table("TradingPatterns-qa7").name == "TradingPatterns-qa7"
    finally:
        module._table.cache_clear()


def test_layer_settings_match_the_handlers(load_handler):
    spec = importlib.util.spec_from_file_location("pattern_shared_layer", LAYER_MODULE)
    layer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layer)
    assert layer.PATTERN_TYPES == load_handler(SYSTEM, "pattern_detector").PATTERN_TYPES
    assert layer.SEVERITY_PRIORITY == load_handler(SYSTEM, "alert_processor").SEVERITIES
    assert layer.METRICS_NAMESPACE == "StockPatternDetection"
