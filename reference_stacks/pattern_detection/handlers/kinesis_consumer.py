"""Kinesis consumer: market-data records -> patterns table; confidence > 0.9 -> alert queue.

Records are processed in order. At the first record that fails, the handler
stops and reports that record's sequence number in ``batchItemFailures``, so
Lambda resumes from it (with bisect-on-error and capped retries; what still
fails goes to the on-failure queue). The pattern id derives from the sequence
number, so a retried record overwrites its own item instead of duplicating it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
import uuid
from decimal import Decimal

import emf_metrics
from aws_runtime import client as _client

ALERT_CONFIDENCE = 0.9
RECORD_NAMESPACE = uuid.UUID("0f6b7a1e-6a53-4a8e-93c5-7e8f3b4f2d90")


def decode(record: dict) -> dict:
    """The JSON pattern in a Kinesis record, or ValueError."""
    try:
        raw = base64.b64decode(record["kinesis"]["data"], validate=True)
        pattern = json.loads(raw.decode("utf-8"))
    except (KeyError, TypeError, binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError("record data is not base64-encoded JSON") from error
    if not isinstance(pattern, dict):
        raise ValueError("record data must be a JSON object")
    for field in ("symbol", "patternType"):
        if not isinstance(pattern.get(field), str) or not pattern[field]:
            raise ValueError(f"{field} is required")
    confidence = pattern.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        raise ValueError("confidence must be a number between 0 and 1")
    return pattern


def store(pattern: dict, sequence_number: str) -> dict:
    pattern_id = uuid.uuid5(RECORD_NAMESPACE, sequence_number).hex
    timestamp = pattern.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        timestamp = int(time.time() * 1000)
    item = {
        "patternId": {"S": pattern_id},
        "timestamp": {"N": str(timestamp)},
        "symbol": {"S": pattern["symbol"]},
        "patternType": {"S": pattern["patternType"]},
        "confidence": {"N": str(Decimal(str(pattern["confidence"])))},
        "status": {"S": "DETECTED"},
        "source": {"S": "kinesis"},
    }
    _client("dynamodb").put_item(TableName=os.environ["PATTERNS_TABLE"], Item=item)
    return {"patternId": pattern_id, **pattern}


def handler(event, context):
    processed = alerts = 0
    failures = []
    for record in (event or {}).get("Records", []):
        sequence_number = record.get("kinesis", {}).get("sequenceNumber", "")
        try:
            stored = store(decode(record), sequence_number)
            if stored["confidence"] > ALERT_CONFIDENCE:
                _client("sqs").send_message(
                    QueueUrl=os.environ["ALERT_QUEUE_URL"],
                    MessageBody=json.dumps({**stored, "source": "kinesis"}),
                )
                alerts += 1
            processed += 1
        except Exception as error:  # checkpoint here: Lambda retries from this record
            print(json.dumps({"level": "ERROR", "sequenceNumber": sequence_number, "error": str(error)}))
            failures.append({"itemIdentifier": sequence_number})
            break
    emf_metrics.emit(
        os.environ.get("METRICS_NAMESPACE", "StockPatternDetection"),
        {"RecordsProcessed": processed, "HighConfidenceAlerts": alerts},
        dimensions={"Service": "kinesis-consumer"},
    )
    return {"batchItemFailures": failures}
