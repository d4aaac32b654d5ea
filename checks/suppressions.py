"""Suppressions: the ones written in template metadata, the ones in the settings, and matching them to findings.

Three sources, each with a reason:

1. an engine's own (cdk-nag acknowledgements, checkov skips): the adapters return
   those findings already suppressed, with the user's reason or None;
2. stackgrade's, in the resource's CloudFormation metadata
   (``Metadata: {stackgrade: {suppress: [{rule: ..., reason: ...}]}}``);
3. stackgrade's, in the settings (``[[tool.stackgrade.suppressions]]``, see
   :class:`checks.config.SuppressionSetting`).

A rule id matches a finding's own id or any id it is also reported as (``engine:id``);
an id or pattern matches exactly or as an fnmatch pattern (exact first: cdk-nag ids such
as ``AwsSolutions-IAM5[Action::s3:*]`` contain brackets).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Iterable

from checks.config import SuppressionSetting
from checks.finding import Finding

STACKGRADE_KEY = "stackgrade"

# Where each mechanism keeps its entries in a resource's (or template's) Metadata, and the key of
# the entry's reason: (metadata key, list key, id key, reason key).
MECHANISMS: dict[str, tuple[str, str, str, str]] = {
    "stackgrade": (STACKGRADE_KEY, "suppress", "rule", "reason"),
    "checkov": ("checkov", "skip", "id", "comment"),
    "bridgecrew": ("bridgecrew", "skip", "id", "comment"),  # checkov reads this older key too
    "cdk-nag": ("cdk_nag", "rules_to_suppress", "id", "reason"),
}


@dataclass(frozen=True)
class MetadataEntry:
    """One suppression entry written in template metadata; ``rule`` None when the entry names no rule."""

    mechanism: str
    rule: str | None
    reason: str | None

    def describe(self) -> str:
        what = {"stackgrade": "stackgrade suppression", "checkov": "checkov skip", "bridgecrew": "bridgecrew skip",
                "cdk-nag": "cdk-nag suppression"}[self.mechanism]
        return f"{what} of {self.rule}" if self.rule else f"{what} that names no rule"


def metadata_entries(metadata: Any) -> list[MetadataEntry]:
    """Every suppression entry of every mechanism in one Metadata mapping (malformed entries included)."""
    if not isinstance(metadata, dict):
        return []
    entries = []
    for mechanism, (key, list_key, id_key, reason_key) in MECHANISMS.items():
        block = metadata.get(key)
        items = block.get(list_key) if isinstance(block, dict) else None
        if items is None:
            continue
        for item in items if isinstance(items, list) else [items]:
            item = item if isinstance(item, dict) else {}
            entries.append(MetadataEntry(mechanism, _text(item.get(id_key)), _text(item.get(reason_key))))
    return entries


def reasonless(metadata: Any) -> list[MetadataEntry]:
    """The entries that give no reason, or name no rule (and so suppress nothing)."""
    return [e for e in metadata_entries(metadata) if e.reason is None or e.rule is None]


def _text(value: Any) -> str | None:
    """A non-blank string, else None (a blank reason explains nothing)."""
    return value if isinstance(value, str) and value.strip() else None


def rule_ids(finding: Finding) -> list[str]:
    """The finding's own rule id and every id it is also reported as."""
    return [finding.rule_id, *(other.split(":", 1)[-1] for other in finding.also_reported_as)]


def matches(pattern: str, values: Iterable[str | None]) -> bool:
    """``pattern`` equals one of ``values`` or matches it as an fnmatch pattern."""
    return any(v is not None and (v == pattern or fnmatchcase(v, pattern)) for v in values)


def stackgrade_suppression(metadata: Any, finding: Finding) -> MetadataEntry | None:
    """The first stackgrade metadata entry that suppresses ``finding``."""
    ids = rule_ids(finding)
    for entry in metadata_entries(metadata):
        if entry.mechanism == "stackgrade" and entry.rule is not None and matches(entry.rule, ids):
            return entry
    return None


class ConfigSuppressions:
    """The settings' suppressions, remembering which ones matched a finding (the others are stale)."""

    def __init__(self, settings: Iterable[SuppressionSetting]) -> None:
        self.settings = tuple(settings)
        self._used: set[int] = set()

    def match(self, finding: Finding, stacks: Iterable[str], names: Iterable[str | None]) -> SuppressionSetting | None:
        """The first setting that covers ``finding`` on a stack named one of ``stacks``.

        ``names`` are the resource's logical ID and construct path; a finding on a whole stack
        (no logical ID) is matched by a ``resource`` pattern of ``*`` only.
        """
        ids, stacks, names = rule_ids(finding), list(stacks), [n for n in names if n]
        found = None
        for index, setting in enumerate(self.settings):
            if not matches(setting.rule, ids) or not matches(setting.stack, stacks):
                continue
            if not (matches(setting.resource, names) if names else setting.resource == "*"):
                continue
            self._used.add(index)
            found = found or setting
        return found

    def unused(self) -> list[dict]:
        """The settings that matched no finding, as ``{rule, resource, stack, reason}``."""
        return [s.model_dump() for i, s in enumerate(self.settings) if i not in self._used]
