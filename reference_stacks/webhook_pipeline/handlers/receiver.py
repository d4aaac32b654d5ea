"""API Gateway -> receiver: validate one webhook and enqueue it.

``POST /webhooks/{provider}`` with a JSON object body ``{"id", "type", "data", ["created"],
["priority"]}``. Answers 202 with the event id and the queue it went to, 400 with a JSON
error naming every problem in the request, 503 when SQS does not take the message (webhook
providers retry on 5xx, so nothing is lost).

Routing: event types whose delay costs money or exposes a security issue (or a payload that
asks for ``"priority": "high"``) go to the priority queue, everything else to the standard
queue. Queue URLs come from ``PRIORITY_QUEUE_URL`` / ``STANDARD_QUEUE_URL``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone

from botocore.exceptions import BotoCoreError, ClientError

import emf_metrics
from api_responses import BadRequest, error_response, json_body, json_response
from aws_runtime import client as _client
from aws_runtime import log as _log

METRICS_NAMESPACE_DEFAULT = "WebhookPipeline"
SUPPORTED_PROVIDERS = ("generic", "github", "shopify", "stripe")
PRIORITY_EVENT_TYPES: dict[str, frozenset[str]] = {
    "generic": frozenset(),
    "github": frozenset({"repository_vulnerability_alert", "secret_scanning_alert", "security_advisory"}),
    "shopify": frozenset({"orders/cancelled", "refunds/create"}),
    "stripe": frozenset({"charge.dispute.created", "invoice.payment_failed", "payment_intent.payment_failed"}),
}
PRIORITIES = ("high", "normal")
# SQS accepts 256 KiB per message; the envelope around the payload needs some of it.
MAX_BODY_BYTES = 200 * 1024
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_TYPE_PATTERN = re.compile(r"^[A-Za-z0-9_./:-]{1,128}$")


def _metrics_namespace() -> str:
    return os.environ.get("METRICS_NAMESPACE", METRICS_NAMESPACE_DEFAULT)


def validate_webhook(provider: str | None, payload: dict) -> dict:
    """The normalized webhook, or :class:`BadRequest` listing every problem found."""
    if not provider:
        raise BadRequest("path parameter 'provider' is required")
    if provider not in SUPPORTED_PROVIDERS:
        raise BadRequest(
            f"unsupported provider {provider!r}; supported: {', '.join(SUPPORTED_PROVIDERS)}"
        )
    problems: list[str] = []
    event_id = payload.get("id")
    if event_id is None:
        problems.append("'id' is required")
    elif not isinstance(event_id, str) or not _ID_PATTERN.match(event_id):
        problems.append("'id' must be a string of 1-128 letters, digits or _ . : -")
    event_type = payload.get("type")
    if event_type is None:
        problems.append("'type' is required")
    elif not isinstance(event_type, str) or not _TYPE_PATTERN.match(event_type):
        problems.append("'type' must be a string of 1-128 letters, digits or _ . / : -")
    data = payload.get("data")
    if data is None:
        problems.append("'data' is required")
    elif not isinstance(data, dict):
        problems.append("'data' must be a JSON object")
    created = payload.get("created")
    if created is not None and (
        isinstance(created, bool) or not isinstance(created, int) or created < 0
    ):
        problems.append("'created' must be a non-negative integer (Unix seconds)")
    priority = payload.get("priority")
    if priority is not None and priority not in PRIORITIES:
        problems.append(f"'priority' must be one of: {', '.join(PRIORITIES)}")
    if problems:
        raise BadRequest("; ".join(problems))
    if priority is None:
        priority = "high" if event_type in PRIORITY_EVENT_TYPES[provider] else "normal"
    return {
        "provider": provider,
        "eventId": event_id,
        "eventType": event_type,
        "priority": priority,
        "created": created,
        "data": data,
    }


def _reject(message: str) -> dict:
    emf_metrics.emit(_metrics_namespace(), {"WebhooksRejected": 1}, dimensions={"Function": "receiver"})
    return error_response(400, message)


def handler(event: dict, context: object) -> dict:
    """Lambda-proxy entry point."""
    body = event.get("body") if isinstance(event, dict) else None
    if isinstance(body, str) and len(body.encode("utf-8")) > MAX_BODY_BYTES:
        return _reject(f"request body exceeds {MAX_BODY_BYTES} bytes")
    try:
        payload = json_body(event)
        provider = (event.get("pathParameters") or {}).get("provider")
        webhook = validate_webhook(provider, payload)
    except BadRequest as error:
        return _reject(str(error))

    request_context = event.get("requestContext") or {}
    webhook["requestId"] = request_context.get("requestId")
    webhook["receivedAt"] = datetime.now(timezone.utc).isoformat()
    queue = "priority" if webhook["priority"] == "high" else "standard"
    queue_url = os.environ["PRIORITY_QUEUE_URL" if queue == "priority" else "STANDARD_QUEUE_URL"]
    try:
        sent = _client("sqs").send_message(
            QueueUrl=queue_url,
            MessageBody=json.dumps(webhook),
            MessageAttributes={
                "provider": {"DataType": "String", "StringValue": webhook["provider"]},
                "eventType": {"DataType": "String", "StringValue": webhook["eventType"]},
            },
        )
    except (BotoCoreError, ClientError) as error:
        _log("ERROR", "enqueue failed", error=str(error), eventId=webhook["eventId"])
        return error_response(503, "webhook could not be queued; retry later", eventId=webhook["eventId"])

    emf_metrics.emit(
        _metrics_namespace(),
        {"WebhooksAccepted": 1},
        dimensions={"Provider": webhook["provider"], "Queue": queue},
    )
    return json_response(
        202,
        {
            "status": "accepted",
            "eventId": webhook["eventId"],
            "queue": queue,
            "messageId": sent.get("MessageId"),
        },
    )
