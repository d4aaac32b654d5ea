"""The Markdown report: goldens from real grades, escaping (checked by rendering to HTML), size limit, the CLI."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from checks.cli import EXIT_ERROR, EXIT_OK, main as cli_main
from reports import FORMATS, render, render_combined
from reports import goldens
from reports.markdown import (
    GITHUB_COMMENT_LIMIT,
    MARKER,
    MarkdownError,
    code,
    escape,
    line_start,
    prose,
    render_markdown,
    render_markdown_combined,
)

STALE = f"golden files are stale; regenerate them with `{goldens.COMMAND}`"


def _html(markdown: str) -> str:
    """HTML as a CommonMark + tables renderer (GitHub's base) makes it, raw HTML allowed as on GitHub."""
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


@pytest.fixture(scope="module")
def cards() -> dict[str, dict]:
    return goldens.stored_cards()


@pytest.fixture()
def card(cards) -> dict:
    return copy.deepcopy(cards["shop"])


# --- goldens ------------------------------------------------------------------------------------------------------


def test_goldens_render_from_the_stored_scorecards(cards):
    assert goldens.stale(goldens.render_goldens(cards)) == [], STALE


def test_goldens_match_a_real_grade_of_the_fixtures(capsys):
    assert goldens.main(["--check"]) == 0, STALE + "\n" + capsys.readouterr().out


def test_goldens_session_writes_stale_files_and_check_lists_them(tmp_path, monkeypatch, capsys, cards):
    monkeypatch.setattr(goldens, "GOLDEN_DIR", tmp_path / "golden")
    monkeypatch.setattr(goldens, "ROOT", tmp_path)
    monkeypatch.setattr(goldens, "grade_cases", lambda work: cards)  # the real grade is checked above
    assert goldens.main(["--check"]) == 1
    assert "stale: golden/shop.md; regenerate with `nox -s goldens`" in capsys.readouterr().out
    assert goldens.main([]) == 0
    assert "wrote golden/shop.md" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "golden").iterdir()) == sorted(
        f"{case}.{kind}" for case in ("shop-before", "shop", "queues")
        for kind in ("md", "html", "sarif", "xml", "scorecard.json"))
    assert goldens.main(["--check"]) == 0


def test_a_failed_grade_of_a_golden_fixture_says_so(tmp_path, monkeypatch):
    broken = Path(__file__).parents[1] / "plugin_fixtures" / "broken.yaml"
    monkeypatch.setattr(goldens, "CASES", {"broken": (broken, None)})
    with pytest.raises(RuntimeError, match=r"grading .*broken.yaml for the goldens failed \(exit 2\)"):
        goldens.grade_cases(tmp_path)


def test_frozen_scorecards_hold_no_machine_or_run_specific_values(cards):
    text = json.dumps(cards)
    assert "/tmp" not in text and str(goldens.ROOT) not in text
    assert {e["seconds"] for card in cards.values() for e in card["engines"]} == {0.0}
    assert cards["shop"]["gate"]["baseline"]["path"] == "tests/reports/golden/shop-before.scorecard.json"


# --- content ------------------------------------------------------------------------------------------------------


def test_verdict_first_then_reasons_scores_diff_findings_engines(card, cards):
    text = render_markdown(card, baseline=cards["shop-before"])
    # The marker a workflow finds its comment by, invisible on GitHub, then the verdict.
    assert text.splitlines()[:2] == [MARKER, "**stackgrade: FAIL** · 2.3/10 (F) · shop"]
    assert MARKER == "<!-- stackgrade -->" and "<!--" not in _html(text).replace(MARKER, "")
    order = ["The gate failed:", "### Scores", "### Against the baseline", "### Findings", "#### 🟧 High (7)",
             "#### 🟨 Medium (8)", "#### 🟦 Low (4)", "<details><summary>Suppressed (2)</summary>", "### Engines"]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert "- 1 new unsuppressed high finding: SG-DLQ-001 on shop/Payments" in text
    assert "| **overall** | **2.3** | **F** | 5 | 55 | 19 |" in text
    assert "| cost | n/a | – | 0 | 0 | 0 |" in text
    assert "**4 new** · **9 fixed** · 17 unchanged" in text
    # The new findings, listed and marked; the fixed ones with rule and resource from the baseline.
    assert "- high **SG-DLQ-001** SQS queues have a dead-letter queue · `Shop/Payments/Resource`" in text
    assert "**SG-DLQ-001** SQS queues have a dead-letter queue · `Shop/Payments/Resource` · **new**" in text
    assert ("- `211c9731d635cf402fea` high **SG-DLQ-001** SQS queues have a dead-letter queue · "
            "`Shop/Legacy/Resource`") in text
    # Suppressions with their reasons, or the lack of one.
    assert ("**CKV\\_AWS\\_27** Ensure all data stored in the SQS queue is encrypted · `Shop/Payments/Resource` · "
            "reason: encrypted with SSE-SQS, which checkov does not recognize · by engine") in text
    assert "`Shop/Audit/Resource` · **no reason given** (itself a finding, SG-SUP-001) · by metadata" in text
    assert "engines: stackgrade, checkov (also `checkov:CKV_AWS_27`)" in text
    assert "| cdk-nag | 0.0.0 | skipped | 0.0 | – | the input is an existing cloud assembly;" in text


def test_without_the_baseline_scorecard_fixed_findings_are_fingerprints(card):
    text = render_markdown(card)
    assert "- `211c9731d635cf402fea`\n" in text


def test_source_lines_merged_ids_and_a_passing_gate(card):
    card["gate"].update(passed=True, reasons=[], baseline=None)
    for item in card["findings"]:
        del item["new"]
    finding = card["findings"][0]
    finding.update(source={"file": "app/stack.py", "line": 12}, construct_path=None)
    card["findings"][1].update(source={"file": "app/other.py", "line": None}, construct_path=None, logical_id=None,
                               remediation=None, message=None)
    text = render_markdown(card)
    assert text.startswith(f"{MARKER}\n**stackgrade: pass** · 2.3/10 (F) · shop\n\nThe gate passed.\n")
    assert "### Against the baseline" not in text and "**new**" not in text
    assert f"· `shop/{finding['logical_id']}`\n" in text and "source: `app/stack.py:12`" in text
    assert "`shop` (the stack)\n  engines: stackgrade · source: `app/other.py`\n" in text


def test_a_passing_gate_with_reasons_and_no_score(card):
    card["gate"].update(passed=True, reasons=["engine error: checkov skipped"], baseline=None)
    card["scores"].update(overall=None, grade=None)
    card["target"] = {}
    card["findings"] = []
    card["engines"][0].update(cached=True)
    text = render_markdown(card)
    assert text.startswith(
        f"{MARKER}\n**stackgrade: pass** · n/a\n\nThe gate passed:\n\n- engine error: checkov skipped\n")
    assert "### Findings\n\nNo unsuppressed findings." in text and "Suppressed" not in text
    assert "| **overall** | **n/a** | **–** |" in text and "| stackgrade | 0.0.0 | ok | cached |" in text


def test_long_groups_collapse_short_ones_stay_open(card):
    medium = next(f for f in card["findings"] if f["severity"] == "medium" and not f["suppressed"])
    card["findings"] += [dict(medium, logical_id=f"Extra{i}") for i in range(5)]
    text = render_markdown(card)
    assert "<details><summary>🟨 Medium (13)</summary>\n\n- " in text
    assert "#### 🟧 High (7)\n\n- " in text


def test_unused_suppressions_and_unmapped_ids_are_noted(card):
    card["unused_suppressions"] = [{"rule": "CKV_AWS_1", "resource": "*", "stack": "*", "reason": "old `x`"}]
    card["unmapped_rule_ids"] = {"checkov": ["CKV_AWS_9"], "cfn-guard": []}
    text = render_markdown(card)
    assert "- rule `CKV_AWS_1`, resource `*`, stack `*`: old `x`" in text
    assert "<details><summary>Rule ids without a mapping (default severity)</summary>\n\n- checkov: `CKV_AWS_9`" in text


# --- escaping -----------------------------------------------------------------------------------------------------

EVIL = "<script>alert(1)</script> | [x](javascript:alert(1)) ![i](http://e/i.png) <img src=x onerror=alert(1)> &lt;b&gt;"


def test_strings_from_templates_cannot_inject_html_or_break_tables(card):
    card["target"]["name"] = EVIL
    card["gate"]["reasons"] = [EVIL]
    card["engines"][1]["error"] = EVIL + "\nsecond line"
    card["engines"][1]["version"] = "1|2"
    card["unused_suppressions"] = [{"rule": EVIL, "reason": EVIL}]
    for finding in card["findings"]:
        finding.update(title=EVIL, message="- " + EVIL, remediation=EVIL + " `code <b>|`", construct_path=None,
                       stack="St|<i>", logical_id="`Lo`g<script>", suppression_reason=EVIL)
    text = render_markdown(card)
    html = _html(text)
    for tag in ("<script", "<img", "<i>", "<b>", 'href="javascript', "<a ", "<ul>\n<li>\n<ul>"):
        assert tag not in html, tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text
    assert "<code>code &lt;b&gt;|</code>" in html  # guidance keeps its code spans
    assert "<code>St|&lt;i&gt;/`Lo`g&lt;script&gt;</code>" in html
    # Every engine row still has its six cells; the error stays on one line.
    rows = re.findall(r"<tr>(.*?)</tr>", html.split("<h3>Engines</h3>")[1], re.S)
    assert len(rows) == 1 + len(card["engines"]) and all(row.count("<t") == 6 for row in rows)
    assert "second line" in rows[2]


def test_escape_helpers():
    assert escape("a<b>|c_d*e\nf") == "a\\<b\\>\\|c\\_d\\*e f"
    assert [line_start(t) for t in ("- x", "+ x", "12. x", "3) x", "===", "ok - 1.")] == [
        "\\- x", "\\+ x", "12\\. x", "3\\) x", "\\===", "ok - 1."]
    assert prose("use `a|<b>` not <b>") == "use `a|<b>` not \\<b\\>"
    assert code("a``b") == "```a``b```" and code("`x") == "`` `x ``"


# --- size ---------------------------------------------------------------------------------------------------------


def test_five_thousand_findings_fit_in_a_github_comment(card):
    template = next(f for f in card["findings"] if not f["suppressed"])
    severities = ["critical"] * 200 + ["high"] * 800 + ["medium"] * 2500 + ["low"] * 1000 + ["info"] * 500
    card["findings"] = [dict(template, severity=s, logical_id=f"Queue{i:04d}", fingerprint=f"{i:020x}", new=i % 2 == 0)
                        for i, s in enumerate(severities)]
    card["findings"] += [dict(template, logical_id=f"Skip{i}", suppressed=True, suppression_reason="r")
                         for i in range(300)]
    card["gate"]["baseline"]["fixed"] = {"count": 700, "fingerprints": [f"{i:020x}" for i in range(700)]}
    text = render_markdown(card)
    assert len(text) <= GITHUB_COMMENT_LIMIT and len(text.encode()) <= GITHUB_COMMENT_LIMIT
    assert text.rstrip().endswith("</sub>") and "### Engines" in text  # the tail is never cut
    findings_part = text.split("### Findings")[1].split("<details><summary>Suppressed")[0]
    groups = dict(zip(("critical", "high", "medium", "low", "info"),
                      re.split(r"<details><summary>\S+ \w+ \([\d,]+\)</summary>", findings_part)[1:]))
    assert len(groups) == 5  # every severity has its group, even when nothing in it fits any more
    for severity, group in groups.items():
        shown = len(re.findall(r"^- \*\*SG-", group, re.M))
        more = re.search(rf"^- … and ([\d,]+) more {severity} findings$", group, re.M)
        assert shown + (int(more.group(1).replace(",", "")) if more else 0) == severities.count(severity), severity
    assert len(re.findall(r"^- \*\*SG-", groups["critical"], re.M)) > 50  # critical first gets the room
    assert "- … and 2,450 more new findings" in text  # the new list stops at 50
    assert "- … and 650 more fixed findings" in text
    assert "- … and 300 more suppressed findings" in text


def test_a_limit_that_leaves_no_room_is_an_error(card):
    with pytest.raises(MarkdownError, match="leaves no room for the findings"):
        render_markdown(card, max_chars=100)


def test_a_scorecard_without_findings_is_refused():
    with pytest.raises(MarkdownError, match=r"lacks \['findings'\]; re-create it with `stackgrade grade`"):
        render_markdown({"scores": {}, "gate": {}})


# --- dispatch and CLI ---------------------------------------------------------------------------------------------


def test_render_dispatches_and_refuses_unknown_formats(card):
    assert FORMATS == ("md", "html", "sarif", "junit")
    assert render(card, "md") == render_markdown(card)
    assert json.loads(render(card, "sarif"))["version"] == "2.1.0"
    assert render(card, "junit").startswith("<?xml")
    with pytest.raises(ValueError, match="unknown report format 'pdf'; choose one of md, html, sarif, junit"):
        render(card, "pdf")
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        render_combined([card], "pdf")


def test_report_command_writes_stdout_or_a_file(capsys, tmp_path):
    golden = goldens.GOLDEN_DIR
    assert cli_main(["report", "--format", "md", str(golden / "shop-before.scorecard.json")]) == EXIT_OK
    assert capsys.readouterr().out == (golden / "shop-before.md").read_text(encoding="utf-8")
    out = tmp_path / "sub" / "report.md"
    assert cli_main(["report", str(golden / "shop.scorecard.json"), "-o", str(out),
                     "--baseline", str(golden / "shop-before.scorecard.json")]) == EXIT_OK
    assert out.read_text(encoding="utf-8") == (golden / "shop.md").read_text(encoding="utf-8")


def test_report_command_errors_exit_2_with_a_message(capsys, tmp_path):
    assert cli_main(["report", str(tmp_path / "missing.json")]) == EXIT_ERROR
    assert "missing.json does not exist; write one with `stackgrade grade`" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    scorecard = str(goldens.GOLDEN_DIR / "shop.scorecard.json")
    assert cli_main(["report", scorecard, "-o", str(blocker / "report.md")]) == EXIT_ERROR
    assert "cannot write the report" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli_main(["report", "--format", "pdf", scorecard])
    assert exit_.value.code == 2


# --- several targets in one comment -------------------------------------------------------------------------------


def test_one_comment_for_several_targets(cards):
    text = render_markdown_combined([cards["shop"], cards["queues"]], baselines=[cards["shop-before"], None])
    lines = text.splitlines()
    assert lines[:2] == [MARKER, "**stackgrade: FAIL** · 2 of 2 targets failed the gate"]
    assert text.count(MARKER) == 1 and len(text) <= GITHUB_COMMENT_LIMIT
    table = lines[3:7]
    assert table == ["| target | gate | score | new | fixed | findings |", "|---|:-:|--:|--:|--:|--:|",
                     "| shop | **FAIL** | 2.3/10 (F) | **4** | 9 | 19 |",
                     "| queues | **FAIL** | 2.5/10 (F) | – | – | 21 |"]
    shop, queues = text.split("\n\n---\n\n")[1:]
    assert shop.startswith("## shop\n\n**stackgrade: FAIL** · 2.3/10 (F) · shop\n")
    assert "**4 new** · **9 fixed** · 17 unchanged" in shop
    assert ("- `211c9731d635cf402fea` high **SG-DLQ-001** SQS queues have a dead-letter queue · "
            "`Shop/Legacy/Resource`") in shop  # the fixed finding, named from its target's baseline
    assert queues.startswith("## queues\n\n**stackgrade: FAIL** · 2.5/10 (F) · queues\n")
    assert "Against the baseline" not in queues
    assert "<h2>queues</h2>" in _html(text)


def test_a_combined_verdict_that_passes(cards):
    passing = copy.deepcopy(cards["shop"])
    passing["gate"].update(passed=True, reasons=[])
    passing["gate"]["baseline"]["new"] = {"count": 0, "fingerprints": []}
    assert render_markdown_combined([passing]).splitlines()[1] == "**stackgrade: pass** · the target passed the gate"
    text = render_markdown_combined([passing, dict(passing, target={"name": "other"})])
    assert text.splitlines()[1] == "**stackgrade: pass** · all 2 targets passed the gate"
    assert "| shop | pass | 2.3/10 (F) | 0 | 9 | 19 |" in text


def test_ten_big_targets_share_one_comment(card):
    template = next(f for f in card["findings"] if not f["suppressed"])
    card["findings"] = [dict(template, logical_id=f"Queue{i:04d}", fingerprint=f"{i:020x}") for i in range(3000)]
    small = copy.deepcopy(card)
    small["findings"] = small["findings"][:3]
    cards = [dict(copy.deepcopy(small if i == 0 else card), target={"name": f"app{i}"}) for i in range(10)]
    text = render_markdown_combined(cards)
    assert len(text) <= GITHUB_COMMENT_LIMIT
    sections = text.split("\n\n---\n\n")[1:]
    assert [s.splitlines()[0] for s in sections] == [f"## app{i}" for i in range(10)]
    assert all(s.rstrip().endswith("</sub>") for s in sections)  # each report whole, its tail included
    # What the small first report leaves is shared by the ones after it: the later ones get more room.
    assert len(sections[1]) < len(sections[9])
    assert re.search(r"^- … and [\d,]+ more high findings$", sections[1], re.M)


def test_too_many_targets_for_the_limit(card):
    cards = [dict(copy.deepcopy(card), target={"name": f"app{i}"}) for i in range(3)]
    text = render_markdown_combined(cards, max_chars=3_000)
    assert len(text) <= 3_000 and "| app2 | **FAIL** |" in text  # every target keeps its row
    first, second, third = text.split("\n\n---\n\n")[1:]
    left_out = "Left out for the comment's size; see this target's scorecard.md or scorecard.html."
    assert first == f"## app0\n\n**stackgrade: FAIL** · 2.3/10 (F) · app0\n\n{left_out}\n" and left_out in third
    assert second.rstrip().endswith("</sub>")  # the room the first one left made the second fit
    with pytest.raises(MarkdownError, match="has no room for 3 targets; raise it or report fewer targets at once"):
        render_markdown_combined(cards, max_chars=500)


def test_combined_input_errors(card):
    with pytest.raises(MarkdownError, match="no scorecards to report on"):
        render_markdown_combined([])
    with pytest.raises(MarkdownError, match="1 baselines for 2 scorecards"):
        render_markdown_combined([card, card], baselines=[None])
    with pytest.raises(MarkdownError, match=r"lacks \['findings'\]"):
        render_markdown_combined([card, {"scores": {}, "gate": {}}])
