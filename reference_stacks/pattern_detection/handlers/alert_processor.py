"""Alert processor: AlertQueue batches -> SNS, CRITICAL alerts through the approval workflow.

Each record is handled on its own; failed records are reported in
``batchItemFailures`` so only they return to the queue (and reach the DLQ after
maxReceiveCount). A CRITICAL alert gets an approval token (derived from the
pattern or message id, so a redelivered message reuses it) stored in the
approval table with a one-hour expiry, and is published to the approval topic;
every other alert goes straight to the trading-alerts topic.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import emf_metrics
from aws_runtime import client as _client

SEVERITIES = {"LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}
APPROVAL_TTL_SECONDS = 3600
TOKEN_NAMESPACE = uuid.UUID("5d1c0ad3-1c52-4f0e-9a57-0b3c1e1d6a11")


def severity_for(confidence: float) -> str:
    if confidence >= 0.95:
        return "CRITICAL"
    if confidence >= 0.9:
        return "HIGH"
    if confidence >= 0.8:
        return "MEDIUM"
    return "LOW"


def parse_alert(body: str) -> dict:
    """The alert in an SQS message body, or ValueError saying what is wrong."""
    try:
        alert = json.loads(body)
    except (TypeError, json.JSONDecodeError) as error:
        raise ValueError("message body is not valid JSON") from error
    if not isinstance(alert, dict):
        raise ValueError("message body must be a JSON object")
    for field in ("symbol", "patternType"):
        if not isinstance(alert.get(field), str) or not alert[field]:
            raise ValueError(f"{field} is required")
    confidence = alert.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        raise ValueError("confidence must be a number between 0 and 1")
    severity = alert.get("severity") or severity_for(confidence)
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
    return {**alert, "severity": severity}


def _request_approval(alert: dict, message_id: str) -> str:
    token = uuid.uuid5(TOKEN_NAMESPACE, str(alert.get("patternId") or message_id)).hex
    now = int(time.time())
    try:
        _client("dynamodb").put_item(
            TableName=os.environ["APPROVAL_TABLE"],
            Item={
                "token": {"S": token},
                "status": {"S": "PENDING"},
                "alert": {"S": json.dumps(alert, sort_keys=True)},
                "createdAt": {"N": str(now)},
                "expiresAt": {"N": str(now + APPROVAL_TTL_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(#token)",
            ExpressionAttributeNames={"#token": "token"},
        )
    except Exception as error:  # a redelivered message: the approval already exists
        if getattr(error, "response", {}).get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
    _client("sns").publish(
        TopicArn=os.environ["APPROVAL_TOPIC_ARN"],
        Subject=f"Approval required: {alert['severity']} {alert['patternType']} on {alert['symbol']}",
        Message=json.dumps({**alert, "approvalToken": token, "approvePath": f"/approve/{token}",
                            "expiresInSeconds": APPROVAL_TTL_SECONDS}),
        MessageAttributes={"severity": {"DataType": "String", "StringValue": alert["severity"]}},
    )
    return token


def process(record: dict) -> str:
    alert = parse_alert(record.get("body"))
    if alert["severity"] == "CRITICAL":
        _request_approval(alert, record["messageId"])
        route = "approval"
    else:
        _client("sns").publish(
            TopicArn=os.environ["TRADING_ALERTS_TOPIC_ARN"],
            Subject=f"{alert['severity']} {alert['patternType']} on {alert['symbol']}",
            Message=json.dumps(alert),
            MessageAttributes={"severity": {"DataType": "String", "StringValue": alert["severity"]}},
        )
        route = "trading-alerts"
    emf_metrics.emit(
        os.environ.get("METRICS_NAMESPACE", "StockPatternDetection"),
        {"AlertPriority": SEVERITIES[alert["severity"]]},
        dimensions={"Severity": alert["severity"]},
        properties={"symbol": alert["symbol"], "route": route},
    )
    return route


def handler(event, context):
    failures = []
    for record in (event or {}).get("Records", []):
        try:
            process(record)
        except Exception as error:  # report the record, keep the rest of the batch
            print(json.dumps({"level": "ERROR", "messageId": record.get("messageId"), "error": str(error)}))
            failures.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failures}
