"""Scorecard rendering: JSON (the contract), Markdown, HTML, SARIF 2.1.0 and JUnit XML.

:func:`render` dispatches on the format name; :data:`FORMATS` lists the formats that exist (the CLI's
``stackgrade report --format`` choices come from it). :func:`render_combined` puts several scorecards in one
report: one PR comment, one HTML index page, one SARIF log (a run per target), one JUnit document.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


class ReportError(ValueError):
    """Input a report cannot be rendered from; the message says what to do. Each format's errors derive from it."""


def finding_subject(finding: dict) -> str:
    """The resource as a reader finds it: its construct path, else stack/logical ID (or the stack)."""
    if finding.get("construct_path"):
        return finding["construct_path"]
    if finding.get("logical_id"):
        return f"{finding['stack']}/{finding['logical_id']}"
    return finding["stack"]


def plural(count: int, noun: str) -> str:
    """``1 finding``, ``1,234 findings``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _markdown(scorecard: dict, baseline: dict | None) -> str:
    from reports.markdown import render_markdown

    return render_markdown(scorecard, baseline=baseline)


def _html(scorecard: dict, baseline: dict | None) -> str:
    from reports.html import render_html

    return render_html(scorecard, baseline=baseline)


def _sarif(scorecard: dict, baseline: dict | None) -> str:
    from reports.sarif import sarif_text

    return sarif_text(scorecard)


def _junit(scorecard: dict, baseline: dict | None) -> str:
    from reports.junit import render_junit

    return render_junit(scorecard)


# format name -> (renderer returning the file's text, the file name `nox -s scorecard` writes beside scorecard.json).
# A renderer gets the scorecard and the baseline scorecard (or None), which only names the fixed findings.
RENDERERS: dict[str, tuple[Callable[[dict, dict | None], str], str]] = {
    "md": (_markdown, "scorecard.md"),
    "html": (_html, "scorecard.html"),
    "sarif": (_sarif, "scorecard.sarif"),
    "junit": (_junit, "junit.xml"),
}
FORMATS: tuple[str, ...] = tuple(RENDERERS)


def render(scorecard: dict, format: str, *, baseline: dict | None = None) -> str:
    """The scorecard rendered in ``format`` (one of :data:`FORMATS`); ``baseline`` is the scorecard it was gated
    against, when at hand."""
    if format not in RENDERERS:
        raise ValueError(f"unknown report format {format!r}; choose one of {', '.join(FORMATS)}")
    return RENDERERS[format][0](scorecard, baseline)


def render_combined(scorecards: Sequence[dict], format: str, *, baselines: Sequence[dict | None] | None = None,
                    links: Sequence[str] | None = None) -> str:
    """Several scorecards as one report in ``format``; ``baselines`` (one per scorecard, or None) name the fixed
    findings in Markdown, ``links`` (one per scorecard) are the hrefs of each target's own HTML report."""
    if format not in RENDERERS:
        raise ValueError(f"unknown report format {format!r}; choose one of {', '.join(FORMATS)}")
    if format == "md":
        from reports.markdown import render_markdown_combined

        return render_markdown_combined(scorecards, baselines=baselines)
    if format == "sarif":
        from reports.sarif import sarif_text

        return sarif_text(list(scorecards))
    if format == "junit":
        from reports.junit import render_junit_combined

        return render_junit_combined(list(scorecards))
    from reports.html import render_index

    return render_index(list(scorecards), links=list(links) if links is not None else None)
