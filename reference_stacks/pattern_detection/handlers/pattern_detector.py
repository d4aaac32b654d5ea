"""Pattern detector: the REST routes (POST /patterns, GET /alerts) and the Step Functions actions.

Step Functions invokes it with ``{"action": "validate" | "detect" | "score" | "decide" | "tune", ...}``;
API Gateway invokes it with a Lambda-proxy event. Bad Step Functions input raises
:class:`ValidationError` (its name is the state's error, which the workflow catches into
ManualReview); bad API input is a 400 JSON error.
"""

from __future__ import annotations

import math
import os
import re
import time
import uuid
from decimal import Decimal
from functools import lru_cache

import emf_metrics
from api_responses import BadRequest, error_response, json_body, json_response

PATTERN_TYPES = ("head-and-shoulders", "double-top", "ascending-triangle")
SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
MIN_PRICES = 10
MAX_PRICES = 5000
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9.\-]{1,10}$")
# Lambda ARM64 price per GB-second (us-east-1); only the ratio between memory sizes matters.
ARM_PRICE_PER_GB_SECOND = 0.0000133334


class ValidationError(Exception):
    """Input a Step Functions action cannot work with (never retried usefully)."""


@lru_cache(maxsize=None)
def _table(name: str):
    import boto3

    return boto3.resource("dynamodb").Table(name)


def _namespace() -> str:
    return os.environ.get("METRICS_NAMESPACE", "StockPatternDetection")


def _threshold() -> float:
    return float(os.environ.get("PATTERN_CONFIDENCE_THRESHOLD", "0.8"))


# --- validation -------------------------------------------------------------------------------


def validate_series(data: object) -> tuple[str, list[float]]:
    """``(symbol, prices)`` from ``{"symbol": ..., "prices": [...]}``, or ValidationError."""
    if not isinstance(data, dict):
        raise ValidationError("input must be a JSON object")
    symbol = data.get("symbol")
    if not isinstance(symbol, str) or not SYMBOL_PATTERN.match(symbol):
        raise ValidationError("symbol must be 1-10 upper-case letters, digits, '.' or '-'")
    prices = data.get("prices")
    if not isinstance(prices, list) or not MIN_PRICES <= len(prices) <= MAX_PRICES:
        raise ValidationError(f"prices must be a list of {MIN_PRICES}..{MAX_PRICES} numbers")
    clean: list[float] = []
    for index, price in enumerate(prices):
        if isinstance(price, bool) or not isinstance(price, (int, float)):
            raise ValidationError(f"prices[{index}] must be a number")
        if not math.isfinite(price) or price <= 0:
            raise ValidationError(f"prices[{index}] must be a positive finite number")
        clean.append(float(price))
    return symbol, clean


def _pattern_type(value: object) -> str:
    if value not in PATTERN_TYPES:
        raise ValidationError(f"patternType must be one of {', '.join(PATTERN_TYPES)}")
    return value  # type: ignore[return-value]


def _confidence(value: object, field: str = "confidence") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValidationError(f"{field} must be a number between 0 and 1")
    return float(value)


# --- detection --------------------------------------------------------------------------------


def _peaks(prices: list[float]) -> list[int]:
    return [i for i in range(1, len(prices) - 1) if prices[i - 1] < prices[i] >= prices[i + 1]]


def _troughs(prices: list[float]) -> list[int]:
    return [i for i in range(1, len(prices) - 1) if prices[i - 1] > prices[i] <= prices[i + 1]]


def _head_and_shoulders(prices: list[float]) -> float:
    """Three peaks, the middle one highest, shoulders within 5 % of each other."""
    peaks = _peaks(prices)
    best = 0.0
    for left, head, right in zip(peaks, peaks[1:], peaks[2:]):
        l, h, r = prices[left], prices[head], prices[right]
        shoulder = max(l, r)
        if h <= shoulder:
            continue
        asymmetry = abs(l - r) / shoulder
        if asymmetry > 0.05:
            continue
        prominence = (h - shoulder) / h
        best = max(best, 0.5 + 0.3 * (1 - asymmetry / 0.05) + 0.2 * min(1.0, prominence / 0.1))
    return best


def _double_top(prices: list[float]) -> float:
    """Two neighbouring peaks within 3 % of each other with a trough at least 3 % deep between."""
    peaks = _peaks(prices)
    best = 0.0
    for first, second in zip(peaks, peaks[1:]):
        a, b = prices[first], prices[second]
        difference = abs(a - b) / max(a, b)
        depth = (min(a, b) - min(prices[first:second + 1])) / min(a, b)
        if difference > 0.03 or depth < 0.03:
            continue
        best = max(best, 0.5 + 0.3 * (1 - difference / 0.03) + 0.2 * min(1.0, depth / 0.1))
    return best


def _ascending_triangle(prices: list[float]) -> float:
    """Flat resistance (peaks within 2 %) over strictly rising troughs."""
    peaks = [prices[i] for i in _peaks(prices)]
    troughs = [prices[i] for i in _troughs(prices)]
    if len(peaks) < 2 or len(troughs) < 2:
        return 0.0
    spread = (max(peaks) - min(peaks)) / max(peaks)
    rising = all(later > earlier for earlier, later in zip(troughs, troughs[1:]))
    if spread > 0.02 or not rising:
        return 0.0
    rise = (troughs[-1] - troughs[0]) / troughs[0]
    return 0.5 + 0.3 * (1 - spread / 0.02) + 0.2 * min(1.0, rise / 0.05)


DETECTORS = {
    "head-and-shoulders": _head_and_shoulders,
    "double-top": _double_top,
    "ascending-triangle": _ascending_triangle,
}


def detect(pattern_type: str, prices: list[float]) -> dict:
    """Run one detector; emit PatternDetectionDuration (EMF)."""
    started = time.perf_counter()
    confidence = round(min(DETECTORS[pattern_type](prices), 0.99), 4)
    duration_ms = (time.perf_counter() - started) * 1000
    emf_metrics.emit(
        _namespace(),
        {"PatternDetectionDuration": duration_ms},
        unit="Milliseconds",
        dimensions={"Service": "pattern-detector"},
        properties={"patternType": pattern_type, "points": len(prices)},
    )
    return {"patternType": pattern_type, "detected": confidence > 0, "confidence": confidence}


def score(symbol: str, detections: list[dict]) -> dict:
    """The strongest detection; emit ConfidenceScore (percent, per pattern type)."""
    best = {"patternType": "none", "confidence": 0.0}
    for detection in detections:
        if not isinstance(detection, dict):
            raise ValidationError("each detection must be an object")
        pattern_type = _pattern_type(detection.get("patternType"))
        confidence = _confidence(detection.get("confidence"))
        if confidence > best["confidence"]:
            best = {"patternType": pattern_type, "confidence": confidence}
    emf_metrics.emit(
        _namespace(),
        {"ConfidenceScore": best["confidence"] * 100},
        unit="Percent",
        dimensions={"PatternType": best["patternType"]},
        properties={"symbol": symbol},
    )
    return {"symbol": symbol, **best, "detected": best["confidence"] > 0, "detections": detections}


def severity_for(confidence: float) -> str:
    if confidence >= 0.95:
        return "CRITICAL"
    if confidence >= 0.9:
        return "HIGH"
    if confidence >= 0.8:
        return "MEDIUM"
    return "LOW"


def decide(event: dict) -> dict:
    """Whether the scored pattern is worth an alert, and how severe it is."""
    confidence = _confidence(event.get("confidence"))
    return {
        "patternId": event.get("patternId") or uuid.uuid4().hex,
        "symbol": event.get("symbol"),
        "patternType": event.get("patternType"),
        "confidence": confidence,
        "severity": severity_for(confidence),
        "shouldAlert": confidence >= _threshold(),
    }


def _synthetic_series(points: int = 400) -> list[float]:
    return [100 + 10 * math.sin(i / 7) + 3 * math.sin(i / 2.3) for i in range(points)]


def tune(event: dict, context: object) -> dict:
    """Power tuning: benchmark at the current memory, or recommend from ``results``."""
    results = event.get("results")
    if results is not None:
        if not isinstance(results, list) or not results:
            raise ValidationError("results must be a non-empty list")
        costed = []
        for result in results:
            if not isinstance(result, dict):
                raise ValidationError("each result must be an object")
            memory, duration = result.get("memorySize"), result.get("durationMs")
            if not isinstance(memory, int) or isinstance(memory, bool) or memory < 128:
                raise ValidationError("memorySize must be an integer >= 128")
            if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration < 0:
                raise ValidationError("durationMs must be a non-negative number")
            cost = memory / 1024 * duration / 1000 * ARM_PRICE_PER_GB_SECOND
            costed.append({"memorySize": memory, "durationMs": duration, "cost": cost})
        best = min(costed, key=lambda item: (item["cost"], item["durationMs"]))
        return {"recommendedMemorySize": best["memorySize"], "results": costed}
    iterations = event.get("iterations", 20)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or not 1 <= iterations <= 1000:
        raise ValidationError("iterations must be an integer between 1 and 1000")
    series = _synthetic_series()
    started = time.perf_counter()
    for _ in range(iterations):
        for detector in DETECTORS.values():
            detector(series)
    duration_ms = (time.perf_counter() - started) * 1000 / iterations
    memory = event.get("memorySize") or int(getattr(context, "memory_limit_in_mb", 0) or 0)
    return {"memorySize": memory, "durationMs": round(duration_ms, 3)}


# --- Step Functions ---------------------------------------------------------------------------


def run_action(event: dict, context: object) -> dict:
    action = event.get("action")
    if action == "validate":
        symbol, prices = validate_series(event)
        return {"symbol": symbol, "prices": prices, "valid": True}
    if action == "detect":
        _symbol, prices = validate_series(event)
        return detect(_pattern_type(event.get("patternType")), prices)
    if action == "score":
        detections = event.get("detections")
        if not isinstance(detections, list):
            raise ValidationError("detections must be a list")
        return score(str(event.get("symbol", "")), detections)
    if action == "decide":
        return decide(event)
    if action == "tune":
        return tune(event, context)
    raise ValidationError("action must be one of validate, detect, score, decide, tune")


# --- REST API ---------------------------------------------------------------------------------


def _plain(value: object) -> object:
    """DynamoDB Decimals back to JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def create_pattern(event: dict) -> dict:
    payload = json_body(event)
    try:
        symbol, prices = validate_series(payload)
        requested = payload.get("patternTypes", list(PATTERN_TYPES))
        if not isinstance(requested, list) or not requested:
            raise ValidationError("patternTypes must be a non-empty list")
        pattern_types = [_pattern_type(item) for item in requested]
    except ValidationError as error:
        raise BadRequest(str(error)) from error
    scored = score(symbol, [detect(pattern_type, prices) for pattern_type in pattern_types])
    item = {
        "patternId": uuid.uuid4().hex,
        "timestamp": int(time.time() * 1000),
        "symbol": symbol,
        "patternType": scored["patternType"],
        "confidence": Decimal(str(scored["confidence"])),
        "severity": severity_for(scored["confidence"]),
        "status": "DETECTED" if scored["detected"] else "NONE",
    }
    _table(os.environ["PATTERNS_TABLE"]).put_item(Item=item)
    return json_response(201, {**_plain(item), "detections": scored["detections"]})


def _query_number(params: dict, name: str, default: float, low: float, high: float, kind=float):
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError as error:
        raise BadRequest(f"{name} must be a number") from error
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


def list_alerts(event: dict) -> dict:
    params = event.get("queryStringParameters") or {}
    limit = _query_number(params, "limit", 20, 1, 100, int)
    minimum = _query_number(params, "minConfidence", _threshold(), 0, 1)
    symbol = params.get("symbol")
    if symbol is not None and not SYMBOL_PATTERN.match(symbol):
        raise BadRequest("symbol must be 1-10 upper-case letters, digits, '.' or '-'")
    expression = "confidence >= :minimum"
    values: dict = {":minimum": Decimal(str(minimum))}
    if symbol:
        expression += " AND symbol = :symbol"
        values[":symbol"] = symbol
    table = _table(os.environ["PATTERNS_TABLE"])
    request = {"FilterExpression": expression, "ExpressionAttributeValues": values}
    items: list = []
    for _page in range(10):  # bounded: GET /alerts must answer within the API timeout
        response = table.scan(**request)
        items.extend(response.get("Items", []))
        if len(items) >= limit or "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    items.sort(key=lambda item: item.get("timestamp", 0), reverse=True)
    return json_response(200, {"alerts": _plain(items[:limit]), "minConfidence": minimum})


def handle_api(event: dict) -> dict:
    route = (event.get("httpMethod"), event.get("resource"))
    try:
        if route == ("POST", "/patterns"):
            return create_pattern(event)
        if route == ("GET", "/alerts"):
            return list_alerts(event)
    except BadRequest as error:
        return error_response(400, str(error))
    return error_response(404, f"no route for {route[0]} {route[1]}")


def handler(event, context):
    if isinstance(event, dict) and "httpMethod" in event:
        return handle_api(event)
    if not isinstance(event, dict):
        raise ValidationError("event must be a JSON object")
    return run_action(event, context)
