"""The Markdown report: a pull-request comment rendered from ``scorecard.json`` alone.

It starts with :data:`MARKER`, an HTML comment GitHub does not show, by which a workflow finds its own
comment to update. Order: verdict and score first, the gate's reasons, per-category scores, the baseline diff (when the
scorecard has one), unsuppressed findings by severity, suppressed findings, engines. Everything that can
grow with the app is budgeted so the comment stays under GitHub's 65,536-character limit; what does not
fit is counted ("… and 1,234 more medium findings"). :func:`render_markdown_combined` puts several targets in
one comment: a summary table, then each target's report in its share of the budget. Every string that may
come from a template or an app is escaped, so a resource named ``<script>`` or containing ``|`` renders as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from checks.finding import CATEGORIES, SEVERITIES
from reports import ReportError, finding_subject, plural

GITHUB_COMMENT_LIMIT = 65_536
MARKER = "<!-- stackgrade -->"  # the first line of every report: how a workflow finds the comment it posted
# Room left under GitHub's limit for what a workflow wraps around the report (a marker comment, a title).
DEFAULT_MAX_CHARS = 60_000
OPEN_GROUP_MAX = 10  # a severity group with more findings than this is collapsed in <details>
DIFF_LIST_MAX = 50  # new / fixed lists repeat the findings below, so they stay short
SEVERITY_ICON = {"critical": "🟥", "high": "🟧", "medium": "🟨", "low": "🟦", "info": "⬜"}

# Backslash escapes stop Markdown and inline HTML (a `\<` never opens a tag), `&` entities, and table cells;
# with `[` and `!` escaped no link or image can form, so parentheses stay readable.
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#!|~&])")
# At the start of a line these would open a list, a heading underline or an ordered list item.
_LINE_START = re.compile(r"^([-+=]|\d+[.)])")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
_NEWLINES = re.compile(r"\s*[\r\n]+\s*")


class MarkdownError(ReportError):
    """A scorecard the Markdown report cannot render."""


# --- escaping -----------------------------------------------------------------------------------------------------


def escape(text: object) -> str:
    """Plain text for Markdown: one line, every Markdown/HTML metacharacter backslash-escaped."""
    return _SPECIAL.sub(r"\\\1", _NEWLINES.sub(" ", str(text)))


def line_start(markdown: str) -> str:
    """Markdown that may begin a line: a leading list marker or digits-and-dot become literal text."""
    match = _LINE_START.match(markdown)
    return markdown if match is None else f"{match.group(1)[:-1]}\\{match.group(1)[-1]}{markdown[match.end():]}"


def prose(text: object) -> str:
    """Text that may carry `code spans` (rule guidance): the spans stay code, everything else is escaped."""
    line = _NEWLINES.sub(" ", str(text))
    parts, last = [], 0
    for match in _CODE_SPAN.finditer(line):
        parts.append(escape(line[last:match.start()]))
        parts.append(code(match.group(2)))
        last = match.end()
    parts.append(escape(line[last:]))
    return "".join(parts)


def code(text: object) -> str:
    """A code span that holds any text: the fence is longer than any backtick run inside it."""
    body = _NEWLINES.sub(" ", str(text))
    fence = "`" * (max((len(run) for run in re.findall(r"`+", body)), default=0) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def cell(markdown: str) -> str:
    """Markdown for a table cell: GFM splits cells on every `|`, even inside code spans, unless escaped."""
    return re.sub(r"(?<!\\)\|", r"\\|", markdown)


# --- the pieces ---------------------------------------------------------------------------------------------------


def _score(value: object, grade: object) -> str:
    return "n/a" if value is None else f"{value}/10 ({grade})"


def verdict_line(scorecard: dict) -> str:
    """``**stackgrade: FAIL** · 4.2/10 (F) · target``."""
    scores, gate = scorecard["scores"], scorecard["gate"]
    verdict = "pass" if gate["passed"] else "FAIL"
    name = (scorecard.get("target") or {}).get("name")
    return f"**stackgrade: {verdict}** · {_score(scores.get('overall'), scores.get('grade'))}" + \
        (f" · {escape(name)}" if name else "")


def gate_section(gate: dict) -> str:
    reasons = gate.get("reasons") or []
    if not reasons:
        return "The gate passed."
    heading = "The gate passed" if gate["passed"] else "The gate failed"
    return f"{heading}:\n\n" + "\n".join(f"- {escape(reason)}" for reason in reasons)


def category_table(scores: dict) -> str:
    rows = ["| category | score | grade | resources | penalty | findings |", "|---|--:|:-:|--:|--:|--:|"]
    categories = scores.get("categories") or {}
    for name in [*(c for c in CATEGORIES if c in categories), *sorted(set(categories) - set(CATEGORIES))]:
        item = categories[name]
        score = "n/a" if item.get("score") is None else item["score"]
        rows.append(f"| {escape(name)} | {score} | {item.get('grade') or '–'} | {item.get('resources', 0)} | "
                    f"{item.get('penalty', 0)} | {item.get('findings', 0)} |")
    overall = "n/a" if scores.get("overall") is None else scores["overall"]
    rows.append(f"| **overall** | **{overall}** | **{scores.get('grade') or '–'}** | {scores.get('resources', 0)} | "
                f"{scores.get('penalty', 0)} | {scores.get('findings', 0)} |")
    return "\n".join(rows)


def engine_table(engines: Sequence[dict]) -> str:
    rows = ["| engine | version | status | seconds | findings | error |", "|---|---|---|--:|--:|---|"]
    for engine in engines:
        seconds = "cached" if engine.get("cached") else f"{float(engine.get('seconds') or 0):.1f}"
        findings = "–" if engine.get("findings") is None else engine["findings"]
        error = cell(escape(engine["error"])) if engine.get("error") else ""
        rows.append(f"| {cell(escape(engine.get('name', '?')))} | {cell(escape(engine.get('version') or '–'))} | "
                    f"{cell(escape(engine.get('status', '?')))} | {seconds} | {findings} | {error} |")
    return "\n".join(rows)


def resource(finding: dict) -> str:
    """The construct path, else ``stack/logical id``, else the stack itself."""
    subject = code(finding_subject(finding))
    return subject if finding.get("construct_path") or finding.get("logical_id") else f"{subject} (the stack)"


def _rule(finding: dict) -> str:
    title = finding.get("title")
    return f"**{escape(finding.get('rule_id'))}**" + (f" {prose(title)}" if title else "")


def finding_item(finding: dict) -> str:
    """One list item: rule and title, resource, what is wrong, engines and source, the fix."""
    head = f"- {_rule(finding)} · {resource(finding)}"
    if finding.get("new"):
        head += " · **new**"
    details = [prose(finding["message"])] if finding.get("message") else []
    engines = ", ".join(escape(e) for e in finding.get("engines") or [finding.get("engine")])
    also = finding.get("also_reported_as") or []
    details.append(f"engines: {engines}" + (f" (also {', '.join(code(a) for a in also)})" if also else ""))
    source = finding.get("source")
    if source and source.get("file"):
        details.append("source: " + code(f"{source['file']}:{source['line']}" if source.get("line") else source["file"]))
    lines = [head, "  " + line_start(" · ".join(details))]
    if finding.get("remediation"):
        lines.append(f"  **Fix:** {prose(finding['remediation'])}")
    return "\n".join(lines)


def suppressed_item(finding: dict) -> str:
    reason = finding.get("suppression_reason")
    why = f"reason: {prose(reason)}" if reason else "**no reason given** (itself a finding, SG-SUP-001)"
    by = finding.get("suppression_source")
    return f"- {_rule(finding)} · {resource(finding)} · {why}" + (f" · by {escape(by)}" if by else "")


def diff_item(finding: dict) -> str:
    return f"- {finding.get('severity')} {_rule(finding)} · {resource(finding)}"


def fixed_item(fingerprint: str, known: dict[str, dict]) -> str:
    finding = known.get(fingerprint)
    if finding is None:
        return f"- {code(fingerprint)}"
    return f"- {code(fingerprint)} {finding.get('severity')} {_rule(finding)} · {resource(finding)}"


# --- budgeted assembly ------------------------------------------------------------------------------------------


class Budget:
    """Characters left for the parts that grow with the app."""

    NOTE_ROOM = 120  # room always kept for one "… and N more" line

    def __init__(self, chars: int) -> None:
        self.left = chars

    def take(self, items: Iterable[str], total: int, noun: str) -> list[str]:
        """As many items as fit (each with its newline), then a line counting the rest."""
        taken: list[str] = []
        for item in items:
            if len(item) + 1 + self.NOTE_ROOM > self.left:
                break
            taken.append(item)
            self.left -= len(item) + 1
        if len(taken) < total:
            note = f"- … and {total - len(taken):,} more {noun}"
            taken.append(note)
            self.left -= len(note) + 1
        return taken

    def spend(self, text: str) -> str:
        self.left -= len(text) + 2
        return text


def _group(title: str, items: list[str], collapse: bool) -> str:
    body = "\n".join(items)
    if not collapse:
        return f"{title}\n\n{body}"
    # A blank line after <summary> lets GitHub render the Markdown inside <details>.
    return f"<details><summary>{title}</summary>\n\n{body}\n\n</details>"


def baseline_section(scorecard: dict, budget: Budget, known: dict[str, dict]) -> list[str]:
    diff = scorecard["gate"]["baseline"]
    new, fixed = diff.get("new") or {}, diff.get("fixed") or {}
    unchanged = (diff.get("unchanged") or {}).get("count", 0)
    against = f"baseline score {'n/a' if diff.get('score') is None else diff['score']}"
    if diff.get("path"):
        against += f", {code(diff['path'])}"
    parts = [budget.spend(f"### Against the baseline\n\n**{new.get('count', 0):,} new** · **{fixed.get('count', 0):,} "
                          f"fixed** · {unchanged:,} unchanged ({against})")]
    new_findings = [f for f in scorecard["findings"] if f.get("new")]
    if new_findings:
        items = budget.take((diff_item(f) for f in new_findings[:DIFF_LIST_MAX]), len(new_findings), "new findings")
        parts.append(budget.spend(_group(f"New ({len(new_findings):,}):", items, collapse=False)))
    prints = list(fixed.get("fingerprints") or [])
    if prints:
        items = budget.take((fixed_item(fp, known) for fp in prints[:DIFF_LIST_MAX]), len(prints), "fixed findings")
        parts.append(budget.spend(_group(f"Fixed ({len(prints):,}, by fingerprint):", items, collapse=True)))
    return parts


def severity_sections(findings: Sequence[dict], budget: Budget) -> list[str]:
    parts = []
    for severity in SEVERITIES:
        group = [f for f in findings if f.get("severity") == severity]
        if not group:
            continue
        title = f"{SEVERITY_ICON[severity]} {severity.capitalize()} ({len(group):,})"
        items = budget.take((finding_item(f) for f in group), len(group), f"{severity} findings")
        collapse = len(group) > OPEN_GROUP_MAX
        parts.append(budget.spend(_group(title if collapse else f"#### {title}", items, collapse)))
    return parts


def render_markdown(scorecard: dict, *, baseline: dict | None = None, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The report as Markdown; ``baseline`` (the earlier scorecard) names the fixed findings, else fingerprints."""
    return f"{MARKER}\n{_report(scorecard, baseline, max_chars - len(MARKER) - 1)}"


def _report(scorecard: dict, baseline: dict | None, max_chars: int) -> str:
    _check(scorecard)
    findings = scorecard["findings"]
    counted = [f for f in findings if not f.get("suppressed")]
    suppressed = [f for f in findings if f.get("suppressed")]
    head = [verdict_line(scorecard), gate_section(scorecard["gate"]), "### Scores", category_table(scorecard["scores"])]
    tail = ["### Engines", engine_table(scorecard.get("engines") or []), _footer(scorecard)]
    fixed = "\n\n".join(head + tail)
    if len(fixed) > max_chars:
        raise MarkdownError(f"max_chars {max_chars:,} leaves no room for the findings (the fixed parts need "
                            f"{len(fixed):,}); raise it")
    budget = Budget(max_chars - len(fixed) - 2)
    middle: list[str] = []
    if scorecard["gate"].get("baseline"):
        known = {fp: f for f in (baseline or {}).get("findings", []) for fp in f.get("fingerprints") or []}
        middle += baseline_section(scorecard, budget, known)
    middle.append(budget.spend(f"### Findings ({plural(len(counted), 'unsuppressed finding')})" if counted
                               else "### Findings\n\nNo unsuppressed findings."))
    middle += severity_sections(counted, budget)
    if suppressed:
        items = budget.take((suppressed_item(f) for f in suppressed), len(suppressed), "suppressed findings")
        middle.append(budget.spend(_group(f"Suppressed ({len(suppressed):,})", items, collapse=True)))
    if scorecard.get("live"):
        middle += live_section(scorecard["live"], budget)
    middle += _notes(scorecard, budget)
    return "\n\n".join(head + middle + tail) + "\n"


def live_section(live: dict, budget: Budget) -> list[str]:
    """The live verification: endpoint, counts and timings, then the failed probes, the resources not emulated
    and every probe (the last two collapsed)."""
    endpoint = live.get("endpoint") or {}
    about = " ".join(str(x) for x in ("LocalStack", endpoint.get("localstack_version"), endpoint.get("kind")) if x)
    parts = [budget.spend(f"### Live verification ({escape(about)})")]
    if live.get("status") == "error":
        parts.append(budget.spend(f"The live step failed: {escape(live.get('error') or 'no reason given')}"))
    probes = [p for p in live.get("probes") or [] if isinstance(p, dict)]
    counts = live.get("summary") or {}
    timings = ", ".join(f"{escape(key)} {float(value):.1f} s" for key, value in (live.get("timings") or {}).items()
                        if isinstance(value, (int, float)))
    parts.append(budget.spend(f"**{counts.get('pass', 0):,} passed** · **{counts.get('fail', 0):,} failed** · "
                              f"{counts.get('not-emulated', 0):,} not emulated" + (f" · {timings}" if timings else "")))
    failed = [p for p in probes if p.get("result") == "fail"]
    if failed:
        items = budget.take((f"- {_probe(p)}" for p in failed), len(failed), "failed probes")
        parts.append(budget.spend(_group(f"Failed probes ({len(failed):,}):", items, collapse=False)))
    absent = [(f"{stack.get('name')}/{item.get('resource')}", item) for stack in live.get("stacks") or []
              for item in stack.get("not_emulated") or []]
    if absent:
        items = budget.take((f"- {code(path)} ({escape(item.get('type'))}): {escape(item.get('reason') or '')}"
                             for path, item in absent), len(absent), "resources not emulated")
        parts.append(budget.spend(_group(f"Not emulated ({len(absent):,}), never counted as passed", items, True)))
    if probes:
        rows = ["| result | kind | resource | detail | s |", "|---|---|---|---|--:|"]
        rows += budget.take((f"| {escape(p.get('result'))} | {cell(escape(p.get('kind')))} | "
                             f"{cell(code(_probe_subject(p)))} | {cell(escape(p.get('detail') or ''))} | "
                             f"{float(p.get('seconds') or 0):.1f} |" for p in probes), len(probes), "probes")
        parts.append(budget.spend(_group(f"All probes ({len(probes):,})", rows, collapse=True)))
    return parts


def _probe_subject(probe: dict) -> str:
    return "/".join(str(x) for x in (probe.get("stack"), probe.get("resource")) if x)


def _probe(probe: dict) -> str:
    rule = f" ({escape(probe['rule_id'])})" if probe.get("rule_id") else ""
    return f"{code(_probe_subject(probe))} {escape(probe.get('kind'))}{rule}: {escape(probe.get('detail') or '')}"


# --- several targets in one comment -------------------------------------------------------------------------------


def render_markdown_combined(scorecards: Sequence[dict], *, baselines: Sequence[dict | None] | None = None,
                             max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """One comment for several targets: the overall verdict, a table with a row per target (gate, score, new and
    fixed findings), then each target's report. The budget left after the table is shared: each report gets an
    equal part of what is left when its turn comes, so room a short report leaves goes to the ones after it.
    ``baselines`` (one per scorecard, or None) name each target's fixed findings."""
    if not scorecards:
        raise MarkdownError("no scorecards to report on; give at least one")
    baselines = list(baselines) if baselines is not None else [None] * len(scorecards)
    if len(baselines) != len(scorecards):
        raise MarkdownError(f"{len(baselines)} baselines for {len(scorecards)} scorecards; give one (or None) each")
    for card in scorecards:
        _check(card)
    head = "\n\n".join([MARKER + "\n" + combined_verdict(scorecards), summary_table(scorecards)])
    separator = "\n\n---\n\n"
    left = max_chars - len(head) - 1
    parts = [head]
    for position, (card, baseline) in enumerate(zip(scorecards, baselines)):
        share = left // (len(scorecards) - position) - len(separator)
        heading = f"## {escape(_name(card))}\n\n"
        try:
            section = heading + _report(card, baseline, share - len(heading))
        except MarkdownError:
            # Too many targets for the limit: the row in the table stays, with a pointer to the full report.
            section = f"{heading}{verdict_line(card)}\n\nLeft out for the comment's size; see this target's " \
                      "scorecard.md or scorecard.html.\n"
            if len(section) > share:
                raise MarkdownError(f"max_chars {max_chars:,} has no room for {len(scorecards)} targets; raise it "
                                    "or report fewer targets at once") from None
        parts.append(section)
        left -= len(section) + len(separator)
    return separator.join(parts)


def combined_verdict(scorecards: Sequence[dict]) -> str:
    """``**stackgrade: FAIL** · 2 of 5 targets failed the gate``."""
    failed = sum(not card["gate"]["passed"] for card in scorecards)
    if failed:
        return f"**stackgrade: FAIL** · {failed} of {plural(len(scorecards), 'target')} failed the gate"
    return f"**stackgrade: pass** · {'the target' if len(scorecards) == 1 else f'all {len(scorecards)} targets'} " \
           "passed the gate"


def summary_table(scorecards: Sequence[dict]) -> str:
    """A row per target: gate verdict, score, new and fixed findings against its baseline, unsuppressed findings."""
    rows = ["| target | gate | score | new | fixed | findings |", "|---|:-:|--:|--:|--:|--:|"]
    for card in scorecards:
        scores, gate = card["scores"], card["gate"]
        diff = gate.get("baseline")
        new = (diff.get("new") or {}).get("count", 0) if diff else None
        fixed = (diff.get("fixed") or {}).get("count", 0) if diff else None
        new = "–" if new is None else (f"**{new:,}**" if new else "0")
        fixed = "–" if fixed is None else f"{fixed:,}"
        findings = sum(not f.get("suppressed") for f in card["findings"])
        rows.append(f"| {cell(escape(_name(card)))} | {'pass' if gate['passed'] else '**FAIL**'} | "
                    f"{_score(scores.get('overall'), scores.get('grade'))} | {new} | {fixed} | {findings:,} |")
    return "\n".join(rows)


def _name(card: dict) -> str:
    return (card.get("target") or {}).get("name") or "target"


def _notes(scorecard: dict, budget: Budget) -> list[str]:
    """Settings suppressions that silenced nothing, and rule ids the mapping tables do not place yet."""
    parts = []
    unused = scorecard.get("unused_suppressions") or []
    if unused:
        items = budget.take((f"- rule {code(u.get('rule'))}, resource {code(u.get('resource', '*'))}, stack "
                             f"{code(u.get('stack', '*'))}: {prose(u.get('reason') or '')}" for u in unused),
                            len(unused), "unused suppressions")
        parts.append(budget.spend(_group(f"Unused suppressions ({len(unused):,}), safe to remove", items, True)))
    unmapped = {engine: ids for engine, ids in (scorecard.get("unmapped_rule_ids") or {}).items() if ids}
    if unmapped:
        items = budget.take((f"- {escape(engine)}: {', '.join(code(i) for i in ids)}" for engine, ids in
                             sorted(unmapped.items())), len(unmapped), "engines")
        parts.append(budget.spend(_group("Rule ids without a mapping (default severity)", items, True)))
    return parts


def _footer(scorecard: dict) -> str:
    return (f"<sub>stackgrade {escape(scorecard.get('stackgrade_version', '?'))} · {escape(scorecard.get('schema'))} · "
            f"generated {escape(scorecard.get('generated_at', '?'))}</sub>")


def _check(scorecard: dict) -> None:
    """The keys this report reads; :func:`checks.scorecard.check_scorecard` has checked the rest on reading."""
    missing = [key for key in ("scores", "gate", "findings") if not isinstance(scorecard.get(key), (dict, list))]
    if missing:
        raise MarkdownError(f"the scorecard lacks {missing}; re-create it with `stackgrade grade`")
