"""Notification queue -> notifier: publish processed webhooks as EventBridge events.

Each SQS record holds one processor notification. The notifier sends them to the event bus
``EVENT_BUS_NAME`` (default ``default``) as ``Webhook Processed`` events from source
``EVENT_SOURCE``, 10 per PutEvents call, so downstream teams subscribe with rules instead of
polling. A record is reported in ``batchItemFailures`` when it is malformed or EventBridge
rejected its entry; SQS retries only those and finally moves them to the DLQ.
"""

from __future__ import annotations

import json
import os

from botocore.exceptions import BotoCoreError, ClientError

import emf_metrics
from aws_runtime import client as _client
from aws_runtime import log as _log

METRICS_NAMESPACE_DEFAULT = "WebhookPipeline"
DETAIL_TYPE = "Webhook Processed"
PUT_EVENTS_LIMIT = 10
REQUIRED_FIELDS = ("provider", "eventId", "eventType", "severity", "summary")


class InvalidNotification(ValueError):
    """A queue message that is not a processor notification; retrying will not fix it."""


def parse_notification(body: str) -> dict:
    """The processor's notification from a message body, or :class:`InvalidNotification`."""
    try:
        notification = json.loads(body)
    except (TypeError, json.JSONDecodeError) as error:
        raise InvalidNotification(f"message body is not JSON: {error}") from error
    if not isinstance(notification, dict):
        raise InvalidNotification("message body must be a JSON object")
    missing = [f for f in REQUIRED_FIELDS if not isinstance(notification.get(f), str) or not notification[f]]
    if missing:
        raise InvalidNotification(f"missing or empty fields: {', '.join(missing)}")
    return notification


def _publish(batch: list[tuple[str, dict]]) -> list[str]:
    """Send up to 10 notifications; the message ids of those EventBridge did not take."""
    entries = [
        {
            "Source": os.environ["EVENT_SOURCE"],
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(notification),
            "EventBusName": os.environ.get("EVENT_BUS_NAME", "default"),
        }
        for _, notification in batch
    ]
    try:
        response = _client("events").put_events(Entries=entries)
    except (BotoCoreError, ClientError) as error:
        _log("ERROR", "put_events failed", error=str(error))
        return [message_id for message_id, _ in batch]
    failed: list[str] = []
    # PutEvents answers entry by entry, in request order; failed ones carry an ErrorCode.
    for (message_id, _), result in zip(batch, response.get("Entries", [])):
        if result.get("ErrorCode"):
            _log("ERROR", "event rejected", messageId=message_id, errorCode=result["ErrorCode"],
                       errorMessage=result.get("ErrorMessage"))
            failed.append(message_id)
    return failed


def handler(event: dict, context: object) -> dict:
    """SQS batch entry point with partial batch failure reporting."""
    failures: list[str] = []
    ready: list[tuple[str, dict]] = []
    for record in event.get("Records", []):
        message_id = record.get("messageId", "")
        try:
            ready.append((message_id, parse_notification(record.get("body"))))
        except InvalidNotification as error:
            _log("ERROR", "invalid notification", messageId=message_id, error=str(error))
            failures.append(message_id)
    rejected: list[str] = []
    for start in range(0, len(ready), PUT_EVENTS_LIMIT):
        rejected.extend(_publish(ready[start:start + PUT_EVENTS_LIMIT]))
    failures.extend(rejected)
    emf_metrics.emit(
        os.environ.get("METRICS_NAMESPACE", METRICS_NAMESPACE_DEFAULT),
        {"NotificationsPublished": len(ready) - len(rejected), "NotificationsFailed": len(failures)},
        dimensions={"Function": "notifier"},
    )
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}
