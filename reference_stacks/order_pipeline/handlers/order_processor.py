"""Order processor: store each order in DynamoDB and announce it on the order topic.

Two ways in, one piece of business logic:

* SQS batch (the ideal architecture): every record is processed on its own and
  the ids of the records that failed come back as ``batchItemFailures``, so only
  those are redelivered (and reach the DLQ after maxReceiveCount receives).
  This needs ``ReportBatchItemFailures`` on the event source mapping; the
  baseline's mapping lacks it, so there Lambda ignores the list and deletes the
  whole batch, failures included: the seed's "failed orders silently lost".
* API Gateway Lambda proxy (the baseline's wrong architecture: the API invokes
  this function directly and waits for the write): answers 201/400/409/502.

The write is idempotent for redeliveries (same order, same customer) and
refuses an ``orderId`` already stored for another customer.

Environment: ``ORDERS_TABLE_NAME``, ``ORDER_TOPIC_ARN`` (required),
``METRICS_NAMESPACE`` (optional).
"""

from __future__ import annotations

import json
import math
import os
import re
from datetime import datetime, timezone
from decimal import Decimal

from botocore.exceptions import ClientError

import emf_metrics
from api_responses import BadRequest, error_response, json_body, json_response
from aws_runtime import client as _client
from aws_runtime import log as _log
from aws_runtime import required_setting as _setting

DEFAULT_NAMESPACE = "OrderPipeline"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_ITEMS = 100
MAX_QUANTITY = 10_000


class InvalidOrder(ValueError):
    """The order breaks a business rule; retrying will not fix it."""


class OrderConflict(RuntimeError):
    """The orderId is already stored for a different customer."""


def _identifier(order: dict, field: str) -> str:
    value = order.get(field)
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise InvalidOrder(f"{field} must be a string of 1-64 letters, digits, '_', '-', '.', ':'")
    return value


def _item(index: int, item: object) -> dict:
    where = f"items[{index}]"
    if not isinstance(item, dict):
        raise InvalidOrder(f"{where} must be an object")
    product_id = item.get("productId")
    if not isinstance(product_id, str) or not product_id.strip():
        raise InvalidOrder(f"{where}.productId must be a non-empty string")
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidOrder(f"{where}.quantity must be an integer between 1 and {MAX_QUANTITY}")
    price = item.get("price")
    if isinstance(price, bool) or not isinstance(price, (int, float, Decimal)):
        raise InvalidOrder(f"{where}.price must be a number")
    if isinstance(price, float) and not math.isfinite(price):
        raise InvalidOrder(f"{where}.price must be a finite number")
    exact = Decimal(str(price))
    if exact.is_nan() or exact.is_infinite() or exact < 0:
        raise InvalidOrder(f"{where}.price must be a non-negative number")
    if exact.as_tuple().exponent < -2:
        raise InvalidOrder(f"{where}.price must have at most two decimal places")
    return {"productId": product_id, "quantity": quantity, "price": exact}


def build_order(payload: object, *, received_at: str) -> dict:
    """The order record to store: validated fields, Decimal money, total and timestamps."""
    if not isinstance(payload, dict):
        raise InvalidOrder("the order must be a JSON object")
    order_id = _identifier(payload, "orderId")
    customer_id = _identifier(payload, "customerId")
    items = payload.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise InvalidOrder(f"items must be a list of 1 to {MAX_ITEMS} items")
    lines = [_item(index, item) for index, item in enumerate(items)]
    if not isinstance(received_at, str) or not received_at:
        raise InvalidOrder("timestamp must be an ISO 8601 string")
    return {
        "orderId": order_id,
        "customerId": customer_id,
        # The GSI CustomerIdIndex sorts a customer's orders by this string.
        "timestamp": received_at,
        "items": lines,
        "itemCount": sum(line["quantity"] for line in lines),
        "totalAmount": sum((line["price"] * line["quantity"] for line in lines), Decimal("0")),
        "status": "PROCESSED",
        "processedAt": _now(),
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _received_at(payload: object, record: dict) -> object:
    """The API handler's timestamp, else when SQS received the message."""
    if isinstance(payload, dict) and "timestamp" in payload:
        return payload["timestamp"]
    sent = record.get("attributes", {}).get("SentTimestamp")
    if sent:
        moment = datetime.fromtimestamp(int(sent) / 1000, tz=timezone.utc)
        return moment.isoformat(timespec="milliseconds")
    return _now()


def _dynamo_value(value: object) -> dict:
    """A Python value as a DynamoDB attribute value (the subset orders use)."""
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (int, Decimal)):
        return {"N": str(value)}
    if isinstance(value, list):
        return {"L": [_dynamo_value(element) for element in value]}
    if isinstance(value, dict):
        return {"M": {key: _dynamo_value(element) for key, element in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def store_and_publish(order: dict) -> None:
    """Write the order (idempotently) and publish an OrderProcessed event."""
    table_name = _setting("ORDERS_TABLE_NAME")
    topic_arn = _setting("ORDER_TOPIC_ARN")
    dynamodb = _client("dynamodb")
    try:
        dynamodb.put_item(
            TableName=table_name,
            Item={key: _dynamo_value(value) for key, value in order.items()},
            # A redelivered message rewrites its own order; another customer's id is refused.
            ConditionExpression="attribute_not_exists(orderId) OR customerId = :customerId",
            ExpressionAttributeValues={":customerId": {"S": order["customerId"]}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        raise OrderConflict(f"order {order['orderId']} already exists for another customer") from error
    _client("sns").publish(
        TopicArn=topic_arn,
        Subject="Order processed",
        Message=json.dumps({"eventType": "OrderProcessed", **order}, default=str),
        MessageAttributes={
            "eventType": {"DataType": "String", "StringValue": "OrderProcessed"},
            "customerId": {"DataType": "String", "StringValue": order["customerId"]},
        },
    )


def process_batch(event: dict) -> dict:
    """SQS batch: process each record, report the ones that failed."""
    failures: list[dict] = []
    processed = 0
    for record in event["Records"]:
        message_id = record.get("messageId", "")
        try:
            payload = json.loads(record.get("body") or "", parse_float=Decimal)
            store_and_publish(build_order(payload, received_at=_received_at(payload, record)))
            processed += 1
        except Exception as error:  # noqa: BLE001 - one bad record must not fail its batch mates
            _log("ERROR", "order record failed", messageId=message_id, error=repr(error))
            failures.append({"itemIdentifier": message_id})
    namespace = os.environ.get("METRICS_NAMESPACE", DEFAULT_NAMESPACE)
    emf_metrics.emit(
        namespace,
        {"OrdersProcessed": processed, "OrdersFailed": len(failures)},
        dimensions={"Service": "processor"},
    )
    return {"batchItemFailures": failures}


def handle_api_request(event: dict) -> dict:
    """API Gateway proxy request (baseline only): process synchronously, answer the client."""
    namespace = os.environ.get("METRICS_NAMESPACE", DEFAULT_NAMESPACE)
    try:
        # The client does not choose the timestamp: it is when the order arrived.
        order = build_order(json_body(event), received_at=_now())
    except (BadRequest, InvalidOrder) as error:
        emf_metrics.emit(namespace, {"OrdersRejected": 1}, dimensions={"Service": "processor"})
        return error_response(400, str(error))
    try:
        store_and_publish(order)
    except OrderConflict as error:
        return error_response(409, str(error), orderId=order["orderId"])
    except Exception as error:  # noqa: BLE001 - the client gets a 502, the log gets the cause
        _log("ERROR", "order processing failed", orderId=order["orderId"], error=repr(error))
        emf_metrics.emit(namespace, {"OrdersFailed": 1}, dimensions={"Service": "processor"})
        return error_response(502, "the order could not be processed; please retry", orderId=order["orderId"])
    emf_metrics.emit(namespace, {"OrdersProcessed": 1}, dimensions={"Service": "processor"})
    return json_response(
        201,
        {"orderId": order["orderId"], "status": order["status"], "totalAmount": order["totalAmount"]},
    )


def handler(event: dict, context: object) -> dict:
    """Entry point: an SQS batch or (baseline) an API Gateway proxy request."""
    records = event.get("Records") if isinstance(event, dict) else None
    if isinstance(records, list) and all(r.get("eventSource") == "aws:sqs" for r in records):
        return process_batch(event)
    if isinstance(event, dict) and "httpMethod" in event:
        return handle_api_request(event)
    raise ValueError("unsupported event: expected an SQS batch or an API Gateway proxy request")
