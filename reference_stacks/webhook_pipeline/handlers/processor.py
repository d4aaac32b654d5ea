"""Priority and standard queues -> processor: normalize webhooks into notifications.

Each SQS record holds the receiver's envelope. The processor checks it, turns it into a
provider-neutral notification (category, severity, one-line summary) and sends that to the
notification queue (``NOTIFICATION_QUEUE_URL``). Records it cannot handle are reported in
``batchItemFailures``: SQS retries only those, and after maxReceiveCount they land in the DLQ.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

from botocore.exceptions import BotoCoreError, ClientError

import emf_metrics
from aws_runtime import client as _client
from aws_runtime import log as _log

METRICS_NAMESPACE_DEFAULT = "WebhookPipeline"
PRIORITIES = ("high", "normal")


class InvalidEnvelope(ValueError):
    """A queue message that is not a receiver envelope; retrying will not fix it."""


def parse_envelope(body: str) -> dict:
    """The receiver's envelope from a message body, or :class:`InvalidEnvelope`."""
    try:
        envelope = json.loads(body)
    except (TypeError, json.JSONDecodeError) as error:
        raise InvalidEnvelope(f"message body is not JSON: {error}") from error
    if not isinstance(envelope, dict):
        raise InvalidEnvelope("message body must be a JSON object")
    for field in ("provider", "eventId", "eventType"):
        if not isinstance(envelope.get(field), str) or not envelope[field]:
            raise InvalidEnvelope(f"{field!r} must be a non-empty string")
    if envelope.get("priority") not in PRIORITIES:
        raise InvalidEnvelope(f"'priority' must be one of: {', '.join(PRIORITIES)}")
    if not isinstance(envelope.get("data"), dict):
        raise InvalidEnvelope("'data' must be a JSON object")
    return envelope


def summarize(provider: str, event_type: str, data: dict) -> str:
    """A one-line, human-readable summary of a webhook for the notification."""
    if provider == "stripe":
        obj = data.get("object") if isinstance(data.get("object"), dict) else {}
        amount, currency = obj.get("amount"), obj.get("currency")
        if isinstance(amount, int) and not isinstance(amount, bool) and isinstance(currency, str):
            return f"{event_type}: {amount / 100:.2f} {currency.upper()}"
        return f"{event_type}: {obj.get('id', 'unknown object')}"
    if provider == "github":
        repository = data.get("repository") if isinstance(data.get("repository"), dict) else {}
        action = data.get("action")
        name = repository.get("full_name", "unknown repository")
        return f"{event_type} {action} on {name}" if action else f"{event_type} on {name}"
    if provider == "shopify":
        return f"{event_type}: order {data.get('id', 'unknown')} total {data.get('total_price', '?')}"
    return f"{event_type} from {provider}"


def build_notification(envelope: dict, source_queue: str) -> dict:
    """The notification message for one envelope."""
    event_type = envelope["eventType"]
    category = event_type.replace("/", ".").split(".", 1)[0]
    return {
        "provider": envelope["provider"],
        "eventId": envelope["eventId"],
        "eventType": event_type,
        "category": category,
        "severity": "critical" if envelope["priority"] == "high" else "info",
        "summary": summarize(envelope["provider"], event_type, envelope["data"]),
        "sourceQueue": source_queue,
        "receivedAt": envelope.get("receivedAt"),
        "processedAt": datetime.now(timezone.utc).isoformat(),
    }


def _queue_name(record: dict) -> str:
    return str(record.get("eventSourceARN", "")).rsplit(":", 1)[-1] or "unknown"


def handler(event: dict, context: object) -> dict:
    """SQS batch entry point with partial batch failure reporting."""
    failures: list[str] = []
    processed = 0
    for record in event.get("Records", []):
        message_id = record.get("messageId", "")
        try:
            envelope = parse_envelope(record.get("body"))
            notification = build_notification(envelope, _queue_name(record))
            _client("sqs").send_message(
                QueueUrl=os.environ["NOTIFICATION_QUEUE_URL"],
                MessageBody=json.dumps(notification),
                MessageAttributes={
                    "severity": {"DataType": "String", "StringValue": notification["severity"]},
                },
            )
            processed += 1
        except (InvalidEnvelope, BotoCoreError, ClientError) as error:
            _log("ERROR", "record failed", messageId=message_id, error=str(error))
            failures.append(message_id)
    emf_metrics.emit(
        os.environ.get("METRICS_NAMESPACE", METRICS_NAMESPACE_DEFAULT),
        {"WebhooksProcessed": processed, "WebhooksFailed": len(failures)},
        dimensions={"Function": "processor"},
    )
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}
