"""stackgrade's cfn-guard rules: single-resource property rules, one ``<name>.guard`` file each.

Each file starts with a YAML header written as comments, the rule's only
metadata (``id``, ``title``, ``severity``, ``concerns``, ``message``,
``rationale``, ``remediation`` and optional ``seeds``), followed by the Guard
rule itself, named like the file. ``tests/<name>_tests.yaml`` holds its
``cfn-guard test`` cases. :func:`guard_rules` reads and validates them all;
the resource types a rule applies to come from the ``Type ==`` filters of its
body, so they are never written twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from checks.finding import CATEGORY_OF_CONCERN
from rules.rule import metadata_problems

GUARD_DIR = Path(__file__).resolve().parent
TESTS_DIR = GUARD_DIR / "tests"
TESTS_SUFFIX = "_tests.yaml"

REQUIRED_KEYS = ("id", "title", "severity", "concerns", "message", "rationale", "remediation")
OPTIONAL_KEYS = ("seeds",)
_RESOURCE_TYPE = re.compile(r"""\bType\s*==\s*['"](AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)['"]""")
_NAMED_RULE = re.compile(r"^\s*rule\s+([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()", re.MULTILINE)


class GuardRuleError(ValueError):
    """A .guard file whose header or body does not follow the layout above; the message says what to fix."""


@dataclass(frozen=True)
class GuardRule:
    """One of our cfn-guard rules: its metadata and where it lives."""

    id: str
    title: str
    severity: str
    concerns: tuple[str, ...]
    message: str
    rationale: str
    remediation: str
    name: str  # the Guard rule's name, also the file's stem; cfn-guard reports failures under it
    path: Path
    applies_to: tuple[str, ...]
    seeds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = metadata_problems(self.id, self.severity, self.concerns)
        for key in ("title", "message", "rationale", "remediation"):
            if not getattr(self, key).strip():
                problems.append(f"{key} must not be empty")
        if not self.applies_to:
            problems.append("the rule body selects no resource type (`Resources.*[ Type == 'AWS::...' ]`)")
        if problems:
            raise GuardRuleError(f"{self.path}: rule {self.id}: " + "; ".join(problems))

    @property
    def category(self) -> str:
        return CATEGORY_OF_CONCERN[self.concerns[0]]

    @property
    def tests_path(self) -> Path:
        return self.path.parent / TESTS_DIR.name / f"{self.name}{TESTS_SUFFIX}"


@lru_cache(maxsize=None)
def guard_rules(directory: Path = GUARD_DIR) -> tuple[GuardRule, ...]:
    """Every ``*.guard`` rule in ``directory``, sorted by id; shared ids, titles or names are an error."""
    found = [parse_guard_rule(path) for path in sorted(Path(directory).glob("*.guard"))]
    for attribute, named in (("id", "an id"), ("title", "a title"), ("name", "a name")):
        values = [getattr(r, attribute) for r in found]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise GuardRuleError(f"guard rules in {directory} share {named}: {duplicates}")
    return tuple(sorted(found, key=lambda r: r.id))


def parse_guard_rule(path: Path) -> GuardRule:
    """One ``.guard`` file: its comment header as metadata, its body for the rule name and resource types."""
    text = path.read_text(encoding="utf-8")
    header, body = split_header(text)
    try:
        meta = yaml.safe_load(header)
    except yaml.YAMLError as error:
        raise GuardRuleError(f"{path}: the comment header is not valid YAML: {error}") from None
    if not isinstance(meta, dict):
        raise GuardRuleError(f"{path}: start the file with a comment header of `# key: value` lines "
                             f"({', '.join(REQUIRED_KEYS)})")
    missing = [key for key in REQUIRED_KEYS if key not in meta]
    unknown = sorted(set(meta) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if missing or unknown:
        raise GuardRuleError(f"{path}: header " + "; ".join(
            ([f"misses {missing}"] if missing else []) + ([f"has unknown keys {unknown}"] if unknown else [])))
    names = named_rules(body)
    if path.stem not in names:
        raise GuardRuleError(f"{path}: define `rule {path.stem} ...` (the rule is named like its file); "
                             f"found {names or 'no named rule'}")
    concerns, seeds = meta["concerns"], meta.get("seeds") or ()
    return GuardRule(
        id=str(meta["id"]),
        title=_text(meta["title"]),
        severity=str(meta["severity"]),
        concerns=(concerns,) if isinstance(concerns, str) else tuple(concerns or ()),
        message=_text(meta["message"]),
        rationale=_text(meta["rationale"]),
        remediation=_text(meta["remediation"]),
        name=path.stem,
        path=path,
        applies_to=tuple(dict.fromkeys(_RESOURCE_TYPE.findall(body))),
        seeds=(seeds,) if isinstance(seeds, str) else tuple(str(s) for s in seeds),
    )


def named_rules(text: str) -> list[str]:
    """The names of the Guard rules ``text`` defines, without parameterized helper rules."""
    return _NAMED_RULE.findall(text)


def split_header(text: str) -> tuple[str, str]:
    """The leading comment block (without its ``#``) and the rest of the file."""
    lines = text.splitlines()
    end = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    header = [line[2:] if line.startswith("# ") else line[1:] for line in lines[:end]]
    return "\n".join(header), "\n".join(lines[end:])


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()
