"""What handlers take from their runtime: boto3 clients, settings and JSON log lines.

Clients are created on first use and settings read at call time, so importing a
handler needs neither AWS nor its environment. Handlers bind these as module
globals (``from aws_runtime import client as _client``), which tests replace
with fakes.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal, InvalidOperation
from functools import lru_cache


@lru_cache(maxsize=None)
def client(service: str):
    """The boto3 client for ``service``, created on first use and reused by warm invocations."""
    import boto3

    return boto3.client(service)


def required_setting(name: str) -> str:
    """The environment variable ``name``; :class:`RuntimeError` when it is unset or empty."""
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"service misconfigured: {name} is not set")
    return value


def decimal_setting(name: str, default: Decimal) -> Decimal:
    """The environment variable ``name`` as a Decimal, ``default`` when unset or empty."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return Decimal(raw)
    except InvalidOperation as error:
        raise RuntimeError(f"service misconfigured: {name}={raw!r} is not a number") from error


def log(level: str, message: str, **fields: object) -> None:
    """Print one JSON log line ``{"level", "message", **fields}`` (CloudWatch Logs Insights parses it)."""
    print(json.dumps({"level": level, "message": message, **fields}, default=str))
