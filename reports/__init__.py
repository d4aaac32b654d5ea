"""Scorecard rendering: JSON (the contract), Markdown, HTML, SARIF 2.1.0 and JUnit XML.

:func:`render` dispatches on the format name; :data:`FORMATS` lists the formats that exist (the CLI's
``stackgrade report --format`` choices come from it).
"""

from __future__ import annotations

from collections.abc import Callable


def finding_subject(finding: dict) -> str:
    """The resource as a reader finds it: its construct path, else stack/logical ID (or the stack)."""
    if finding.get("construct_path"):
        return finding["construct_path"]
    if finding.get("logical_id"):
        return f"{finding['stack']}/{finding['logical_id']}"
    return finding["stack"]


def _markdown(scorecard: dict, baseline: dict | None) -> str:
    from reports.markdown import render_markdown

    return render_markdown(scorecard, baseline=baseline)


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
