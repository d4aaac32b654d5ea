"""The HTML report rendered from the golden scorecards: content, charts, escaping, no network, the index, size.

The browser checks (script errors, sorting, filtering, screenshots) are in test_html_browser.py.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re

import pytest
from bs4 import BeautifulSoup

from checks.scorecard import ScorecardError
from reports import RENDERERS, render
from reports import goldens
from reports.html import HtmlReportError, nice_maximum, prose, render_html, render_index
from tests.reports.conftest import HOSTILE

STALE = f"the HTML golden files are stale; regenerate them with `{goldens.COMMAND}`"
ORDERS = "Shop/Orders|<script>alert(1)</script>/Resource"  # the golden fixture names a queue like this
# Any way a page could fetch: an http(s) or protocol-relative URL in src/href/xlink:href/action, CSS url()/@import.
FETCH = re.compile(r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:|//))|url\s*\(|@import""", re.I)


def page(text: str) -> BeautifulSoup:
    """The parsed page; <wbr> (a place a long path may wrap) dropped, so text reads as the browser shows it."""
    return BeautifulSoup(text.replace("<wbr>", ""), "html.parser")


def text_of(element) -> str:
    """The text a reader sees, whitespace collapsed."""
    return " ".join(element.get_text("").split())


def findings(soup: BeautifulSoup, table: str = "findings") -> list[tuple]:
    """(severity, rule id, resource, marked new) of each row of a findings table, in page order."""
    return [(tr.select_one(".sev").string, tr.select_one(".rule-id").string, text_of(tr.select_one(".subject")),
             tr.select_one(".badge.new") is not None) for tr in soup.select(f"#{table} tbody tr")]


def bars(soup: BeautifulSoup, chart: str) -> list[tuple[str, str]]:
    """(tooltip, width) of each bar segment of a chart."""
    return [(rect.title.string, rect["width"]) for rect in soup.select(f"#{chart} rect.bar")]


def texts(soup: BeautifulSoup, selector: str) -> list[str]:
    return [text_of(element) for element in soup.select(selector)]


@pytest.fixture()
def shop(golden_cards) -> BeautifulSoup:
    return page(render_html(golden_cards["shop"], golden_cards["shop-before"]))


# --- goldens and dispatch -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "baseline"), [("shop", "shop-before"), ("shop-before", None), ("queues", None)])
def test_golden_pages(golden_cards, name, baseline):
    text = render_html(golden_cards[name], golden_cards[baseline] if baseline else None)
    assert text == (goldens.GOLDEN_DIR / f"{name}.html").read_text(encoding="utf-8"), STALE


def test_html_is_a_format_written_as_scorecard_html(golden_cards):
    assert RENDERERS["html"][1] == "scorecard.html"
    card, before = golden_cards["shop"], golden_cards["shop-before"]
    assert render(card, "html", baseline=before) == render_html(card, before)


# --- the single page ----------------------------------------------------------------------------------------------


def test_header_gives_target_score_grade_and_verdict(shop):
    assert shop.title.string == "stackgrade: shop · 2.3 F · FAIL"
    assert shop.select_one("#target").string == "shop"
    assert shop.select_one(".about").string == "assembly tests/reports/fixtures/current/shop.yaml"
    assert (shop.select_one("#score").string, shop.select_one("#grade").string) == ("2.3", "F")
    assert shop.select_one("#gate").string == "gate FAIL" and "fail" in shop.select_one("#gate")["class"]
    assert texts(shop, "#reasons li") == [
        "1 new unsuppressed high finding: SG-DLQ-001 on shop/Payments",
        "overall score 2.3 is under the minimum 7.0 and lower than the baseline's (which scored 2.4)"]
    assert [(d.dt.string, d.dd.string) for d in shop.select(".totals div")] == [
        ("findings", "19"), ("suppressed", "2"), ("new", "4"), ("fixed", "9"), ("resources", "5"), ("stacks", "1"),
        ("engines ok", "3/4")]


def test_engines_table(shop):
    rows = [[text_of(td) for td in tr.find_all("td")] for tr in shop.select("#engines tbody tr")]
    assert rows == [
        ["stackgrade", "ok", "0.0.0", "0.00", "no", "20", ""],
        ["cdk-nag", "skipped", "0.0.0", "0.00", "no", "–", "the input is an existing cloud assembly; cdk-nag runs "
         "during synthesis, so grade the app directory to include it"],
        ["checkov", "ok", "0.0.0", "0.00", "no", "4", ""],
        ["cfn-guard", "ok", "0.0.0", "0.00", "no", "0", ""],
    ]


def test_category_chart_puts_the_baseline_beside_each_score(shop):
    # 300 units for 0-10: a bar is 30 units per point; cost has no resource, so n/a and no bar.
    assert bars(shop, "chart-categories") == [
        ("overall, baseline: 2.4 F", "72.0"), ("overall: 2.3 F", "69.0"),
        ("reliability, baseline: 1.8 F", "54.0"), ("reliability: 1.9 F", "57.0"),
        ("observability, baseline: 1.6 F", "48.0"), ("observability: 1.6 F", "48.0"),
        ("security, baseline: 4.2 F", "126.0"), ("security: 4.0 F", "120.0"),
        ("operations, baseline: 3.3 F", "99.0"), ("operations: 3.3 F", "99.0")]
    assert texts(shop, "#chart-categories text.label") == ["overall", "reliability", "observability", "security",
                                                            "operations", "cost"]
    assert texts(shop, "#chart-categories text.value.missing") == ["n/a", "n/a"]
    assert texts(shop, "#chart-categories text.legend") == ["baseline", "current (colour by grade)"]
    assert texts(shop, "#chart-categories text.tick") == ["0", "2", "4", "6", "8", "10"]
    assert texts(shop, "#chart-categories text.marker-label") == ["min 7"]
    assert shop.select_one("#chart-categories svg title").string == "Score per category"


def test_severity_stack_and_diff_charts(shop):
    assert bars(shop, "chart-severities") == [
        ("high: 1 new", "37.5"), ("high: 6 not new", "225.0"), ("medium: 2 new", "75.0"),
        ("medium: 6 not new", "225.0"), ("low: 4 not new", "150.0")]
    assert texts(shop, "#chart-severities text.value") == ["0", "7 (1 new)", "8 (2 new)", "4", "0"]
    assert bars(shop, "chart-stacks") == [("shop: 7 high", "105.0"), ("shop: 8 medium", "120.0"),
                                          ("shop: 4 low", "60.0")]
    assert bars(shop, "chart-diff") == [("new: 4 findings", "60.0"), ("fixed: 9 findings", "135.0"),
                                        ("unchanged: 17 findings", "255.0")]
    assert texts(shop, "#chart-diff text.tick") == ["0", "5", "10", "15", "20"]


def test_findings_table_lists_every_unsuppressed_finding_with_the_new_ones_marked(shop, golden_cards):
    assert findings(shop) == [
        ("high", "SG-ALM-004", "Shop/Audit/Resource", False),
        ("high", "SG-ALM-005", "Shop/AuditDlq/Resource", False),
        ("high", "SG-DLQ-003", "Shop/AuditDlq/Resource", False),
        ("high", "SG-ALM-004", ORDERS, False),
        ("high", "SG-DLQ-001", ORDERS, False),
        ("high", "SG-ALM-004", "Shop/Payments/Resource", False),
        ("high", "SG-DLQ-001", "Shop/Payments/Resource", True),
        ("medium", "SG-SUP-001", "shop", True),
        ("medium", "SG-OUT-003", "Shop/Audit/Resource", False),
        ("medium", "SG-ENC-001", "Shop/AuditDlq/Resource", False),
        ("medium", "SG-OUT-003", "Shop/AuditDlq/Resource", False),
        ("medium", "SG-ENC-001", ORDERS, False),
        ("medium", "SG-OUT-003", ORDERS, False),
        ("medium", "SG-ENC-001", "Shop/Payments/Resource", True),
        ("medium", "SG-OUT-003", "Shop/Payments/Resource", False),
        ("low", "SG-RMV-001", "Shop/Audit/Resource", False),
        ("low", "SG-RMV-001", "Shop/AuditDlq/Resource", False),
        ("low", "SG-RMV-001", ORDERS, False),
        ("low", "SG-RMV-001", "Shop/Payments/Resource", False),
    ]
    assert [tr.get("data-new") == "1" for tr in shop.select("#findings tbody tr")] == [f[3] for f in findings(shop)]
    row = shop.select("#findings tbody tr")[9]  # SG-ENC-001 on AuditDlq, merged from two engines
    finding = next(f for f in golden_cards["shop"]["findings"] if f["fingerprint"] == row["data-fingerprint"])
    assert (row["data-severity"], row["data-category"], row["data-index"]) == ("medium", "security", "9")
    cells = row.find_all("td")
    assert [text_of(cell) for cell in cells[:7]] == [
        "medium", "SG-ENC-001 SQS queues are explicitly encrypted also checkov:CKV_AWS_27",
        "Shop/AuditDlq/Resource AWS::SQS::Queue", "shop", "stackgrade checkov", "security", "–"]
    assert [e["data-engine"] for e in cells[4].select(".engine")] == ["stackgrade", "checkov"]
    assert cells[0]["data-sort"] == "2"  # severity sorts by rank, not by name
    assert text_of(cells[7]) == finding["message"]
    # The fix keeps its code spans as code and reads as the remediation without the backticks.
    assert text_of(cells[8]) == finding["remediation"].replace("`", "")
    assert [code.string for code in cells[8].find_all("code")] == re.findall(r"`([^`]+)`", finding["remediation"])
    assert [o["value"] for o in shop.select("#filter-severity option")] == ["", "high", "medium", "low"]
    assert [o["value"] for o in shop.select("#filter-category option")] == [
        "", "reliability", "observability", "security", "operations"]
    assert [o["value"] for o in shop.select("#filter-engine option")] == ["", "stackgrade", "checkov"]
    assert shop.select_one("#filter-new") is not None


def test_source_lines_and_sort_keys(golden_cards):
    card = copy.deepcopy(golden_cards["queues"])
    card["findings"][0]["source"] = {"file": "app/stack.py", "line": 12}
    card["findings"][1]["source"] = {"file": "app/other.py", "line": None}
    cells = [tr.find_all("td")[6] for tr in page(render_html(card)).select("#findings tbody tr")[:3]]
    assert [(text_of(c), c["data-sort"]) for c in cells] == [
        ("app/stack.py:12", "app/stack.py:000000012"), ("app/other.py", "app/other.py"), ("–", "")]


def test_baseline_section_names_new_and_fixed_findings(shop):
    assert text_of(shop.select_one("#baseline p")).startswith(
        "4 new · 9 fixed · 17 unchanged (baseline score 2.4, tests/reports/golden/shop-before.scorecard.json).")
    assert texts(shop, "#new li") == [
        "high SG-DLQ-001 SQS queues have a dead-letter queue · Shop/Payments/Resource",
        "medium SG-SUP-001 Suppressions give a reason · shop",
        "medium CKV_AWS_27 Ensure all data stored in the SQS queue is encrypted · Shop/Payments/Resource (suppressed)",
        "medium SG-ENC-001 SQS queues are explicitly encrypted · Shop/Payments/Resource"]
    assert text_of(shop.select("#baseline h3")[0]) == "New since the baseline (4)"
    # Fixed findings come from the baseline scorecard by fingerprint, most severe first.
    assert texts(shop, "#fixed li") == [
        "high SG-DLQ-001 SQS queues have a dead-letter queue · Shop/Legacy/Resource 211c9731d635cf402fea",
        "high SG-ALM-004 Source queues have message-age and depth alarms · Shop/Legacy/Resource 2d8672878900b1c19121",
        "high SG-ALM-005 Dead-letter queues alarm on their first message · Shop/PaymentsDlq/Resource "
        "349d2692ba05357999a3",
        "high SG-DLQ-003 Dead-letter queues retain messages long enough · Shop/PaymentsDlq/Resource "
        "c785a2a2b9a03c91f784",
        "medium SG-OUT-003 Key resources are exposed as stack outputs · Shop/PaymentsDlq/Resource "
        "332ff53395e3996ca81a",
        "medium SG-OUT-003 Key resources are exposed as stack outputs · Shop/Legacy/Resource 38b72f2e11ef17479fcd",
        "medium SG-ENC-001 SQS queues are explicitly encrypted · Shop/Legacy/Resource d257e185a844fc161f37",
        "low SG-RMV-001 Stateful resources have an explicit deletion policy · Shop/Legacy/Resource "
        "06bc4fe712a4a40cbfa0",
        "low SG-RMV-001 Stateful resources have an explicit deletion policy · Shop/PaymentsDlq/Resource "
        "4d82609887fb4f600c52"]


def test_without_the_baseline_scorecard_fixed_findings_are_fingerprints(golden_cards):
    soup = page(render_html(golden_cards["shop"]))
    assert texts(soup, "#fixed li")[:2] == ["06bc4fe712a4a40cbfa0", "211c9731d635cf402fea"]
    assert "Pass the baseline scorecard to name them" in text_of(soup.select_one("#baseline"))
    assert bars(soup, "chart-categories")[:2] == [("overall: 2.3 F", "69.0"), ("reliability: 1.9 F", "57.0")]
    assert soup.select("#chart-categories text.legend") == []


def test_a_long_new_list_is_cut_the_table_marks_them_all(golden_cards):
    card = copy.deepcopy(golden_cards["shop"])
    template = card["findings"][6]
    card["findings"] = [dict(template, logical_id=f"Q{i}", construct_path=f"Shop/Q{i:02d}") for i in range(60)]
    soup = page(render_html(card))
    assert len(soup.select("#new li")) == 51 and texts(soup, "#new li")[-1] == "… and 10 more: the table marks them all"
    assert text_of(soup.select_one("#baseline h3")) == "New since the baseline (60)"
    assert len(soup.select("#findings tr[data-new]")) == 60


def test_suppressed_findings_with_their_reasons_and_where_they_came_from(shop):
    assert findings(shop, "suppressed") == [("medium", "SG-ENC-001", "Shop/Audit/Resource", False),
                                            ("medium", "CKV_AWS_27", "Shop/Payments/Resource", True)]
    assert [[text_of(td) for td in tr.find_all("td")[5:]] for tr in shop.select("#suppressed tbody tr")] == [
        ["no reason given (itself a finding, SG-SUP-001)", "resource metadata (stackgrade suppress)"],
        ["encrypted with SSE-SQS, which checkov does not recognize",
         "engine (cdk-nag acknowledgement or checkov skip)"]]


def test_unused_suppressions_and_unmapped_rule_ids_are_noted(golden_cards):
    card = copy.deepcopy(golden_cards["queues"])
    card["unused_suppressions"] = [{"rule": "CKV_AWS_1", "resource": None, "stack": "*-dev", "reason": "old"},
                                   {"rule": "X"}]
    card["unmapped_rule_ids"] = {"checkov": ["CKV_AWS_9", "CKV_AWS_8"], "cfn-guard": []}
    soup = page(render_html(card))
    assert texts(soup, "#unused li") == ["rule CKV_AWS_1, resource *, stack *-dev: old", "rule X, resource *, stack *"]
    assert texts(soup, "#unmapped li") == ["checkov: CKV_AWS_9, CKV_AWS_8"]
    assert page(render_html(golden_cards["queues"])).select_one(".notes") is None


def test_a_passing_gate_with_nothing_found_scored_nothing(golden_cards):
    card = copy.deepcopy(golden_cards["queues"])
    card.update(findings=[], stacks=[], unmapped_rule_ids=[], unused_suppressions=[{"rule": "X"}, "junk"])
    card["gate"] = {"passed": True, "reasons": [], "min_score": None, "fail_on": [], "baseline": None}
    card["scores"] = {"overall": None, "grade": None, "categories": {"reliability": None}}
    card["target"] = {"kind": "reference", "name": "pd-ideal", "system": "pd", "variant": "ideal"}
    card["engines"] = [{"name": "checkov", "status": "error", "seconds": None, "cached": True, "error": "boom",
                        "findings": None}, "junk"]
    soup = page(render_html(card))
    assert (soup.select_one("#score").string, soup.select_one("#grade").string) == ("n/a", "–")
    assert soup.select_one("#gate").string == "gate pass"
    assert soup.select_one(".about").string == "reference system pd, ideal variant"
    assert soup.select_one("#reasons").string == "The gate passed with nothing to report."
    assert soup.select_one("#no-findings").string == "No unsuppressed findings."
    for absent in ("#findings", "#filters", "#suppressed", "#baseline", "#chart-diff", "#unmapped"):
        assert soup.select_one(absent) is None, absent
    assert texts(soup, "#chart-categories text.value") == ["n/a", "n/a"]
    assert texts(soup, "#chart-severities text.tick") == ["0", "1"]
    assert soup.select("#chart-stacks .group") == []
    assert [[text_of(td) for td in tr.find_all("td")] for tr in soup.select("#engines tbody tr")] == [
        ["checkov", "error", "–", "–", "yes", "–", "boom"], ["?", "?", "–", "–", "no", "–", ""]]
    assert texts(soup, "#unused li") == ["rule X, resource *, stack *", "rule *, resource *, stack *"]


def test_findings_without_resource_or_severity_still_render(golden_cards):
    card = copy.deepcopy(golden_cards["queues"])
    card["findings"] = [{"rule_id": "X-1", "engine": "custom", "stack": None, "severity": "urgent",
                         "source": "not a dict"}]
    soup = page(render_html(card))
    assert findings(soup) == [("urgent", "X-1", "?", False)]
    assert texts(soup, "#findings .engine") == ["custom"]
    assert [o["value"] for o in soup.select("#filter-severity option")] == ["", "urgent"]
    assert bars(soup, "chart-severities") == [("urgent: 1 finding", "300.0")]
    assert bars(soup, "chart-stacks") == [("?: 1 urgent", "300.0")]  # the finding's own stack, not listed


# --- escaping -----------------------------------------------------------------------------------------------------


def test_every_string_from_the_scorecard_is_escaped(hostile_card, golden_cards):
    text = render_html(hostile_card, golden_cards["shop-before"])
    soup = page(text)
    # Nothing the data said became markup: one script (ours), no image, no handler, no template evaluation.
    assert len(soup.find_all("script")) == 1 and soup.find_all("img") == []
    assert not any(name.startswith("on") for tag in soup.find_all(True) for name in tag.attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in text
    # ...and it reads as the literal text wherever it is shown.
    assert soup.select_one("#target").string == HOSTILE
    assert texts(soup, "#reasons li") == [HOSTILE]
    assert {text_of(e) for e in soup.select("#findings .rule-title, #findings .msg")} == {HOSTILE}
    assert {text_of(e) for e in soup.select("#findings .subject")} == {f"{HOSTILE}/Resource"}
    assert {text_of(e) for e in soup.select("#findings td.fix")} == {f"{HOSTILE} {HOSTILE}"}
    assert {text_of(e) for e in soup.select("#findings td.fix code")} == {HOSTILE}
    assert texts(soup, "#suppressed td.msg") == [HOSTILE, HOSTILE]
    assert texts(soup, "#chart-stacks text.label") == [HOSTILE[:33] + "…"]
    assert soup.select_one("#chart-stacks .group title").string == HOSTILE
    assert texts(soup, "#unmapped li") == [f"{HOSTILE}: {HOSTILE}"]
    first = soup.select_one("#findings tbody tr")
    # Values the script reads stay whole inside their attributes.
    assert (first["data-severity"], first["data-category"], first.select_one(".engine")["data-engine"]) == (
        HOSTILE, HOSTILE, HOSTILE)
    assert HOSTILE in [o["value"] for o in soup.select("#filter-severity option")]


# --- self-contained -----------------------------------------------------------------------------------------------


def test_pages_fetch_nothing_and_allow_only_their_own_style_and_script(golden_cards, index_cards):
    for text in (render_html(golden_cards["shop"], golden_cards["shop-before"]), render_index(index_cards)):
        assert FETCH.search(text) is None
        soup = page(text)
        style, script = soup.style.string, soup.script.string
        policy = soup.find("meta", attrs={"http-equiv": "Content-Security-Policy"})["content"]
        assert policy == (f"default-src 'none'; style-src 'sha256-{_sha256(style)}'; "
                          f"script-src 'sha256-{_sha256(script)}'; base-uri 'none'; form-action 'none'")
        assert [tag.name for tag in soup.find_all(["link", "img", "iframe", "object", "embed", "base"])] == []


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


# --- the index ----------------------------------------------------------------------------------------------------

LINKS = ["shop-baseline/scorecard.html", "shop-ideal/scorecard.html", None, "my app/scorecard.html"]


def test_index_rows_compare_every_target(index_cards):
    soup = page(render_index(index_cards, LINKS))
    assert soup.title.string == "stackgrade: 4 scorecards"
    assert soup.select_one(".about").string == "4 targets · 1 pass the gate · 3 fail"
    rows = [[text_of(td) for td in tr.find_all("td")] for tr in soup.select("#targets tbody tr")]
    assert rows == [
        ["shop-baseline", "shop", "baseline", "2.4", "F", "FAIL", "0", "10", "10", "6", "0", "0", "cdk-nag (skipped)"],
        ["shop-ideal", "shop", "ideal", "2.3", "F", "FAIL", "0", "7", "8", "4", "0", "2", "cdk-nag (skipped)"],
        ["queues-ideal", "queues", "ideal", "2.5", "F", "pass", "0", "7", "8", "6", "0", "0", "cdk-nag (skipped)"],
        ["my-app", "–", "assembly", "2.5", "F", "FAIL", "0", "7", "8", "6", "0", "0", "cdk-nag (skipped)"]]
    assert [(a.string, a["href"]) for a in soup.select("#targets a")] == [
        ("shop-baseline", "shop-baseline/scorecard.html"), ("shop-ideal", "shop-ideal/scorecard.html"),
        ("my-app", "my app/scorecard.html")]
    assert soup.select("#targets tbody tr")[1].select(".gate")[0]["title"].startswith("1 new unsuppressed high")
    assert soup.select_one("footer").string == "stackgrade 0.0.0 · 4 scorecards · generated 2000-01-01T00:00:00+00:00"


def test_index_charts_scores_findings_and_ideal_beside_baseline(index_cards):
    soup = page(render_index(index_cards, LINKS))
    assert bars(soup, "chart-overall") == [
        ("shop-baseline: 2.4 F, gate FAIL", "72.0"), ("shop-ideal: 2.3 F, gate FAIL", "69.0"),
        ("queues-ideal: 2.5 F, gate pass", "75.0"), ("my-app: 2.5 F, gate FAIL", "75.0")]
    assert texts(soup, "#chart-overall text.marker-label") == ["min 7"]
    assert bars(soup, "chart-findings")[:3] == [("shop-baseline: 10 high", "100.0"),
                                                ("shop-baseline: 10 medium", "100.0"), ("shop-baseline: 6 low", "60.0")]
    assert texts(soup, "#chart-findings text.value") == ["26", "19", "21", "21"]
    assert texts(soup, "figure[id^=chart-system] figcaption") == ["shop", "queues"]
    assert bars(soup, "chart-system-0") == [
        ("overall, baseline: 2.4 F", "72.0"), ("overall, ideal: 2.3 F", "69.0"),
        ("reliability, baseline: 1.8 F", "54.0"), ("reliability, ideal: 1.9 F", "57.0"),
        ("observability, baseline: 1.6 F", "48.0"), ("observability, ideal: 1.6 F", "48.0"),
        ("security, baseline: 4.2 F", "126.0"), ("security, ideal: 4.0 F", "120.0"),
        ("operations, baseline: 3.3 F", "99.0"), ("operations, ideal: 3.3 F", "99.0")]
    assert texts(soup, "#chart-system-0 text.legend") == ["baseline", "ideal"]
    assert texts(soup, "#chart-system-1 text.legend") == ["ideal"]
    assert [[(a.string, a["href"]) for a in p.find_all("a")] for p in soup.select(".chart-links")] == [
        [("baseline page", "shop-baseline/scorecard.html"), ("ideal page", "shop-ideal/scorecard.html")]]


def test_index_without_links_other_variants_and_mixed_minimums(index_cards):
    index_cards[2]["target"]["variant"] = "v2"
    index_cards[2]["gate"]["min_score"] = 8
    index_cards[3]["scores"]["overall"] = None
    index_cards[3]["engines"].append("junk")
    soup = page(render_index(index_cards))
    assert soup.select("a") == []
    assert texts(soup, "#chart-system-1 text.legend") == ["v2"]
    assert soup.select("#chart-overall .marker") == []
    assert texts(soup, "#chart-overall text.value")[3] == "n/a · FAIL"
    assert texts(soup, "#targets tbody tr:nth-of-type(4) td")[-1] == "cdk-nag (skipped), None (None)"
    assert soup.select("#targets tbody tr")[3].find_all("td")[3]["data-sort"] == "-1"


def test_an_empty_index():
    soup = page(render_index([]))
    assert soup.select_one(".card p").string == "No scorecards." and soup.select("figure") == []
    assert soup.select_one("footer").string == "stackgrade ? · 0 scorecards"


@pytest.mark.parametrize("href", ["https://evil.example/x.html", "//evil.example/x", "/etc/passwd", "",
                                  "javascript:alert(1)", "\\\\host\\share", 3])
def test_index_links_must_be_relative(index_cards, href):
    with pytest.raises(HtmlReportError, match=r"links\[1\] .* is not a relative link; give the path of the "
                                              r"target's page relative to the index"):
        render_index(index_cards, [None, href, None, None])


def test_index_needs_one_link_per_scorecard(index_cards):
    with pytest.raises(HtmlReportError, match="1 links for 4 scorecards; give one link"):
        render_index(index_cards, ["a.html"])


# --- bad input ----------------------------------------------------------------------------------------------------


def test_bad_scorecards_are_refused_with_what_to_do(golden_cards, index_cards):
    with pytest.raises(ScorecardError, match="the scorecard is not a stackgrade/scorecard@1 scorecard"):
        render_html({"schema": "other"})
    with pytest.raises(ScorecardError, match=r"the baseline scorecard is not a stackgrade scorecard \(not a JSON"):
        render_html(golden_cards["shop"], ["not", "a", "card"])
    del index_cards[1]["findings"]
    with pytest.raises(ScorecardError, match=r"scorecard 1 \(shop-ideal\) lacks the scorecard keys \['findings'\]"):
        render_index(index_cards)
    with pytest.raises(ScorecardError, match=r"scorecard 0 is not a stackgrade scorecard"):
        render_index([None])


# --- pieces -------------------------------------------------------------------------------------------------------


def test_prose_keeps_code_spans():
    assert prose("use `a<b>` and ``x`y`` now") == ((False, "use "), (True, "a<b>"), (False, " and "),
                                                    (True, "x`y"), (False, " now"))
    assert prose("`only`") == ((True, "only"),) and prose(None) == () and prose("a ` b") == ((False, "a ` b"),)


def test_axis_ends_are_round_numbers():
    assert [nice_maximum(n) for n in (0, 1, 3, 4, 7, 19, 117, 5000)] == [
        (1, 1), (1, 1), (3, 1), (4, 1), (8, 2), (20, 5), (150, 50), (6000, 2000)]


# --- size ---------------------------------------------------------------------------------------------------------


def large_scorecard(card: dict) -> dict:
    """``card`` with 5,000 unsuppressed findings (half of them new), 300 suppressed and 700 fixed."""
    card = copy.deepcopy(card)
    template = next(f for f in card["findings"] if not f["suppressed"])
    severities = ["critical"] * 200 + ["high"] * 800 + ["medium"] * 2500 + ["low"] * 1000 + ["info"] * 500
    card["findings"] = [dict(template, severity=s, construct_path=f"Shop/Queue{i:04d}/Resource",
                             fingerprint=f"{i:020x}", new=i % 2 == 0) for i, s in enumerate(severities)]
    card["findings"] += [dict(template, logical_id=f"Skip{i}", suppressed=True, suppression_reason="r")
                         for i in range(300)]
    card["gate"]["baseline"]["fixed"] = {"count": 700, "fingerprints": [f"f{i:019x}" for i in range(700)]}
    return card


def test_five_thousand_findings_are_all_listed_at_about_a_kilobyte_each(golden_cards):
    """Every finding is in the page; its speed is `nox -s bench`'s (tests/benchmarks/test_report_speed.py)."""
    text = render_html(large_scorecard(golden_cards["shop"]))
    assert len(text.encode("utf-8")) < 1_400 * 5_300  # about 1.1 kB a finding, most of it the finding's own text
    # Parsing 6 MB with bs4 takes seconds: count in the parts instead.
    assert part(text, 'id="findings"', "</table>").count("<tr data-index=") == 5000
    assert part(text, 'id="suppressed"', "</table>").count("<tr data-index=") == 300


def part(text: str, start: str, end: str) -> str:
    begin = text.index(start)
    return text[begin:text.index(end, begin) + len(end)]
