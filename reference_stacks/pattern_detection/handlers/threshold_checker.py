"""Threshold checker (EventBridge schedule): scan the patterns table, queue alerts that cross thresholds.

A DETECTED pattern with confidence >= PATTERN_CONFIDENCE_THRESHOLD is sent to the
alert queue and marked ALERTED with a conditional update (a second run does not
alert twice). More than ERROR_THRESHOLD patterns in status ERROR raise one system alert.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal

import emf_metrics
from aws_runtime import client as _client

MAX_PAGES = 50


def _setting(name: str, default: str, kind=float):
    raw = os.environ.get(name, default)
    try:
        value = kind(raw)
    except ValueError as error:
        raise ValueError(f"{name} must be a number, got {raw!r}") from error
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value


def _scan(table: str):
    request = {"TableName": table}
    for _page in range(MAX_PAGES):
        response = _client("dynamodb").scan(**request)
        yield from response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _number(item: dict, name: str) -> float:
    try:
        return float(Decimal(item[name]["N"]))
    except (KeyError, TypeError, ArithmeticError):
        return 0.0


def _send(queue_url: str, alert: dict) -> None:
    _client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(alert))


def handler(event, context):
    table = os.environ["PATTERNS_TABLE"]
    queue_url = os.environ["ALERT_QUEUE_URL"]
    confidence_threshold = _setting("PATTERN_CONFIDENCE_THRESHOLD", "0.9")
    error_threshold = _setting("ERROR_THRESHOLD", "5", int)
    evaluated = alerts = errors = 0
    for item in _scan(table):
        evaluated += 1
        status = item.get("status", {}).get("S")
        if status == "ERROR":
            errors += 1
            continue
        confidence = _number(item, "confidence")
        if status != "DETECTED" or confidence < confidence_threshold:
            continue
        try:
            _client("dynamodb").update_item(
                TableName=table,
                Key={"patternId": item["patternId"], "timestamp": item["timestamp"]},
                UpdateExpression="SET #status = :alerted",
                ConditionExpression="#status = :detected",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":alerted": {"S": "ALERTED"}, ":detected": {"S": "DETECTED"}},
            )
        except Exception as error:  # another run alerted it first
            if getattr(error, "response", {}).get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            continue
        _send(queue_url, {
            "patternId": item["patternId"]["S"],
            "symbol": item.get("symbol", {}).get("S", "UNKNOWN"),
            "patternType": item.get("patternType", {}).get("S", "unknown"),
            "confidence": confidence,
            "source": "threshold-checker",
        })
        alerts += 1
    if errors > error_threshold:
        _send(queue_url, {"symbol": "SYSTEM", "patternType": "error-threshold", "confidence": 1.0,
                          "severity": "HIGH", "errorCount": errors, "source": "threshold-checker"})
        alerts += 1
    emf_metrics.emit(
        os.environ.get("METRICS_NAMESPACE", "StockPatternDetection"),
        {"ThresholdChecks": 1, "PatternsEvaluated": evaluated},
        dimensions={"Service": "threshold-checker"},
        properties={"alertsSent": alerts, "errorPatterns": errors},
    )
    return {"evaluated": evaluated, "alertsSent": alerts, "errorPatterns": errors}
