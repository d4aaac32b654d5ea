"""The synthesis record (``stackgrade-synth.json`` in the assembly): the cdk-nag run and source lines."""

from __future__ import annotations

import json
from pathlib import Path

from checks.engines import SYNTH_RECORD


class RecordError(Exception):
    """The record exists but cannot be read; the message says how to recover."""


def read_record(assembly: Path) -> dict | None:
    """The record of ``assembly``, or None when stackgrade did not synthesize it (an existing cdk.out)."""
    path = Path(assembly) / SYNTH_RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RecordError(f"{path} is unreadable ({error}); synthesize the app again") from error
    if not isinstance(record, dict) or not isinstance(record.get("cdk_nag"), dict):
        raise RecordError(f"{path} is not a stackgrade synthesis record; synthesize the app again")
    return record


def source_of(record: dict | None, construct_path: str | None) -> tuple[str, int] | None:
    """The (file, line) of the user's code that made ``construct_path`` or its nearest recorded ancestor.

    CloudFormation resources inside an L2 (``.../Queue/Resource``) are created by CDK's own
    code, so they take the line of the construct the user wrote.
    """
    if not record or not construct_path:
        return None
    sources = record.get("sources") or {}
    path = construct_path.strip("/")
    while path:
        entry = sources.get(path)
        if entry:
            return entry["file"], int(entry["line"])
        path = path.rpartition("/")[0]
    return None
