"""POST /validate: check a payment, flag likely fraud and queue it for the processor.

API Gateway's model only checks the request's shape; this function enforces
the business rules (required fields, a positive amount with at most two
decimals, an ISO currency code), answers 400 with a JSON error naming the first
problem, flags payments above the fraud threshold (> 10,000 by default) for
review, stamps the payment with a transaction id (unless the client sent one)
and the time it was accepted, and sends it to the payment queue. The client
gets 202: processing is asynchronous.

Metrics (EMF): ``PaymentsValidated``, ``ValidationFailures``, ``FraudFlagged``,
``QueueFailures``.

Environment: ``PAYMENT_QUEUE_URL`` (required), ``FRAUD_THRESHOLD``,
``METRICS_NAMESPACE``, ``ENVIRONMENT_SUFFIX`` (optional).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import uuid
from decimal import Decimal

import emf_metrics
from api_responses import BadRequest, error_response, json_body, json_response
from aws_runtime import client as _client
from aws_runtime import decimal_setting
from aws_runtime import log as _log

DEFAULT_NAMESPACE = "PaymentsDR"
DEFAULT_FRAUD_THRESHOLD = Decimal("10000")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
MAX_AMOUNT = Decimal("1000000000")


def _metric(name: str, value: float = 1) -> None:
    emf_metrics.emit(
        os.environ.get("METRICS_NAMESPACE", DEFAULT_NAMESPACE),
        {name: value},
        dimensions={
            "Function": "payment-validator",
            "Environment": os.environ.get("ENVIRONMENT_SUFFIX", "unknown"),
        },
    )


def fraud_threshold() -> Decimal:
    """The amount above which a payment is flagged (``FRAUD_THRESHOLD``, default 10,000)."""
    return decimal_setting("FRAUD_THRESHOLD", DEFAULT_FRAUD_THRESHOLD)


def _identifier(payload: dict, field: str, *, required: bool) -> str | None:
    value = payload.get(field)
    if value is None:
        if required:
            raise BadRequest(f"{field} is required")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a string")
    if not ID_PATTERN.match(value):
        raise BadRequest(f"{field} must be 1-64 characters: letters, digits, '_', '-', '.', ':'")
    return value


def _amount(payload: dict) -> Decimal:
    value = payload.get("amount")
    if value is None:
        raise BadRequest("amount is required")
    # bool is an int subclass; "true" is not an amount.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest("amount must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequest("amount must be a finite number")
    exact = Decimal(str(value))
    if exact <= 0:
        raise BadRequest("amount must be positive")
    if exact > MAX_AMOUNT:
        raise BadRequest(f"amount must not exceed {MAX_AMOUNT}")
    if exact.as_tuple().exponent < -2:
        raise BadRequest("amount must have at most two decimal places")
    return exact


def _currency(payload: dict) -> str:
    value = payload.get("currency")
    if value is None:
        raise BadRequest("currency is required")
    if not isinstance(value, str) or not CURRENCY_PATTERN.match(value):
        raise BadRequest("currency must be a three-letter ISO 4217 code such as USD")
    return value


def validate_payment(payload: dict) -> dict:
    """The payment with only the fields we accept, or :class:`BadRequest` naming the first problem."""
    customer_id = _identifier(payload, "customer_id", required=True)
    amount = _amount(payload)
    currency = _currency(payload)
    transaction_id = _identifier(payload, "transaction_id", required=False) or str(uuid.uuid4())
    description = payload.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 256):
        raise BadRequest("description must be a string of at most 256 characters")
    payment = {
        "transaction_id": transaction_id,
        "customer_id": customer_id,
        "amount": str(amount),
        "currency": currency,
        "fraud_flag": amount > fraud_threshold(),
    }
    if description is not None:
        payment["description"] = description
    return payment


def handler(event, context):
    """API Gateway proxy handler: 202 with the queued payment, 400 for bad input, 502/500 on failure."""
    try:
        payment = validate_payment(json_body(event))
    except BadRequest as error:
        _metric("ValidationFailures")
        return error_response(400, str(error))
    queue_url = os.environ.get("PAYMENT_QUEUE_URL")
    if not queue_url:
        return error_response(500, "service misconfigured: PAYMENT_QUEUE_URL is not set")
    # The acceptance time becomes the table's sort key, so redeliveries write the same item.
    payment["timestamp"] = int(time.time() * 1000)
    try:
        _client("sqs").send_message(
            QueueUrl=queue_url,
            MessageBody=json.dumps(payment),
            MessageAttributes={
                "fraud_flag": {"DataType": "String", "StringValue": str(payment["fraud_flag"]).lower()},
            },
        )
    except Exception as error:  # noqa: BLE001 - any AWS failure means the payment was not queued
        _log("ERROR", "send_message failed", error=str(error), transaction_id=payment["transaction_id"])
        _metric("QueueFailures")
        return error_response(502, "payment could not be queued; retry later",
                              transaction_id=payment["transaction_id"])
    _metric("PaymentsValidated")
    if payment["fraud_flag"]:
        _metric("FraudFlagged")
    return json_response(
        202,
        {
            "transaction_id": payment["transaction_id"],
            "status": "flagged_for_review" if payment["fraud_flag"] else "queued",
            "fraud_flag": payment["fraud_flag"],
            "timestamp": payment["timestamp"],
        },
    )
