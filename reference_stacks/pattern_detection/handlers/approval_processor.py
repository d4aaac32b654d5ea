"""Approval processor: POST /approve/{token} decides a pending CRITICAL alert exactly once.

The decision is a DynamoDB conditional update that only succeeds while the
approval is PENDING and unexpired, so concurrent or repeated calls cannot both
win: the loser gets 409. An approval past its one-hour expiry is auto-rejected
(status EXPIRED, 410). The outcome is published to the results topic.
"""

from __future__ import annotations

import json
import os
import re
import time

import emf_metrics
from api_responses import BadRequest, error_response, json_body, json_response
from aws_runtime import client as _client

TOKEN_PATTERN = re.compile(r"^[0-9a-f]{32}$")
DECISIONS = {"approve": "APPROVED", "reject": "REJECTED"}


def _code(error: Exception) -> str | None:
    return getattr(error, "response", {}).get("Error", {}).get("Code")


def parse_request(event: dict) -> tuple[str, str, str, str]:
    token = (event.get("pathParameters") or {}).get("token")
    if not isinstance(token, str) or not TOKEN_PATTERN.match(token):
        raise BadRequest("token must be 32 lower-case hexadecimal characters")
    body = json_body(event)
    decision = body.get("decision")
    if decision not in DECISIONS:
        raise BadRequest("decision must be 'approve' or 'reject'")
    approver = body.get("approver")
    if not isinstance(approver, str) or not 1 <= len(approver.strip()) <= 128:
        raise BadRequest("approver must be a non-empty string of at most 128 characters")
    comment = body.get("comment", "")
    if not isinstance(comment, str) or len(comment) > 1000:
        raise BadRequest("comment must be a string of at most 1000 characters")
    return token, decision, approver.strip(), comment


def _update(table: str, token: str, status: str, now: int, approver: str, comment: str, *, expired: bool):
    condition = "#status = :pending AND expiresAt " + ("<= :now" if expired else "> :now")
    _client("dynamodb").update_item(
        TableName=table,
        Key={"token": {"S": token}},
        UpdateExpression="SET #status = :status, decidedAt = :now, approver = :approver, #comment = :comment",
        ConditionExpression=f"attribute_exists(#token) AND {condition}",
        ExpressionAttributeNames={"#status": "status", "#token": "token", "#comment": "comment"},
        ExpressionAttributeValues={
            ":status": {"S": status},
            ":pending": {"S": "PENDING"},
            ":now": {"N": str(now)},
            ":approver": {"S": approver},
            ":comment": {"S": comment},
        },
    )


def _publish(token: str, status: str, approver: str, item: dict | None) -> None:
    alert = json.loads(item["alert"]["S"]) if item and "alert" in item else {}
    _client("sns").publish(
        TopicArn=os.environ["RESULTS_TOPIC_ARN"],
        Subject=f"Approval {status.lower()}: {alert.get('symbol', token)}",
        Message=json.dumps({"token": token, "status": status, "approver": approver, "alert": alert}),
        MessageAttributes={"approvalStatus": {"DataType": "String", "StringValue": status}},
    )


def _metric(action: str) -> None:
    emf_metrics.emit(
        os.environ.get("METRICS_NAMESPACE", "StockPatternDetection"),
        {"ApprovalsProcessed": 1},
        dimensions={"Action": action},
    )


def decide(token: str, decision: str, approver: str, comment: str) -> dict:
    table = os.environ["APPROVAL_TABLE"]
    now = int(time.time())
    status = DECISIONS[decision]
    try:
        _update(table, token, status, now, approver, comment, expired=False)
    except Exception as error:
        if _code(error) != "ConditionalCheckFailedException":
            raise
        return _explain_conflict(table, token, now, approver, comment)
    item = _client("dynamodb").get_item(TableName=table, Key={"token": {"S": token}}).get("Item")
    _publish(token, status, approver, item)
    _metric(decision)
    return json_response(200, {"token": token, "status": status})


def _explain_conflict(table: str, token: str, now: int, approver: str, comment: str) -> dict:
    item = _client("dynamodb").get_item(TableName=table, Key={"token": {"S": token}}).get("Item")
    if item is None:
        return error_response(404, "approval not found or already expired", token=token)
    status = item.get("status", {}).get("S")
    if status == "PENDING" and int(item.get("expiresAt", {}).get("N", "0")) <= now:
        try:
            _update(table, token, "EXPIRED", now, "auto-reject", "approval window of 1 hour elapsed", expired=True)
        except Exception as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
        else:
            _publish(token, "EXPIRED", "auto-reject", item)
        _metric("expired")
        return error_response(410, "approval expired and was auto-rejected", token=token, status="EXPIRED")
    _metric("duplicate")
    return error_response(409, "approval already processed", token=token, status=status)


def handler(event, context):
    try:
        token, decision, approver, comment = parse_request(event if isinstance(event, dict) else {})
    except BadRequest as error:
        return error_response(400, str(error))
    return decide(token, decision, approver, comment)
