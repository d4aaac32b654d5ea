"""The HTML report: one self-contained review page per scorecard, and an index comparing several.

Everything is rendered from ``scorecard.json`` alone by the Jinja2 templates in ``reports/templates/``
with autoescaping on. The charts are SVG laid out here from the numbers, so they read without
JavaScript; the inline script only sorts and filters tables and reads data from the DOM (text and
``data-*`` attributes), never from data spliced into the script. A Content-Security-Policy that
allows nothing but the page's own inline style and script (by hash) keeps the file from fetching anything.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from checks.finding import CATEGORIES, SEVERITIES
from checks.scorecard import check_scorecard
from reports import ReportError, finding_subject, plural

TEMPLATES = Path(__file__).parent / "templates"

SEVERITY_COLOUR = {"critical": "#b71c1c", "high": "#e65100", "medium": "#f2a900", "low": "#1e6fd9", "info": "#8a97a6"}
OTHER_COLOUR = "#8a97a6"  # a severity or grade the palette does not know
GRADE_COLOUR = {"A": "#1b7f3b", "B": "#4c8c2b", "C": "#8f8a12", "D": "#d9730d", "F": "#c62828"}
BEFORE_COLOUR = "#a3adb8"  # the baseline side of a side-by-side bar: grey, the "before"
IDEAL_COLOUR = "#0f766e"
DIFF_COLOUR = {"new": "#c62828", "fixed": "#1b7f3b", "unchanged": "#a3adb8"}
SUPPRESSION_SOURCE = {
    "engine": "engine (cdk-nag acknowledgement or checkov skip)",
    "metadata": "resource metadata (stackgrade suppress)",
    "config": "settings ([tool.stackgrade] suppressions)",
}

NEW_LIST_MAX = 50  # the new findings listed above the table, which marks every one of them
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.S)


class HtmlReportError(ReportError):
    """Arguments the HTML report cannot render; the message says what to pass instead."""


# --- charts -------------------------------------------------------------------------------------------------------

BAR_HEIGHT = 14
BAR_GAP = 3
GROUP_GAP = 9
PLOT_WIDTH = 300
VALUE_WIDTH = 92
LEGEND_HEIGHT = 22
AXIS_HEIGHT = 22
LABEL_MAX_CHARS = 34
CHAR_WIDTH = 7.2  # average width of a 12px sans-serif glyph (DejaVu Sans is wide), to size the label column


@dataclass(frozen=True)
class Part:
    """One stacked piece of a bar spec: a value, its colour and its tooltip."""

    value: float
    colour: str
    tooltip: str


@dataclass(frozen=True)
class BarSpec:
    """One bar before layout: its parts (None: not applicable), the text after it, its tooltip."""

    parts: tuple[Part, ...] | None
    text: str
    tooltip: str


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    colour: str
    tooltip: str


@dataclass(frozen=True)
class Bar:
    y: float
    segments: tuple[Segment, ...]
    text: str
    text_x: float
    tooltip: str
    missing: bool


@dataclass(frozen=True)
class Group:
    label: str  # as shown (shortened)
    full: str  # the whole label, for the tooltip
    y: float  # baseline of the label text
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart laid out in SVG user units."""

    id: str
    title: str
    description: str
    width: float
    height: float
    plot_x: float
    plot_width: float
    top: float
    bottom: float
    bar_height: float
    groups: tuple[Group, ...]
    ticks: tuple[tuple[float, str], ...]
    marker: tuple[float, str] | None
    legend: tuple[tuple[float, str, str], ...]  # (x, colour, text)


def _px(value: float) -> float:
    return round(value, 1)


def _shorten(label: str) -> str:
    return label if len(label) <= LABEL_MAX_CHARS else label[:LABEL_MAX_CHARS - 1] + "…"


def nice_maximum(largest: float) -> tuple[float, float]:
    """An axis end at or above ``largest`` and a tick step (1, 2 or 5 times a power of ten), about four ticks."""
    if largest <= 0:
        return 1, 1
    rough = largest / 4
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    step = max(step, 1)  # counts: never a fractional tick
    return math.ceil(largest / step) * step, step


def bar_chart(chart_id: str, title: str, description: str, groups: Sequence[tuple[str, Sequence[BarSpec]]],
              maximum: float, step: float, *, marker: tuple[float, str] | None = None,
              legend: Sequence[tuple[str, str]] = ()) -> Chart:
    """Lay out grouped (several bars per label) and stacked (several parts per bar) horizontal bars."""
    label_width = max(48.0, min(LABEL_MAX_CHARS, max((len(label) for label, _ in groups), default=0)) * CHAR_WIDTH)
    plot_x = _px(label_width + 14)
    top = LEGEND_HEIGHT if legend else 6
    scale = PLOT_WIDTH / maximum
    laid: list[Group] = []
    y = float(top)
    for label, specs in groups:
        bars = []
        for index, spec in enumerate(specs):
            bar_y = y + index * (BAR_HEIGHT + BAR_GAP)
            segments, x = [], plot_x
            for part in spec.parts or ():
                width = _px(part.value * scale)
                segments.append(Segment(_px(x), width, part.colour, part.tooltip))
                x += part.value * scale
            bars.append(Bar(_px(bar_y), tuple(s for s in segments if s.width > 0), spec.text, _px(x + 5),
                            spec.tooltip, spec.parts is None))
        height = len(specs) * BAR_HEIGHT + (len(specs) - 1) * BAR_GAP
        laid.append(Group(_shorten(label), label, _px(y + height / 2 + 4), tuple(bars)))
        y += height + GROUP_GAP
    bottom = y - GROUP_GAP + 4
    marker_x = plot_x + marker[0] * scale if marker else None
    ticks = tuple((_px(plot_x + value * scale), f"{value:g}") for value in _steps(maximum, step)
                  if marker_x is None or abs(plot_x + value * scale - marker_x) > 24)  # the marker's label is there
    legend_items, x = [], plot_x
    for colour, text in legend:
        legend_items.append((_px(x), colour, text))
        x += 18 + len(text) * CHAR_WIDTH + 14
    return Chart(chart_id, title, description, _px(plot_x + PLOT_WIDTH + VALUE_WIDTH), _px(bottom + AXIS_HEIGHT),
                 plot_x, PLOT_WIDTH, top - 3, _px(bottom), BAR_HEIGHT, tuple(laid), ticks,
                 (_px(marker_x), marker[1]) if marker else None, tuple(legend_items))


def _steps(maximum: float, step: float) -> Iterable[float]:
    count = round(maximum / step)
    return (step * i for i in range(count + 1))


# --- formatting ---------------------------------------------------------------------------------------------------


def score_text(value: object, grade: object = None) -> str:
    """``8.7`` (with `` B`` when a grade is given), or ``n/a``."""
    if not isinstance(value, (int, float)):
        return "n/a"
    return f"{value:.1f}" + (f" {grade}" if grade else "")


def grade_colour(grade: object) -> str:
    return GRADE_COLOUR.get(grade, OTHER_COLOUR) if isinstance(grade, str) else OTHER_COLOUR


def severity_rank(severity: object) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def prose(text: object) -> tuple[tuple[bool, str], ...]:
    """Guidance text as (is code, text) pieces: `code spans` become code, the rest stays text (both escaped later)."""
    if not text:
        return ()
    line = str(text)
    pieces: list[tuple[bool, str]] = []
    last = 0
    for match in _CODE_SPAN.finditer(line):
        if match.start() > last:
            pieces.append((False, line[last:match.start()]))
        pieces.append((True, match.group(2)))
        last = match.end()
    if last < len(line):
        pieces.append((False, line[last:]))
    return tuple(pieces)


def _dict(value: object) -> dict:
    """``value`` when it is a dict, else empty: check_scorecard vouches for the top level only."""
    return value if isinstance(value, dict) else {}


# --- the rows -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One finding as the tables show it."""

    severity: str
    rank: int
    rule_id: str
    title: str
    subject: str
    resource_type: str
    stack: str
    engines: tuple[str, ...]
    also: tuple[str, ...]
    category: str
    source: str
    source_sort: str
    message: str
    fix: tuple[tuple[bool, str], ...]
    new: bool
    suppressed: bool
    reason: str
    suppression_source: str
    fingerprint: str


def _row(finding: dict, prose_of: dict[str, tuple]) -> Row:
    severity = str(finding.get("severity") or "?")
    source = _dict(finding.get("source"))
    file, line = source.get("file"), source.get("line")
    remediation = str(finding.get("remediation") or "")
    if remediation not in prose_of:  # the same fix text repeats over many findings of one rule
        prose_of[remediation] = prose(remediation)
    by = finding.get("suppression_source")
    return Row(
        severity=severity,
        rank=severity_rank(severity),
        rule_id=str(finding.get("rule_id") or "?"),
        title=str(finding.get("title") or ""),
        subject=str(finding_subject({**finding, "stack": finding.get("stack") or "?"})),
        resource_type=str(finding.get("resource_type") or ""),
        stack=str(finding.get("stack") or "?"),
        engines=tuple(str(e) for e in finding.get("engines") or [finding.get("engine") or "?"]),
        also=tuple(str(a) for a in finding.get("also_reported_as") or ()),
        category=str(finding.get("category") or ""),
        source=(f"{file}:{line}" if line else str(file)) if file else "",
        source_sort=f"{file}:{int(line):09d}" if file and isinstance(line, int) else str(file or ""),
        message=str(finding.get("message") or ""),
        fix=prose_of[remediation],
        new=bool(finding.get("new")),
        suppressed=bool(finding.get("suppressed")),
        reason=str(finding.get("suppression_reason") or ""),
        suppression_source=SUPPRESSION_SOURCE.get(by, str(by)) if by else "",
        fingerprint=str(finding.get("fingerprint") or ""),
    )


def _ordered(known: Sequence[str], found: Iterable[str]) -> list[str]:
    """``known`` names that occur, in their order, then the others sorted."""
    found = set(found)
    return [name for name in known if name in found] + sorted(found - set(known))


# --- the single page ----------------------------------------------------------------------------------------------


def category_chart(scorecard: dict, baseline: dict | None) -> Chart:
    """Score per category (and overall), 0-10; beside the baseline's when one is given."""
    scores = _dict(scorecard["scores"])
    before = _dict(baseline["scores"]) if baseline is not None else None
    categories = _dict(scores.get("categories"))
    earlier = _dict(_dict(before).get("categories"))
    rows = [("overall", scores, before)] + [(name, _dict(categories.get(name)), _dict(earlier.get(name)))
                                            for name in _ordered(CATEGORIES, [*categories, *earlier])]
    groups = []
    for label, now, then in rows:
        key = "score" if label != "overall" else "overall"
        specs = []
        if before is not None:
            specs.append(_score_bar(f"{label}, baseline", then.get(key), then.get("grade"), BEFORE_COLOUR))
        specs.append(_score_bar(label, now.get(key), now.get("grade"), None))
        groups.append((label, specs))
    gate = _dict(scorecard["gate"])
    minimum = gate.get("min_score")
    legend = ((BEFORE_COLOUR, "baseline"), (GRADE_COLOUR["B"], "current (colour by grade)")) if before is not None else ()
    return bar_chart("chart-categories", "Score per category", "Scores from 0 to 10 per category and overall; "
                     "n/a where no resource of the category was examined.", groups, 10, 2,
                     marker=(minimum, f"min {minimum:g}") if isinstance(minimum, (int, float)) else None,
                     legend=legend)


def _score_bar(label: str, value: object, grade: object, colour: str | None) -> BarSpec:
    shown = score_text(value, grade)
    if not isinstance(value, (int, float)):
        return BarSpec(None, "n/a", f"{label}: n/a (nothing examined)")
    tooltip = f"{label}: {shown}"
    return BarSpec((Part(max(0.0, min(10.0, float(value))), colour or grade_colour(grade), tooltip),), shown, tooltip)


def severity_chart(counted: Sequence[Row], with_diff: bool) -> Chart:
    """Unsuppressed findings per severity; the new ones (against a baseline) as the darker part."""
    severities = list(SEVERITIES) + sorted({r.severity for r in counted} - set(SEVERITIES))
    groups, largest = [], 0
    for severity in severities:
        rows = [r for r in counted if r.severity == severity]
        new = sum(r.new for r in rows)
        colour = SEVERITY_COLOUR.get(severity, OTHER_COLOUR)
        label = f"{severity}: {plural(len(rows), 'finding')}" + (f" ({new:,} new)" if with_diff else "")
        parts = (Part(new, colour, f"{severity}: {new:,} new"),
                 Part(len(rows) - new, colour + "8c", f"{severity}: {len(rows) - new:,} not new")) if with_diff \
            else (Part(len(rows), colour, label),)
        groups.append((severity, [BarSpec(parts, f"{len(rows):,}" + (f" ({new:,} new)" if new else ""), label)]))
        largest = max(largest, len(rows))
    legend = (("#6b7785", "new"), ("#6b77858c", "not new")) if with_diff else ()
    return bar_chart("chart-severities", "Findings per severity", "Unsuppressed findings per severity"
                     + (", new against the baseline in the darker part." if with_diff else "."),
                     groups, *nice_maximum(largest), legend=legend)


def stack_chart(scorecard: dict, counted: Sequence[Row]) -> Chart:
    """Unsuppressed findings per stack, stacked by severity."""
    listed = [str(_dict(s).get("name")) for s in scorecard.get("stacks") or []]
    stacks = listed + sorted({r.stack for r in counted} - set(listed))
    by_stack: dict[str, list[Row]] = {name: [] for name in stacks}
    for row in counted:
        by_stack[row.stack].append(row)
    groups, largest = [], 0
    for name in stacks:
        rows = by_stack[name]
        parts = tuple(Part(n, SEVERITY_COLOUR.get(s, OTHER_COLOUR), f"{name}: {n:,} {s}")
                      for s in _ordered(SEVERITIES, [r.severity for r in rows])
                      if (n := sum(r.severity == s for r in rows)))
        groups.append((name, [BarSpec(parts, f"{len(rows):,}", f"{name}: {plural(len(rows), 'finding')}")]))
        largest = max(largest, len(rows))
    legend = tuple((SEVERITY_COLOUR[s], s) for s in SEVERITIES)
    return bar_chart("chart-stacks", "Findings per stack", "Unsuppressed findings per stack, by severity.",
                     groups, *nice_maximum(largest), legend=legend)


def diff_chart(diff: dict) -> Chart:
    """New, fixed and unchanged findings against the baseline."""
    groups, largest = [], 0
    for kind in ("new", "fixed", "unchanged"):
        count = int(_dict(diff.get(kind)).get("count") or 0)
        tooltip = f"{kind}: {plural(count, 'finding')}"
        groups.append((kind, [BarSpec((Part(count, DIFF_COLOUR[kind], tooltip),), f"{count:,}", tooltip)]))
        largest = max(largest, count)
    return bar_chart("chart-diff", "Against the baseline", "Findings new since the baseline, fixed since it, "
                     "and unchanged.", groups, *nice_maximum(largest))


def _diff(scorecard: dict, baseline: dict | None, rows: Sequence[Row]) -> dict | None:
    """The baseline comparison: counts, the new findings (suppressed ones too, as the gate counts them), the fixed
    ones named from the baseline scorecard when given."""
    gate = _dict(scorecard["gate"])
    diff = gate.get("baseline")
    if not diff:
        return None
    diff = _dict(diff)
    new = [r for r in rows if r.new]
    known: dict[str, dict] = {}
    for finding in (baseline or {}).get("findings") or []:
        for fingerprint in finding.get("fingerprints") or [finding.get("fingerprint")]:
            known.setdefault(fingerprint, finding)
    prose_of: dict[str, tuple] = {}
    fixed = [(fp, _row(known[fp], prose_of) if fp in known else None)
             for fp in _dict(diff.get("fixed")).get("fingerprints") or []]
    fixed.sort(key=lambda item: item[1].rank if item[1] is not None else len(SEVERITIES) + 1)  # stable
    return {
        "path": diff.get("path"),
        "score": score_text(diff.get("score")),
        "counts": {kind: int(_dict(diff.get(kind)).get("count") or 0) for kind in ("new", "fixed", "unchanged")},
        "new": new[:NEW_LIST_MAX],
        "new_more": max(0, len(new) - NEW_LIST_MAX),
        "fixed": fixed,
        "named": baseline is not None,
        "chart": diff_chart(diff),
    }


def _engines(scorecard: dict) -> list[dict]:
    engines = []
    for engine in scorecard["engines"]:
        engine = _dict(engine)
        seconds = engine.get("seconds")
        engines.append({
            "name": str(engine.get("name") or "?"),
            "status": str(engine.get("status") or "?"),
            "version": str(engine.get("version") or "–"),
            "seconds": f"{float(seconds):.2f}" if isinstance(seconds, (int, float)) else "–",
            "seconds_sort": float(seconds) if isinstance(seconds, (int, float)) else -1,
            "cached": "yes" if engine.get("cached") else "no",
            "findings": f"{engine['findings']:,}" if isinstance(engine.get("findings"), int) else "–",
            "findings_sort": engine["findings"] if isinstance(engine.get("findings"), int) else -1,
            "error": str(engine.get("error") or ""),
        })
    return engines


PROBE_STATUS = {"pass": "ok", "fail": "error", "not-emulated": "skipped"}  # the engines' status colours


def _live(scorecard: dict) -> dict | None:
    """The live section as the page shows it: endpoint, counts, timings, resources not emulated, every probe."""
    if not isinstance(scorecard.get("live"), dict):
        return None
    live = scorecard["live"]
    endpoint = _dict(live.get("endpoint"))
    probes = [_dict(p) for p in live.get("probes") or []]
    order = {"fail": 0, "not-emulated": 1, "pass": 2}
    return {
        "about": " ".join(str(x) for x in ("LocalStack", endpoint.get("localstack_version"), endpoint.get("kind"),
                                           endpoint.get("url")) if x),
        "error": str(live["error"]) if live.get("status") == "error" else None,
        "counts": {key: int(_dict(live.get("summary")).get(key) or 0) for key in ("pass", "fail", "not-emulated")},
        "timings": [(str(key), f"{float(value):.1f} s") for key, value in _dict(live.get("timings")).items()
                    if isinstance(value, (int, float))],
        "not_emulated": [{"resource": f"{_dict(stack).get('name')}/{_dict(item).get('resource')}",
                          "type": str(_dict(item).get("type") or ""), "reason": str(_dict(item).get("reason") or "")}
                         for stack in live.get("stacks") or [] for item in _dict(stack).get("not_emulated") or []],
        "probes": [{"result": str(p.get("result") or "?"), "status": PROBE_STATUS.get(str(p.get("result")), "skipped"),
                    "rank": order.get(str(p.get("result")), 3), "kind": str(p.get("kind") or ""),
                    "resource": "/".join(str(x) for x in (p.get("stack"), p.get("resource")) if x),
                    "rule_id": str(p.get("rule_id") or ""), "detail": str(p.get("detail") or ""),
                    "seconds": f"{float(p.get('seconds') or 0):.1f}"}
                   for p in sorted(probes, key=lambda p: order.get(str(p.get("result")), 3))],
    }


def _target(scorecard: dict) -> dict:
    target = _dict(scorecard["target"])
    kind = str(target.get("kind") or "")
    if kind == "reference":
        about = f"reference system {target.get('system')}, {target.get('variant')} variant"
    else:
        about = " ".join(str(x) for x in (kind, target.get("path") or target.get("assembly") or "") if x)
    return {"name": str(target.get("name") or "unnamed target"), "about": about}


def _filters(rows: Sequence[Row], with_new: bool) -> dict:
    return {
        "severities": _ordered(SEVERITIES, [r.severity for r in rows]),
        "categories": _ordered(CATEGORIES, [r.category for r in rows]),
        "engines": _ordered(("stackgrade", "cdk-nag", "checkov", "cfn-guard"), [e for r in rows for e in r.engines]),
        "new": with_new,
    }


def page_model(scorecard: dict, baseline: dict | None = None) -> dict:
    """Everything the single-page template shows, computed from the scorecard."""
    prose_of: dict[str, tuple] = {}
    rows = [_row(f, prose_of) for f in scorecard["findings"]]
    counted = [r for r in rows if not r.suppressed]
    suppressed = [r for r in rows if r.suppressed]
    scores = _dict(scorecard["scores"])
    gate = _dict(scorecard["gate"])
    diff = _diff(scorecard, baseline, rows)
    engines = _engines(scorecard)
    unmapped = _dict(scorecard.get("unmapped_rule_ids"))
    charts = [category_chart(scorecard, baseline), severity_chart(counted, diff is not None),
              stack_chart(scorecard, counted)]
    return {
        "target": _target(scorecard),
        "score": score_text(scores.get("overall")),
        "grade": str(scores.get("grade") or "–"),
        "passed": bool(gate.get("passed")),
        "reasons": [str(r) for r in gate.get("reasons") or []],
        "min_score": gate.get("min_score"),
        "fail_on": [str(s) for s in gate.get("fail_on") or []],
        "totals": {"findings": len(counted), "suppressed": len(suppressed),
                   "engines_ok": sum(e["status"] == "ok" for e in engines), "engines": len(engines),
                   "resources": scores.get("resources"), "stacks": len(scorecard.get("stacks") or [])},
        "charts": charts,
        "diff": diff,
        "engines": engines,
        "rows": counted,
        "suppressed": suppressed,
        "filters": _filters(counted, diff is not None),
        "unused": [{k: str(u.get(k) if u.get(k) is not None else "*") for k in ("rule", "resource", "stack")}
                   | {"reason": str(u.get("reason") or "")}
                   for u in map(_dict, scorecard.get("unused_suppressions") or [])],
        "unmapped": [(str(engine), [str(i) for i in ids]) for engine, ids in sorted(unmapped.items()) if ids],
        "live": _live(scorecard),
        "footer": _footer(scorecard),
    }


def _footer(scorecard: dict) -> str:
    return (f"stackgrade {scorecard.get('stackgrade_version', '?')} · {scorecard.get('schema')} · "
            f"generated {scorecard.get('generated_at') or '?'}")


# --- the index ----------------------------------------------------------------------------------------------------


def _relative_link(index: int, href: object) -> str | None:
    if href is None:
        return None
    if not isinstance(href, str) or not href or href.startswith(("/", "\\")) or urlsplit(href).scheme \
            or urlsplit(href).netloc:
        raise HtmlReportError(f"links[{index}] {href!r} is not a relative link; give the path of the target's page "
                              "relative to the index, e.g. 'payments_dr-ideal/scorecard.html', or None")
    return href


def _index_row(scorecard: dict, href: str | None) -> dict:
    scores = _dict(scorecard["scores"])
    gate = _dict(scorecard["gate"])
    target = _dict(scorecard["target"])
    findings = scorecard["findings"]
    counted = [f for f in findings if not f.get("suppressed")]
    overall = scores.get("overall")
    return {
        "name": str(target.get("name") or "unnamed target"),
        "href": href,
        "reference": target.get("kind") == "reference",
        "system": str(target.get("system") or "") if target.get("kind") == "reference" else "",
        "variant": str(target.get("variant") or "") if target.get("kind") == "reference" else "",
        "kind": str(target.get("kind") or ""),
        "overall": overall if isinstance(overall, (int, float)) else None,
        "score": score_text(overall),
        "score_sort": overall if isinstance(overall, (int, float)) else -1,
        "grade": str(scores.get("grade") or "–"),
        "passed": bool(gate.get("passed")),
        "reasons": [str(r) for r in gate.get("reasons") or []],
        "min_score": gate.get("min_score"),
        "severities": [(s, sum(f.get("severity") == s for f in counted)) for s in SEVERITIES],
        "findings": len(counted),
        "suppressed": len(findings) - len(counted),
        "engines_not_ok": [f"{e.get('name')} ({e.get('status')})" for e in map(_dict, scorecard["engines"])
                           if e.get("status") != "ok"],
        "scores": scores,
    }


def overall_chart(rows: Sequence[dict]) -> Chart:
    minimums = {r["min_score"] for r in rows if isinstance(r["min_score"], (int, float))}
    minimum = minimums.pop() if len(minimums) == 1 else None
    groups = [(r["name"], [_verdict_bar(r)]) for r in rows]
    return bar_chart("chart-overall", "Overall score per target", "Overall score from 0 to 10 per target, "
                     "coloured by grade; the text says whether the gate passed.", groups, 10, 2,
                     marker=(minimum, f"min {minimum:g}") if minimum is not None else None)


def _verdict_bar(row: dict) -> BarSpec:
    verdict = "pass" if row["passed"] else "FAIL"
    spec = _score_bar(row["name"], row["overall"], row["grade"] if row["grade"] != "–" else None, None)
    tooltip = f"{spec.tooltip}, gate {verdict}"
    parts = tuple(replace(part, tooltip=tooltip) for part in spec.parts) if spec.parts else None
    return BarSpec(parts, f"{spec.text} · {verdict}", tooltip)


def findings_chart(rows: Sequence[dict]) -> Chart:
    groups, largest = [], 0
    for row in rows:
        parts = tuple(Part(n, SEVERITY_COLOUR[s], f"{row['name']}: {n:,} {s}") for s, n in row["severities"] if n)
        groups.append((row["name"], [BarSpec(parts, f"{row['findings']:,}",
                                             f"{row['name']}: {plural(row['findings'], 'unsuppressed finding')}")]))
        largest = max(largest, row["findings"])
    return bar_chart("chart-findings", "Findings per target", "Unsuppressed findings per target, by severity.",
                     groups, *nice_maximum(largest), legend=tuple((SEVERITY_COLOUR[s], s) for s in SEVERITIES))


def reference_charts(rows: Sequence[dict]) -> list[dict]:
    """Per reference system: baseline and ideal side by side, overall and per category; links to their pages."""
    systems: dict[str, dict[str, dict]] = {}
    for row in rows:
        if row["reference"]:
            systems.setdefault(row["system"], {}).setdefault(row["variant"], row)
    charts = []
    for number, (system, variants) in enumerate(systems.items()):
        order = [v for v in ("baseline", "ideal") if v in variants] + sorted(set(variants) - {"baseline", "ideal"})
        colours = {v: (BEFORE_COLOUR if v == "baseline" else IDEAL_COLOUR if v == "ideal" else OTHER_COLOUR)
                   for v in order}
        categories = _ordered(CATEGORIES, [c for v in order for c in _dict(variants[v]["scores"].get("categories"))])
        groups = []
        for label in ["overall", *categories]:
            specs = []
            for variant in order:
                scores = variants[variant]["scores"]
                item = scores if label == "overall" else _dict(_dict(scores.get("categories")).get(label))
                value = item.get("score" if label != "overall" else "overall")
                specs.append(_score_bar(f"{label}, {variant}", value, item.get("grade"), colours[variant]))
            groups.append((label, specs))
        chart = bar_chart(f"chart-system-{number}", system, f"{system}: scores of the {' and '.join(order)} "
                          "variants side by side, overall and per category.", groups, 10, 2,
                          legend=tuple((colours[v], v) for v in order))
        charts.append({"chart": chart, "links": [(v, variants[v]["href"]) for v in order if variants[v]["href"]]})
    return charts


# --- rendering ----------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def environment() -> Environment:
    """Autoescaping on for every template; undefined names are errors, not empty strings."""
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


@lru_cache(maxsize=None)
def asset(name: str) -> tuple[Markup, str]:
    """A static stylesheet or script from the templates folder, and its CSP hash source."""
    text, _, _ = environment().loader.get_source(environment(), name)
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return Markup(text), f"'sha256-{digest}'"  # noqa: S704 - our own static file, never data


def _render(template: str, **context: object) -> str:
    style, style_hash = asset("report.css")
    script, script_hash = asset("report.js")
    return environment().get_template(template).render(style=style, style_hash=style_hash, script=script,
                                                        script_hash=script_hash, **context)


def render_html(scorecard: dict, baseline: dict | None = None) -> str:
    """One target's review page; ``baseline`` (the scorecard it was gated against) names the fixed findings and
    puts the baseline's scores beside the current ones."""
    check_scorecard(scorecard, "the scorecard")
    if baseline is not None:
        check_scorecard(baseline, "the baseline scorecard")
    return _render("scorecard.html.j2", page=page_model(scorecard, baseline))


def render_index(scorecards: Sequence[dict], links: Sequence[str | None] | None = None) -> str:
    """One page comparing ``scorecards``; ``links[i]`` is the relative href of scorecard i's page (or None)."""
    if links is not None and len(links) != len(scorecards):
        raise HtmlReportError(f"{len(links)} links for {len(scorecards)} scorecards; give one link (or None) "
                              "per scorecard")
    for number, card in enumerate(scorecards):
        name = _dict(_dict(card).get("target")).get("name")
        check_scorecard(card, f"scorecard {number}" + (f" ({name})" if name else ""))
    hrefs = [_relative_link(i, href) for i, href in enumerate(links)] if links is not None else [None] * len(scorecards)
    rows = [_index_row(card, href) for card, href in zip(scorecards, hrefs)]
    return _render("index.html.j2", rows=rows, charts=[overall_chart(rows), findings_chart(rows)],
                   reference=reference_charts(rows), footer=_index_footer(scorecards))


def _index_footer(scorecards: Sequence[dict]) -> str:
    versions = sorted({str(c.get("stackgrade_version", "?")) for c in scorecards})
    stamps = sorted(str(c.get("generated_at")) for c in scorecards if c.get("generated_at"))
    when = f" · generated {stamps[0]}" + (f" to {stamps[-1]}" if stamps[-1] != stamps[0] else "") if stamps else ""
    return f"stackgrade {', '.join(versions) or '?'} · {plural(len(scorecards), 'scorecard')}{when}"
