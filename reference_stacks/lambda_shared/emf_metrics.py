"""CloudWatch Embedded Metric Format: metrics written as one JSON log line, no API call."""

from __future__ import annotations

import json
import sys
import time
from typing import Mapping, TextIO


def emit(
    namespace: str,
    metrics: Mapping[str, float],
    *,
    unit: str = "Count",
    dimensions: Mapping[str, str] | None = None,
    properties: Mapping[str, object] | None = None,
    stream: TextIO | None = None,
) -> dict:
    """Print one EMF record for ``metrics`` (name -> value) and return it.

    CloudWatch Logs extracts the metrics from the record in the function's log
    group; the ``properties`` stay searchable in the log without being metrics.
    """
    dimensions = dict(dimensions or {})
    record: dict = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [sorted(dimensions)],
                    "Metrics": [{"Name": name, "Unit": unit} for name in metrics],
                }
            ],
        },
        **dimensions,
        **dict(properties or {}),
        **{name: value for name, value in metrics.items()},
    }
    print(json.dumps(record, default=str), file=stream or sys.stdout, flush=True)
    return record
