"""Failover orchestrator: turn CloudWatch alarm notifications into failover coordination messages.

Every alarm of the stack notifies the ops alert topic; this function is
subscribed to it. For each SNS record it parses the alarm notification
(``AlarmName``, ``NewStateValue``, ``AlarmArn``, ...), decides what the
alarm means for the two regions of the global table, emits a
``FailoverTriggered`` (ALARM) or ``FailoverRecovered`` (OK) metric (EMF) and
publishes a coordination message to the coordination topic, which subscribers
in both regions (runbooks, Route 53 health-check automation, people) act on.

Messages that are not alarm notifications, and INSUFFICIENT_DATA transitions,
are logged and skipped: retrying cannot make them actionable. A failed publish
raises, so Lambda retries the asynchronous invocation and then hands the event
to the on-failure destination.

Environment: ``COORDINATION_TOPIC_ARN`` (required), ``PRIMARY_REGION``,
``REPLICA_REGION``, ``TABLE_NAME``, ``METRICS_NAMESPACE``,
``ENVIRONMENT_SUFFIX`` (optional).
"""

from __future__ import annotations

import json
import os

import emf_metrics
from aws_runtime import client as _client
from aws_runtime import log as _log
from aws_runtime import required_setting as _setting

DEFAULT_NAMESPACE = "PaymentsDR"
ACTIONS = {"ALARM": "initiate_failover", "OK": "primary_recovered"}


def parse_alarm(message: object) -> dict | None:
    """The CloudWatch alarm notification in an SNS message body, or None if it is not one."""
    if not isinstance(message, str):
        return None
    try:
        alarm = json.loads(message)
    except json.JSONDecodeError:
        return None
    if not isinstance(alarm, dict):
        return None
    if not isinstance(alarm.get("AlarmName"), str) or not isinstance(alarm.get("NewStateValue"), str):
        return None
    return alarm


def _alarm_region(alarm: dict) -> str:
    # The notification's "Region" is a display name ("US East (N. Virginia)"); the ARN has the code.
    parts = str(alarm.get("AlarmArn", "")).split(":")
    if len(parts) > 3 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return os.environ.get("AWS_REGION", "unknown")


def coordination_message(alarm: dict) -> dict | None:
    """The coordination message for an alarm state change, or None when there is nothing to coordinate."""
    action = ACTIONS.get(alarm["NewStateValue"])
    if action is None:
        return None
    primary = os.environ.get("PRIMARY_REGION", "us-east-1")
    replica = os.environ.get("REPLICA_REGION", "us-east-2")
    affected = _alarm_region(alarm)
    # Fail over away from the region the alarm fired in; on recovery, traffic goes back to it.
    target = replica if affected == primary else primary
    trigger = alarm.get("Trigger") if isinstance(alarm.get("Trigger"), dict) else {}
    return {
        "event_type": "failover_coordination",
        "action": action,
        "affected_region": affected,
        "target_region": target if action == "initiate_failover" else affected,
        "primary_region": primary,
        "replica_region": replica,
        "table_name": os.environ.get("TABLE_NAME"),
        "alarm": {
            "name": alarm["AlarmName"],
            "arn": alarm.get("AlarmArn"),
            "state": alarm["NewStateValue"],
            "previous_state": alarm.get("OldStateValue"),
            "reason": alarm.get("NewStateReason"),
            "changed_at": alarm.get("StateChangeTime"),
            "metric": trigger.get("MetricName"),
            "namespace": trigger.get("Namespace"),
        },
    }


def _metric(name: str, alarm_name: str) -> None:
    emf_metrics.emit(
        os.environ.get("METRICS_NAMESPACE", DEFAULT_NAMESPACE),
        {name: 1},
        dimensions={
            "Function": "failover-orchestrator",
            "Environment": os.environ.get("ENVIRONMENT_SUFFIX", "unknown"),
        },
        properties={"AlarmName": alarm_name},
    )


def handler(event, context):
    """SNS handler: one coordination message per actionable alarm notification."""
    topic_arn = _setting("COORDINATION_TOPIC_ARN")
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise ValueError("unsupported event: expected SNS records")
    summary = {"coordinated": [], "ignored": 0}
    for record in records:
        sns = record.get("Sns") if isinstance(record, dict) else None
        alarm = parse_alarm(sns.get("Message") if isinstance(sns, dict) else None)
        if alarm is None:
            _log("WARNING", "not a CloudWatch alarm notification; skipped")
            summary["ignored"] += 1
            continue
        message = coordination_message(alarm)
        if message is None:
            _log("INFO", "alarm state needs no coordination", alarm=alarm["AlarmName"],
                 state=alarm["NewStateValue"])
            summary["ignored"] += 1
            continue
        _client("sns").publish(
            TopicArn=topic_arn,
            Subject=f"Payments DR: {message['action']}",
            Message=json.dumps(message),
            MessageAttributes={
                "event_type": {"DataType": "String", "StringValue": "failover_coordination"},
                "action": {"DataType": "String", "StringValue": message["action"]},
            },
        )
        _metric("FailoverTriggered" if message["action"] == "initiate_failover" else "FailoverRecovered",
                alarm["AlarmName"])
        _log("INFO", "failover coordination published", action=message["action"],
             alarm=alarm["AlarmName"], target_region=message["target_region"])
        summary["coordinated"].append({"alarm": alarm["AlarmName"], "action": message["action"]})
    return summary
