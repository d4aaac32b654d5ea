"""Payment processor: store each payment in the global table and announce it on the transaction topic.

Two ways in, one piece of business logic:

* SQS batch from the payment queue (the validator's output): each record is
  processed on its own and the ids of the records that failed come back as
  ``batchItemFailures`` (the mapping has ``ReportBatchItemFailures``), so only
  those are redelivered and reach the DLQ after maxReceiveCount receives. A
  record that can never succeed (bad JSON, invalid payment) is reported too:
  the DLQ is where an operator looks at it.
* POST /process through API Gateway (Lambda proxy): 201 with the stored
  record, 400 with a JSON error for bad input, 502 when AWS fails.

The write is conditional on ``attribute_not_exists``: a redelivered payment
(same transaction id and timestamp) is recognised as a duplicate and not
written twice. Its notification is published again (at-least-once delivery),
because the first attempt may have failed between the write and the publish.

Metrics (EMF): ``PaymentsProcessed``, ``DuplicatePayments``,
``ProcessingFailures``, ``FraudFlagged``.

Environment: ``TABLE_NAME``, ``TRANSACTION_TOPIC_ARN`` (required),
``FRAUD_THRESHOLD``, ``METRICS_NAMESPACE``, ``ENVIRONMENT_SUFFIX`` (optional).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

import emf_metrics
from api_responses import BadRequest, error_response, json_body, json_response
from aws_runtime import client as _client
from aws_runtime import decimal_setting
from aws_runtime import log as _log
from aws_runtime import required_setting as _setting
from botocore.exceptions import ClientError

DEFAULT_NAMESPACE = "PaymentsDR"
DEFAULT_FRAUD_THRESHOLD = Decimal("10000")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
MAX_AMOUNT = Decimal("1000000000")


class InvalidPayment(ValueError):
    """The payment breaks a business rule; retrying will not fix it."""


def _metric(name: str, value: float = 1) -> None:
    emf_metrics.emit(
        os.environ.get("METRICS_NAMESPACE", DEFAULT_NAMESPACE),
        {name: value},
        dimensions={
            "Function": "payment-processor",
            "Environment": os.environ.get("ENVIRONMENT_SUFFIX", "unknown"),
        },
    )


def _identifier(payment: dict, field: str) -> str:
    value = payment.get(field)
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise InvalidPayment(f"{field} must be a string of 1-64 letters, digits, '_', '-', '.', ':'")
    return value


def _amount(payment: dict) -> Decimal:
    value = payment.get("amount")
    # The validator queues amounts as strings (exact decimals); API clients send numbers.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidPayment("amount must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidPayment("amount must be a finite number")
    try:
        exact = Decimal(str(value))
    except InvalidOperation as error:
        raise InvalidPayment("amount must be a number") from error
    if not exact.is_finite():
        raise InvalidPayment("amount must be a finite number")
    if exact <= 0:
        raise InvalidPayment("amount must be positive")
    if exact > MAX_AMOUNT:
        raise InvalidPayment(f"amount must not exceed {MAX_AMOUNT}")
    if exact.as_tuple().exponent < -2:
        raise InvalidPayment("amount must have at most two decimal places")
    return exact


def parse_payment(payment: object, *, now_ms: int | None = None) -> dict:
    """The payment to store, or :class:`InvalidPayment` naming the first problem."""
    if not isinstance(payment, dict):
        raise InvalidPayment("payment must be a JSON object")
    transaction_id = _identifier(payment, "transaction_id")
    customer_id = _identifier(payment, "customer_id")
    amount = _amount(payment)
    currency = payment.get("currency")
    if not isinstance(currency, str) or not CURRENCY_PATTERN.match(currency):
        raise InvalidPayment("currency must be a three-letter ISO 4217 code such as USD")
    timestamp = payment.get("timestamp")
    if timestamp is None:
        timestamp = now_ms if now_ms is not None else int(time.time() * 1000)
    elif isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp <= 0:
        raise InvalidPayment("timestamp must be a positive integer (epoch milliseconds)")
    return {
        "transaction_id": transaction_id,
        "customer_id": customer_id,
        "amount": amount,
        "currency": currency,
        "timestamp": timestamp,
        # Recomputed here: POST /process does not go through the validator.
        "fraud_flag": amount > decimal_setting("FRAUD_THRESHOLD", DEFAULT_FRAUD_THRESHOLD),
    }


def process_payment(payment: dict) -> dict:
    """Write the payment (idempotently) and publish it; returns the stored record as JSON-ready data."""
    table_name = _setting("TABLE_NAME")
    topic_arn = _setting("TRANSACTION_TOPIC_ARN")
    status = "FLAGGED" if payment["fraud_flag"] else "PROCESSED"
    processed_at = datetime.now(timezone.utc).isoformat()
    region = os.environ.get("AWS_REGION", "unknown")
    duplicate = False
    try:
        _client("dynamodb").put_item(
            TableName=table_name,
            Item={
                "transaction_id": {"S": payment["transaction_id"]},
                "timestamp": {"N": str(payment["timestamp"])},
                "customer_id": {"S": payment["customer_id"]},
                "amount": {"N": str(payment["amount"])},
                "currency": {"S": payment["currency"]},
                "status": {"S": status},
                "fraud_flag": {"BOOL": payment["fraud_flag"]},
                "processed_at": {"S": processed_at},
                "processed_region": {"S": region},
            },
            ConditionExpression="attribute_not_exists(transaction_id)",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        duplicate = True
    record = {
        "transaction_id": payment["transaction_id"],
        "customer_id": payment["customer_id"],
        "amount": str(payment["amount"]),
        "currency": payment["currency"],
        "timestamp": payment["timestamp"],
        "status": status,
        "fraud_flag": payment["fraud_flag"],
        "processed_at": processed_at,
        "processed_region": region,
    }
    _client("sns").publish(
        TopicArn=topic_arn,
        Subject="Payment processed",
        Message=json.dumps({"event_type": "payment_processed", "duplicate": duplicate, "payment": record}),
        MessageAttributes={
            "event_type": {"DataType": "String", "StringValue": "payment_processed"},
            "status": {"DataType": "String", "StringValue": status},
        },
    )
    _metric("DuplicatePayments" if duplicate else "PaymentsProcessed")
    if payment["fraud_flag"] and not duplicate:
        _metric("FraudFlagged")
    return {**record, "duplicate": duplicate}


def _handle_sqs(event: dict) -> dict:
    failures = []
    for record in event["Records"]:
        message_id = record.get("messageId")
        try:
            process_payment(parse_payment(json.loads(record.get("body") or "")))
        except Exception as error:  # noqa: BLE001 - one failed record must not fail the batch
            _log("ERROR", "payment record failed", message_id=message_id,
                 error_type=type(error).__name__, error=str(error))
            _metric("ProcessingFailures")
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def _handle_api(event: dict) -> dict:
    try:
        payment = parse_payment(json_body(event))
    except (BadRequest, InvalidPayment) as error:
        return error_response(400, str(error))
    try:
        record = process_payment(payment)
    except RuntimeError as error:
        return error_response(500, str(error))
    except Exception as error:  # noqa: BLE001 - the client gets a clean 502, the log the cause
        _log("ERROR", "payment processing failed", transaction_id=payment["transaction_id"], error=str(error))
        _metric("ProcessingFailures")
        return error_response(502, "payment could not be processed; retry later",
                              transaction_id=payment["transaction_id"])
    return json_response(200 if record["duplicate"] else 201, record)


def handler(event, context):
    """Entry point for both the SQS event source mapping and API Gateway."""
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        return _handle_sqs(event)
    if isinstance(event, dict) and ("httpMethod" in event or "body" in event):
        return _handle_api(event)
    raise ValueError("unsupported event: expected an SQS batch or an API Gateway proxy request")
