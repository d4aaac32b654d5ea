"""The scorecard (schema ``stackgrade/scorecard@1``): the contract between the gate, the reports and scripts.

:func:`build_scorecard` turns one graded target (its assembly and every engine run) into
the scorecard dict: merged findings, scores, the gate decision and a summary. Everything
in it is deterministic for the same inputs except ``generated_at`` and the engines'
``seconds``. docs/scoring.md documents the keys.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePath

from checks.assembly import Assembly, Stack
from checks.config import StackgradeConfig
from checks.engines import ENGINE_NAMES, EngineResult
from checks.finding import CATEGORIES, SEVERITIES
from checks.gate import decide, diff_against
from checks.merge import MergedFinding, merge, precedence
from checks.score import score

SCHEMA = "stackgrade/scorecard@1"
TOP_LEVEL_KEYS: tuple[str, ...] = (
    "schema", "stackgrade_version", "generated_at", "target", "stacks", "engines", "scores", "gate", "summary",
    "findings", "unmapped_rule_ids", "unused_suppressions",
)
STATUSES = ("ok", "error", "skipped")


class ScorecardError(Exception):
    """A file that is not a readable stackgrade scorecard; the message says which and what to do."""


@dataclass
class EngineRun:
    """One engine's run on one target, as the orchestrator saw it."""

    name: str  # "stackgrade" | "cdk-nag" | "checkov" | "cfn-guard" | "live"
    version: str | None
    status: str  # "ok" | "error" | "skipped"
    seconds: float
    error: str | None = None  # the error text, or the reason it was skipped
    cached: bool = False
    result: EngineResult | None = None  # when status == "ok"

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"engine run {self.name}: status {self.status!r} is not one of {STATUSES}")
        if self.status == "ok" and self.result is None:
            raise ValueError(f"engine run {self.name}: status ok needs its result")


def build_scorecard(*, target: dict, assembly: Assembly, runs: list[EngineRun], config: StackgradeConfig,
                    synth_record: dict | None = None, baseline: dict | None = None,
                    baseline_path: str | Path | None = None, live: dict | None = None) -> dict:
    """The scorecard of one graded target; ``baseline`` is an earlier scorecard (see :func:`read_scorecard`).

    ``live`` is the optional ``live`` section (:meth:`checks.live.run.LiveResult.section`), given with the
    ``live`` engine's run in ``runs`` when the target was verified on LocalStack (``grade --live``).
    """
    if baseline is not None:
        check_scorecard(baseline, f"baseline {baseline_path}" if baseline_path else "baseline")
    runs = sorted(runs, key=lambda r: (precedence(r.name), r.name))
    results = {run.name: run.result for run in runs if run.status == "ok" and run.result is not None}
    merged = merge(results, assembly, config, synth_record)
    scores = score(merged.findings, merged.evaluated)
    diff = diff_against(merged.findings, baseline, str(baseline_path) if baseline_path else None) \
        if baseline is not None else None
    findings = sorted(merged.findings, key=_order)
    lines = TemplateLines()
    card = {
        "schema": SCHEMA,
        "stackgrade_version": stackgrade_version(),
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "target": target,
        "stacks": _stacks(assembly),
        "engines": [_engine(run) for run in runs],
        "scores": scores.to_dict(),
        "gate": decide(findings, scores, runs, config.gate, diff),
        "summary": _summary(findings, runs),
        "findings": [_finding(item, diff.is_new(item) if diff is not None else None, lines) for item in findings],
        "unmapped_rule_ids": merged.unmapped,
        "unused_suppressions": merged.unused_suppressions,
    }
    if live is not None:
        card["live"] = live
    return card


def stackgrade_version() -> str:
    try:
        return metadata.version("stackgrade")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree never installed
        return "0+unknown"


def _order(item: MergedFinding) -> tuple:
    f = item.finding
    return (SEVERITIES.index(f.severity), f.stack, f.logical_id or "", f.rule_id, precedence(f.engine),
            item.own_stack, f.fingerprint)


def _stacks(assembly: Assembly) -> list[dict]:
    stacks = []
    for stack in assembly.stacks:
        if stack.nested:
            continue
        members = [s for s in assembly.stacks if s.top_level is stack]
        stacks.append({
            "name": stack.name,
            "resources": sum(len(s.resources) for s in members),
            "nested_stacks": [s.name for s in members if s is not stack],
        })
    return stacks


def _engine(run: EngineRun) -> dict:
    result = run.result if run.status == "ok" else None
    return {
        "name": run.name,
        "version": (result.version if result is not None and result.version else None) or run.version,
        "status": run.status,
        "seconds": round(run.seconds, 2),
        "cached": run.cached,
        "error": run.error,
        "findings": len(result.findings) if result is not None else None,
    }


def _finding(item: MergedFinding, new: bool | None, lines: TemplateLines) -> dict:
    data = item.finding.to_dict()
    data["suppression_source"] = item.suppressed_by
    data["fingerprints"] = list(item.fingerprints)
    if new is not None:
        data["new"] = new
    # Where the resource sits in the assembly, for reports that point at the template when there is no source
    # line: the nested stack it is in (``stack`` is the top-level one) and its line in that stack's template.
    if item.own_stack != item.finding.stack:
        data["nested_stack"] = item.own_stack
    line = lines.line(item.resource.stack, item.resource.logical_id) if item.resource is not None else None
    if line is not None:
        data["template_line"] = line
    return data


# A mapping key at the start of a line, JSON ("Key": {) or YAML (Key: / 'Key':).
_KEY_LINE = re.compile(r"""^(\s*)["']?([A-Za-z0-9_.:-]+)["']?\s*:""")


class TemplateLines:
    """The line of each resource's key in its template file, each file read once."""

    def __init__(self) -> None:
        self._by_path: dict[Path, dict[str, int]] = {}

    def line(self, stack: Stack, logical_id: str) -> int | None:
        if stack.path is None:
            return None
        if stack.path not in self._by_path:
            self._by_path[stack.path] = resource_lines(stack.path)
        return self._by_path[stack.path].get(logical_id)


def resource_lines(path: Path) -> dict[str, int]:
    """Logical ID -> 1-based line of its key under ``Resources`` in a JSON or block-style YAML template.

    A scan of the text, not a parse: template parsers drop line numbers. A layout it does not
    recognize (one-line JSON, flow-style YAML) gives no lines, and reports fall back to line 1.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    found: dict[str, int] = {}
    top = level = None
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        match = _KEY_LINE.match(line)
        if match is None:
            continue
        indent, key = len(match.group(1)), match.group(2)
        top = indent if top is None else top
        if indent <= top:
            inside, level = indent == top and key == "Resources", None
        elif inside:
            level = indent if level is None else level
            if indent == level:
                found.setdefault(key, number)
    return found


def _summary(findings: list[MergedFinding], runs: list[EngineRun]) -> dict:
    """Counts of the unsuppressed findings by severity, category and engine (the four static engines, any other
    that ran, e.g. live, and any other a finding names), and of the suppressed ones."""
    counted = [item.finding for item in findings if not item.finding.suppressed]
    engines = list(dict.fromkeys([*ENGINE_NAMES, *(run.name for run in runs)]))
    engines += sorted({e for f in counted for e in f.engines} - set(engines))
    return {
        "findings": len(counted),
        "by_severity": {s: sum(f.severity == s for f in counted) for s in SEVERITIES},
        "by_category": {c: sum(f.category == c for f in counted) for c in CATEGORIES},
        "by_engine": {e: sum(e in f.engines for f in counted) for e in engines},
        "suppressed": len(findings) - len(counted),
    }


# --- where the app and its templates sit in the repository -----------------------------------------


def work_tree_root(path: Path) -> Path | None:
    """The root of the git work tree holding ``path``: the nearest folder up with a ``.git`` (a folder, or the
    file a linked worktree or submodule has); None outside any."""
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    return None


def target_locations(sources: Path, assembly: Assembly) -> dict:
    """The scorecard's ``target.locations``: where the paths in the scorecard are relative to.

    ``sources`` is the folder the findings' ``source.file`` paths are relative to (the app directory).
    The result, every path POSIX and relative ("." for the folder itself, null when outside it):

    - ``templates``: each stack's template file (nested stacks by their own name), from the assembly folder
      (a lone template's folder);
    - ``sources_in_repo`` and ``templates_in_repo``: the sources folder and the assembly folder from the
      root of the git work tree that holds the sources (null, both, when there is none);
    - ``templates_in_sources``: the assembly folder from the sources folder.
    """
    sources = sources.resolve()
    folder = Path(assembly.source).resolve() if assembly.source is not None else sources
    folder = folder if folder.is_dir() else folder.parent
    root = work_tree_root(sources)
    return {
        "sources_in_repo": _relative(sources, root) if root is not None else None,
        "templates_in_repo": _relative(folder, root) if root is not None else None,
        "templates_in_sources": _relative(folder, sources),
        "templates": {stack.name: _relative(stack.path.resolve(), folder)
                      for stack in assembly.stacks if stack.path is not None},
    }


def _relative(path: Path, start: Path) -> str | None:
    """``path`` from ``start`` as a POSIX path; None when it is not inside ``start``."""
    try:
        return PurePath(path).relative_to(start).as_posix()
    except ValueError:
        return None


# --- files ---------------------------------------------------------------------------------------


def write_scorecard(scorecard: dict, path: Path) -> None:
    """Pretty JSON in the scorecard's own key order, written atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(scorecard, indent=2, ensure_ascii=False) + "\n"
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def read_scorecard(path: Path) -> dict:
    """A scorecard written by :func:`write_scorecard`; :class:`ScorecardError` when it is not one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScorecardError(f"{path} does not exist; write one with `stackgrade grade`") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScorecardError(f"cannot read {path}: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ScorecardError(f"{path} is not valid JSON ({error.msg}, line {error.lineno}); "
                             "is it a scorecard.json written by `stackgrade grade`?") from None
    check_scorecard(data, str(path))
    return data


def check_scorecard(data: object, origin: str) -> None:
    """:class:`ScorecardError` unless ``data`` has this schema and every top-level key."""
    if not isinstance(data, dict):
        raise ScorecardError(f"{origin} is not a stackgrade scorecard (not a JSON object)")
    schema = data.get("schema")
    if schema != SCHEMA:
        found = "has no schema" if schema is None else f"has schema {schema!r}"
        raise ScorecardError(f"{origin} is not a {SCHEMA} scorecard ({found}); "
                             "re-create it with this version's `stackgrade grade`")
    missing = [key for key in TOP_LEVEL_KEYS if key not in data]
    if missing:
        raise ScorecardError(f"{origin} lacks the scorecard keys {missing}; re-create it with `stackgrade grade`")
    problems = []
    if not isinstance(data["findings"], list) or not all(isinstance(f, dict) for f in data["findings"]):
        problems.append("findings is not a list of objects")
    scores = data["scores"] if isinstance(data["scores"], dict) else {}
    if not isinstance(scores.get("overall", ""), (int, float, type(None))):
        problems.append("scores.overall is not a number or null")
    if not isinstance(data["engines"], list):
        problems.append("engines is not a list")
    if "live" in data and not (isinstance(data["live"], dict) and isinstance(data["live"].get("probes"), list)):
        problems.append("live is not an object with a list of probes")
    if problems:
        raise ScorecardError(f"{origin} is a damaged scorecard: {'; '.join(problems)}; re-create it with "
                             "`stackgrade grade`")


def gate_exit_code(scorecard: dict) -> int:
    """0 when the gate passed, 2 when an engine errored, else 1 (the gate failed)."""
    if any(engine.get("status") == "error" for engine in scorecard.get("engines", [])):
        return 2
    return 0 if scorecard["gate"]["passed"] else 1
