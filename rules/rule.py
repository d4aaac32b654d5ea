"""What a rule is: metadata in one place and a small pure check over a resource, a stack or the app."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Union

from checks.assembly import Assembly, Resource, Stack
from checks.config import StackgradeConfig
from checks.finding import CATEGORY_OF_CONCERN, CONCERNS, SEVERITIES
from checks.relations import Relations

RULE_ID = re.compile(r"^SG-[A-Z]{2,4}-\d{3}$")
SCOPES = ("resource", "stack", "assembly")


class _NotApplicable:
    """A check's answer when the rule does not apply to this resource (not a pass, not a fail)."""

    def __repr__(self) -> str:
        return "NOT_APPLICABLE"


NOT_APPLICABLE = _NotApplicable()

# A check returns None (pass), a message (fail: what is wrong, in one sentence) or NOT_APPLICABLE.
Verdict = Union[str, None, _NotApplicable]


def metadata_problems(rule_id: str, severity: str, concerns: tuple[str, ...]) -> list[str]:
    """What is wrong with a rule's id, severity and concerns (shared by Python and .guard rules)."""
    problems = []
    if not RULE_ID.match(rule_id):
        problems.append("id must look like SG-DLQ-001")
    if severity not in SEVERITIES:
        problems.append(f"severity must be one of {SEVERITIES}")
    if not concerns or set(concerns) - set(CONCERNS):
        problems.append(f"concerns must be a non-empty list from {CONCERNS}")
    return problems


@dataclass(frozen=True)
class RuleContext:
    """What a check may consult besides its subject."""

    assembly: Assembly
    relations: Relations
    config: StackgradeConfig

    def environment_suffix(self, stack: Stack) -> str | None:
        """The configured suffix, or the last ``-`` segment of the top-level stack's name."""
        if self.config.environment_suffix:
            return self.config.environment_suffix
        name = stack.top_level.name
        return name.rsplit("-", 1)[1] if "-" in name and not name.endswith("-") else None


@dataclass(frozen=True)
class Rule:
    """One production-readiness rule. ``check`` receives a Resource, Stack or Assembly per ``scope``."""

    id: str
    title: str
    severity: str
    concerns: tuple[str, ...]
    rationale: str
    remediation: str
    check: Callable[..., Verdict] = field(repr=False)
    applies_to: tuple[str, ...] = ()
    scope: str = "resource"
    seeds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = metadata_problems(self.id, self.severity, self.concerns)
        if self.scope not in SCOPES:
            problems.append(f"scope must be one of {SCOPES}")
        if self.scope == "resource" and not self.applies_to:
            problems.append("a resource rule names the types it applies to")
        if problems:
            raise ValueError(f"rule {self.id}: " + "; ".join(problems))

    @property
    def category(self) -> str:
        return CATEGORY_OF_CONCERN[self.concerns[0]]


@dataclass(frozen=True)
class Outcome:
    """A rule applied to one subject: passed when ``message`` is None."""

    rule: Rule
    stack: Stack
    resource: Resource | None
    message: str | None

    @property
    def passed(self) -> bool:
        return self.message is None
