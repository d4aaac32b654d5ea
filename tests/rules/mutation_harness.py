"""What both ideal-mutation test modules share: the ideal assemblies, their files, and one rule's verdict.

Each module keeps its own vocabulary of edits; this is the machinery under them.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from checks.assembly import Assembly
from checks.config import StackgradeConfig
from checks.own_rules import evaluate, subject_id
from rules import all_rules

RULES = {rule.id: rule for rule in all_rules()}
TOP = "top"  # the top-level template of the assembly
MANIFEST = "manifest.json"
NESTED_SUFFIX = ".nested.template.json"


def assembly_file(directory: Path, name: str) -> Path:
    """The one file ``name`` means: ``TOP``, ``MANIFEST`` or a glob matching one nested template."""
    if name == MANIFEST:
        return directory / MANIFEST
    templates = sorted(directory.glob("*.template.json"))
    if name == TOP:
        hits = [p for p in templates if not p.name.endswith(NESTED_SUFFIX)]
    else:
        hits = [p for p in templates if fnmatch.fnmatch(p.name, name)]
    assert len(hits) == 1, f"{name!r} matches {[p.name for p in hits]} in {directory}"
    return hits[0]


def rule_verdict(directory: Path, rule_id: str, config: StackgradeConfig | None = None) -> tuple[int, set[str]]:
    """(how many subjects the rule applied to, the logical IDs it fails) on the assembly in ``directory``.

    A rule that crashes is reported as a failure; that must never pass for catching the mutation.
    """
    evaluation = evaluate(Assembly.load(directory), config, rules=[RULES[rule_id]])
    crashed = [o.message for o in evaluation.failures if "could not evaluate" in (o.message or "")]
    assert not crashed, crashed
    return len(evaluation.outcomes), {subject_id(o) for o in evaluation.failures}
