"""POST /orders: validate the order again and queue it for the order processor.

API Gateway's model only checks the shape of the request; this function
enforces the business rules (positive quantities, prices in cents, sizes),
answers 400 with a JSON error for bad input, stamps the order with the time it
was received, and sends it to the order queue. The client gets 202: processing
is asynchronous.

Environment: ``ORDER_QUEUE_URL`` (required), ``METRICS_NAMESPACE`` (optional).
"""

from __future__ import annotations

import json
import math
import os
import re
from datetime import datetime, timezone
from decimal import Decimal

import emf_metrics
from api_responses import BadRequest, error_response, json_body, json_response
from aws_runtime import client as _client
from aws_runtime import log as _log

DEFAULT_NAMESPACE = "OrderPipeline"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_ITEMS = 100
MAX_QUANTITY = 10_000


def _identifier(payload: dict, field: str) -> str:
    value = payload.get(field)
    if value is None:
        raise BadRequest(f"{field} is required")
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a string")
    if not ID_PATTERN.match(value):
        raise BadRequest(
            f"{field} must be 1-64 characters: letters, digits, '_', '-', '.', ':'"
        )
    return value


def _item(index: int, item: object) -> dict:
    where = f"items[{index}]"
    if not isinstance(item, dict):
        raise BadRequest(f"{where} must be an object")
    product_id = item.get("productId")
    if not isinstance(product_id, str) or not product_id.strip():
        raise BadRequest(f"{where}.productId must be a non-empty string")
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise BadRequest(f"{where}.quantity must be an integer")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise BadRequest(f"{where}.quantity must be between 1 and {MAX_QUANTITY}")
    price = item.get("price")
    if isinstance(price, bool) or not isinstance(price, (int, float, Decimal)):
        raise BadRequest(f"{where}.price must be a number")
    if isinstance(price, float) and not math.isfinite(price):
        raise BadRequest(f"{where}.price must be a finite number")
    exact = Decimal(str(price))
    if exact < 0:
        raise BadRequest(f"{where}.price must not be negative")
    if exact.as_tuple().exponent < -2:
        raise BadRequest(f"{where}.price must have at most two decimal places")
    return {"productId": product_id, "quantity": quantity, "price": price}


def validate_order(payload: dict) -> dict:
    """The order with only the fields we accept, or :class:`BadRequest` naming the first problem."""
    order_id = _identifier(payload, "orderId")
    customer_id = _identifier(payload, "customerId")
    items = payload.get("items")
    if items is None:
        raise BadRequest("items is required")
    if not isinstance(items, list):
        raise BadRequest("items must be a list")
    if not items:
        raise BadRequest("items must contain at least one item")
    if len(items) > MAX_ITEMS:
        raise BadRequest(f"items must contain at most {MAX_ITEMS} items")
    return {
        "orderId": order_id,
        "customerId": customer_id,
        "items": [_item(index, item) for index, item in enumerate(items)],
    }


def handler(event: dict, context: object) -> dict:
    """API Gateway Lambda-proxy handler for ``POST /orders``."""
    namespace = os.environ.get("METRICS_NAMESPACE", DEFAULT_NAMESPACE)
    method = (event or {}).get("httpMethod", "POST")
    if method != "POST":
        return error_response(405, f"method {method} is not allowed; use POST")
    try:
        order = validate_order(json_body(event))
    except BadRequest as error:
        emf_metrics.emit(namespace, {"OrdersRejected": 1}, dimensions={"Service": "api"})
        return error_response(400, str(error))

    queue_url = os.environ.get("ORDER_QUEUE_URL")
    if not queue_url:
        return error_response(500, "service misconfigured: ORDER_QUEUE_URL is not set")
    order["timestamp"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    try:
        sent = _client("sqs").send_message(
            QueueUrl=queue_url,
            MessageBody=json.dumps(order),
            MessageAttributes={
                "customerId": {"DataType": "String", "StringValue": order["customerId"]},
            },
        )
    except Exception as error:  # noqa: BLE001 - any failure to queue is the same 503 for the client
        _log("ERROR", "could not queue order", orderId=order["orderId"], error=repr(error))
        emf_metrics.emit(namespace, {"OrdersQueueFailures": 1}, dimensions={"Service": "api"})
        return error_response(503, "the order could not be queued; please retry", orderId=order["orderId"])

    emf_metrics.emit(namespace, {"OrdersAccepted": 1}, dimensions={"Service": "api"})
    return json_response(
        202,
        {
            "orderId": order["orderId"],
            "status": "QUEUED",
            "messageId": sent.get("MessageId"),
            "receivedAt": order["timestamp"],
        },
    )
