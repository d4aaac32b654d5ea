"""The gate: pass or fail, with the reasons as sentences, optionally against a baseline scorecard.

It fails (closed) when an engine errored, when an unsuppressed finding has a severity in
``gate.fail_on``, or when the overall score is under ``gate.min_score``. With a baseline
(an earlier scorecard of the same app), only findings whose fingerprint the baseline does
not know count, and the score fails only when it is under the minimum AND lower than the
baseline's, so a legacy app can adopt the gate and must only not get worse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from checks.config import GateSettings
from checks.merge import STACK_SUBJECT, MergedFinding
from checks.score import Scores, shown

if TYPE_CHECKING:  # pragma: no cover - typing only; scorecard imports this module
    from checks.scorecard import EngineRun

LISTED = 5  # findings named in a reason before "and N more"
ERROR_TEXT = 300  # characters of an engine's error quoted in a reason (the engines section has it all)


@dataclass(frozen=True)
class BaselineDiff:
    """How the findings compare with a baseline scorecard's, by fingerprint."""

    known: frozenset[str]  # every fingerprint of every baseline finding
    new: tuple[str, ...]
    fixed: tuple[str, ...]
    unchanged: tuple[str, ...]
    score: float | None  # the baseline's overall score as shown
    path: str | None = None

    def is_new(self, item: MergedFinding) -> bool:
        return not any(fp in self.known for fp in item.fingerprints)

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "score": self.score,
            **{name: {"count": len(fps), "fingerprints": list(fps)}
               for name, fps in (("new", self.new), ("fixed", self.fixed), ("unchanged", self.unchanged))},
        }


def diff_against(findings: Sequence[MergedFinding], baseline: dict, path: str | None = None) -> BaselineDiff:
    """Compare with a baseline scorecard (already checked by :func:`checks.scorecard.check_scorecard`)."""
    old = [_fingerprints(entry) for entry in baseline["findings"]]
    known = frozenset(fp for fps in old for fp in fps)
    current = {fp for item in findings for fp in item.fingerprints}
    new = sorted({item.finding.fingerprint for item in findings if not any(fp in known for fp in item.fingerprints)})
    unchanged = sorted({item.finding.fingerprint for item in findings} - set(new))
    fixed = sorted({fps[0] for fps in old if fps and not any(fp in current for fp in fps)})
    score = baseline["scores"]["overall"]
    return BaselineDiff(known, tuple(new), tuple(fixed), tuple(unchanged), score, path)


def _fingerprints(entry: dict) -> list[str]:
    """A scorecard finding's fingerprints, primary first (``fingerprints``, else ``fingerprint``)."""
    listed = entry.get("fingerprints") or [entry.get("fingerprint")]
    return [fp for fp in listed if isinstance(fp, str) and fp]


def decide(findings: Sequence[MergedFinding], scores: Scores, runs: Iterable[EngineRun], settings: GateSettings,
           diff: BaselineDiff | None = None) -> dict:
    """The scorecard's ``gate`` section: passed, reasons, min_score, fail_on and the baseline comparison."""
    reasons = [f"engine error: {run.name} {_first_line(run.error)}" for run in runs if run.status == "error"]
    for severity in settings.fail_on:
        hits = [item for item in findings if item.finding.severity == severity and not item.finding.suppressed
                and (diff is None or diff.is_new(item))]
        if hits:
            reasons.append(_severity_reason(severity, hits, diff is not None))
    overall = scores.overall.value
    if overall is not None and overall < settings.min_score:
        current = shown(overall)
        if diff is None:
            reasons.append(f"overall score {current} is under the minimum {settings.min_score}")
        elif diff.score is None or current < diff.score:
            baseline = "has none" if diff.score is None else f"scored {diff.score}"
            reasons.append(f"overall score {current} is under the minimum {settings.min_score} and lower than "
                           f"the baseline's (which {baseline})")
    return {
        "passed": not reasons,
        "reasons": reasons,
        "min_score": settings.min_score,
        "fail_on": list(settings.fail_on),
        "baseline": diff.to_dict() if diff is not None else None,
    }


def _first_line(error: str | None) -> str:
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    text = lines[0] if lines else "failed without a message"
    return text if len(text) <= ERROR_TEXT else text[: ERROR_TEXT - 3] + "..."


def _severity_reason(severity: str, hits: list[MergedFinding], against_baseline: bool) -> str:
    names = sorted(f"{h.finding.rule_id} on {h.finding.stack}/{h.finding.logical_id or STACK_SUBJECT}" for h in hits)
    listed = ", ".join(names[:LISTED]) + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")
    new = "new " if against_baseline else ""
    plural = "finding" if len(hits) == 1 else "findings"
    return f"{len(hits)} {new}unsuppressed {severity} {plural}: {listed}"
