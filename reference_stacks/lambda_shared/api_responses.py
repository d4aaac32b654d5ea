"""API Gateway Lambda-proxy responses and request-body parsing."""

from __future__ import annotations

import base64
import json
from typing import Any


class BadRequest(ValueError):
    """The client sent something we cannot accept; becomes a 400 with this message."""


def json_response(status_code: int, body: Any) -> dict:
    """A Lambda-proxy response with a JSON body."""
    return {
        "statusCode": status_code,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, default=str),
    }


def error_response(status_code: int, message: str, **details: Any) -> dict:
    """A JSON error response: ``{"error": message, ...details}``."""
    return json_response(status_code, {"error": message, **details})


def json_body(event: dict) -> dict:
    """The request's JSON object body, or :class:`BadRequest` saying what is wrong with it."""
    raw = event.get("body") if isinstance(event, dict) else None
    if raw is None or raw == "":
        raise BadRequest("request body is required")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as error:
            raise BadRequest("request body is not valid base64-encoded UTF-8") from error
    if isinstance(raw, (dict, list)):
        payload = raw
    else:
        try:
            payload = json.loads(raw)
        except json.JSONDecodeError as error:
            raise BadRequest(f"request body is not valid JSON: {error.msg}") from error
    if not isinstance(payload, dict):
        raise BadRequest("request body must be a JSON object")
    return payload
