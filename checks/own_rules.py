"""The own-rules engine: an assembly in, outcomes and findings out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from checks.assembly import Assembly
from checks.config import StackgradeConfig
from checks.finding import Finding, fingerprint
from checks.relations import Relations
from rules import all_rules, known_rule_ids
from rules.rule import NOT_APPLICABLE, Outcome, Rule, RuleContext

ENGINE = "stackgrade"
STACK_SUBJECT = "(stack)"


@dataclass(frozen=True)
class Evaluation:
    """Every outcome of every enabled rule; failed outcomes become findings."""

    outcomes: tuple[Outcome, ...]

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.passed]

    @property
    def findings(self) -> list[Finding]:
        return [to_finding(o) for o in self.failures]

    def applied(self, rule_id: str) -> int:
        """How many subjects the rule was applied to (for normalizing scores)."""
        return sum(1 for o in self.outcomes if o.rule.id == rule_id)


def evaluate(
    assembly: Assembly | str | Path,
    config: StackgradeConfig | None = None,
    rules: Sequence[Rule] | None = None,
) -> Evaluation:
    """Run the enabled rules over an assembly (or a path to one)."""
    if not isinstance(assembly, Assembly):
        assembly = Assembly.load(assembly)
    config = config or StackgradeConfig()
    unknown = sorted(set(config.rules) - known_rule_ids())
    if unknown:
        from checks.config import ConfigError

        raise ConfigError(f"rules: unknown rule ids {unknown}; `stackgrade rules` lists them")
    context = RuleContext(assembly, Relations(assembly), config)
    outcomes: list[Outcome] = []
    for rule in rules if rules is not None else all_rules():
        if config.enabled(rule.id):
            outcomes.extend(_apply(rule, context))
    return Evaluation(tuple(outcomes))


def _apply(rule: Rule, context: RuleContext) -> Iterable[Outcome]:
    assembly = context.assembly
    if rule.scope == "resource":
        subjects = [(r.stack, r, r) for r in assembly.resources(*rule.applies_to)]
    elif rule.scope == "stack":
        subjects = [(s, None, s) for s in assembly.stacks if not s.nested]
    else:
        subjects = [(assembly.stacks[0], None, assembly)]
    for stack, resource, subject in subjects:
        try:
            verdict = rule.check(subject, context)
        except Exception as error:  # noqa: BLE001 - fail closed, naming the broken rule, and go on
            verdict = f"rule {rule.id} could not evaluate this resource ({type(error).__name__}: {error}); report it"
        if verdict is not NOT_APPLICABLE:
            yield Outcome(rule, stack, resource, verdict)  # type: ignore[arg-type]


def to_finding(outcome: Outcome) -> Finding:
    rule, resource = outcome.rule, outcome.resource
    return Finding(
        rule_id=rule.id,
        title=rule.title,
        severity=rule.severity,
        category=rule.category,
        concerns=rule.concerns,
        engine=ENGINE,
        stack=outcome.stack.top_level.name,
        logical_id=resource.logical_id if resource else None,
        resource_type=resource.type if resource else None,
        construct_path=resource.construct_path if resource else None,
        message=outcome.message or "",
        remediation=rule.remediation,
        # The nested stack's own name: two nested stacks may share a logical ID.
        fingerprint=fingerprint(rule.id, outcome.stack.name, resource.logical_id if resource else None),
    )


def subject_id(outcome: Outcome) -> str:
    """The logical ID of the outcome's resource, or ``(stack)`` for stack- and app-level rules."""
    return outcome.resource.logical_id if outcome.resource else STACK_SUBJECT

