"""The one mapping table that places other engines' rule ids into stackgrade's severities and concerns.

One TOML file per engine (``rules/mapping/<engine>.toml``)::

    [native_severity]          # the engine's own levels -> ours, for ids without a row
    Error = "high"

    [rules."AwsSolutions-SQS3"]
    severity = "high"
    concerns = ["dlq"]         # the first concern decides the category
    # category = "security"    # optional override

An id without a row gets the engine's native severity mapped (or ``medium``),
the category ``security`` and no concerns (so it merges with nothing), and is
reported as unmapped in the scorecard so the table can grow.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from checks.finding import CATEGORIES, CATEGORY_OF_CONCERN, CONCERNS, SEVERITIES

TABLE_DIR = Path(__file__).parent
UNMAPPED_CATEGORY = "security"
UNMAPPED_SEVERITY = "medium"


@dataclass(frozen=True)
class Mapping:
    """Where one engine rule id lands; ``mapped`` is False for the default."""

    severity: str
    category: str
    concerns: tuple[str, ...]
    mapped: bool


@lru_cache(maxsize=None)
def table(engine: str) -> dict:
    """The parsed, validated table of one engine (empty when the engine has none)."""
    path = TABLE_DIR / f"{engine}.toml"
    if not path.is_file():
        return {"native_severity": {}, "rules": {}}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    problems = []
    for level, severity in data.get("native_severity", {}).items():
        if severity not in SEVERITIES:
            problems.append(f"native_severity.{level}: {severity!r} is not one of {SEVERITIES}")
    for rule_id, row in data.get("rules", {}).items():
        if set(row) - {"severity", "concerns", "category"}:
            problems.append(f"rules.{rule_id}: unknown keys {sorted(set(row) - {'severity', 'concerns', 'category'})}")
        if row.get("severity") not in SEVERITIES:
            problems.append(f"rules.{rule_id}.severity: {row.get('severity')!r} is not one of {SEVERITIES}")
        concerns = row.get("concerns") or []
        if not concerns or set(concerns) - set(CONCERNS):
            problems.append(f"rules.{rule_id}.concerns: {concerns!r} must be a non-empty list from {CONCERNS}")
        if "category" in row and row["category"] not in CATEGORIES:
            problems.append(f"rules.{rule_id}.category: {row['category']!r} is not one of {CATEGORIES}")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return {"native_severity": data.get("native_severity", {}), "rules": data.get("rules", {})}


def lookup(engine: str, rule_id: str, native_severity: str | None = None) -> Mapping:
    """The mapping of ``rule_id`` for ``engine``; the default when the table has no row."""
    data = table(engine)
    row = data["rules"].get(rule_id)
    if row is None:
        severity = data["native_severity"].get(native_severity or "", UNMAPPED_SEVERITY)
        return Mapping(severity, UNMAPPED_CATEGORY, (), mapped=False)
    concerns = tuple(row["concerns"])
    return Mapping(row["severity"], row.get("category", CATEGORY_OF_CONCERN[concerns[0]]), concerns, mapped=True)
