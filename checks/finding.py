"""The finding: what every engine reports, every report renders and the gate decides on."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")


def worst_severity(severities: Iterable[str]) -> str:
    """The most severe of ``severities`` (at least one)."""
    return min(severities, key=SEVERITIES.index)

# The fixed vocabulary of concerns (../shared/design.md).
CONCERNS: tuple[str, ...] = (
    "dlq", "alarms", "alarm-actions", "tracing", "log-retention", "logging", "iam", "naming",
    "outputs", "encryption", "backup", "dr", "api", "compute-config", "event-source", "retries",
    "dashboards", "waf", "deployment", "tags", "cost",
)

# Scorecard categories, each a group of concerns; one home for the grouping.
CATEGORY_OF_CONCERN: dict[str, str] = {
    "dlq": "reliability", "event-source": "reliability", "retries": "reliability",
    "backup": "reliability", "dr": "reliability", "deployment": "reliability",
    "alarms": "observability", "alarm-actions": "observability", "tracing": "observability",
    "log-retention": "observability", "logging": "observability", "dashboards": "observability",
    "iam": "security", "encryption": "security", "waf": "security", "api": "security",
    "naming": "operations", "outputs": "operations", "tags": "operations",
    "compute-config": "operations", "cost": "cost",
}
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(CATEGORY_OF_CONCERN.values()))


@dataclass(frozen=True)
class SourceLocation:
    """Where the user's code created the resource (CDK source file and line)."""

    file: str
    line: int


@dataclass(frozen=True)
class Finding:
    """One concern about one resource (or a whole stack when ``logical_id`` is None)."""

    rule_id: str
    title: str
    severity: str
    category: str
    concerns: tuple[str, ...]
    engine: str
    stack: str
    logical_id: str | None
    resource_type: str | None
    construct_path: str | None
    message: str
    remediation: str
    source: SourceLocation | None = None
    suppressed: bool = False
    suppression_reason: str | None = None
    fingerprint: str = field(default="")
    # Every engine that saw this concern on this resource (``engine`` first) and, for the merged
    # ones, their own rule ids as ``engine:rule_id``; filled by the de-duplication in the merge.
    engines: tuple[str, ...] = ()
    also_reported_as: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")
        if self.category not in CATEGORIES:
            raise ValueError(f"category {self.category!r} is not one of {CATEGORIES}")
        # A list would make the frozen finding unhashable; a bare string would be read letter by letter.
        concerns = (self.concerns,) if isinstance(self.concerns, str) else tuple(self.concerns)
        object.__setattr__(self, "concerns", concerns)
        unknown = set(self.concerns) - set(CONCERNS)
        if unknown:
            raise ValueError(f"concerns {sorted(unknown)} are not in the vocabulary")
        object.__setattr__(self, "engines", tuple(self.engines) or (self.engine,))
        object.__setattr__(self, "also_reported_as", tuple(self.also_reported_as))
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", fingerprint(self.rule_id, self.stack, self.logical_id))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["concerns"] = list(self.concerns)
        data["engines"] = list(self.engines)
        data["also_reported_as"] = list(self.also_reported_as)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Finding:
        """The inverse of :meth:`to_dict` (scorecards, caches and worker processes pass dicts)."""
        fields = dict(data)
        source = fields.get("source")
        fields["source"] = SourceLocation(**source) if source else None
        for key in ("concerns", "engines", "also_reported_as"):
            fields[key] = tuple(fields.get(key) or ())
        return cls(**fields)


def fingerprint(rule_id: str, stack: str, logical_id: str | None) -> str:
    """Stable across runs of the same app: the rule, the stack and the resource's logical ID."""
    text = "\x1f".join((rule_id, stack, logical_id or ""))
    return hashlib.sha256(text.encode()).hexdigest()[:20]
