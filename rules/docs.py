"""Rule documentation generated from rule metadata: ``docs/rules.md`` and ``docs/rules/<ID>.md``.

``python -m rules.docs`` (``nox -s docs``) writes the index and one page per rule,
the Python catalogue's and the cfn-guard rules' (``rules/guard/``) alike, with
the rule's passing and failing fixtures (for a guard rule: its ``cfn-guard
test`` cases) as good and bad examples;
``python -m rules.docs --check`` writes nothing and exits 1 when a file is
stale, missing or left over from a removed rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

from rules import all_rules, rule_modules
from rules.guard import GuardRule, guard_rules, split_header
from rules.live import LiveRule, live_rules
from rules.rule import Rule

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FIXTURES = ROOT / "tests" / "rules" / "fixtures"
PAGES = "rules"  # docs/rules/<ID>.md, beside the index docs/rules.md
TEST_METADATA = "stackgrade-test"
STACK_SUBJECT = "(stack)"  # how fixtures name a stack-level violation
GENERATED = "<!-- Generated from rule metadata by `nox -s docs` (python -m rules.docs); do not edit. -->"
SEVERITY_MEANING = {
    "critical": "an exploitable security hole",
    "high": "an outage or data loss goes unnoticed or unhandled",
    "medium": "weakens operations",
    "low": "hygiene",
    "info": "for information",
}
SCOPE_SUBJECT = {"stack": "each top-level stack (nested stacks included)", "assembly": "the whole app, once"}
ENGINE_OF = {Rule: "stackgrade", GuardRule: "cfn-guard", LiveRule: "live"}
LIVE_RESULTS = ("`pass`; `fail` (reported as a finding of engine `live`); `not-emulated` (LocalStack cannot show it: "
                "listed, never passed).")


@dataclass(frozen=True)
class Fixture:
    """One fixture template of a rule, as the docs show it."""

    path: Path
    passes: bool
    text: str  # the YAML without the test harness's metadata
    offending: tuple[str, ...]
    settings: dict


def render_all(fixtures_dir: Path = FIXTURES) -> dict[str, str]:
    """Every generated file: path relative to docs/ -> content."""
    rules = all_rules()
    guards = guard_rules()
    live = live_rules()
    check_unique(rules, guards, live)
    modules = rule_modules()
    files = {f"{PAGES}.md": render_index(rules, guards, live)}
    for rule in rules:
        module = modules[rule.id]
        files[f"{PAGES}/{rule.id}.md"] = render_page(rule, module, load_fixtures(fixtures_dir / module))
    for guard in guards:
        files[f"{PAGES}/{guard.id}.md"] = render_guard_page(guard, load_guard_tests(guard))
    for rule in live:
        files[f"{PAGES}/{rule.id}.md"] = render_live_page(rule)
    return files


def check_unique(rules: Sequence[Rule], guards: Sequence[GuardRule], live: Sequence[LiveRule] = ()) -> None:
    """No two rules of the catalogue, the guard rules and the live rules share an id or a title."""
    for attribute, named in (("id", "an id"), ("title", "a title")):
        values = [getattr(r, attribute) for r in (*rules, *guards, *live)]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise ValueError(f"catalogue and guard rules share {named}: {duplicates}")


def render_index(rules: Sequence[Rule], guards: Sequence[GuardRule] = (), live: Sequence[LiveRule] = ()) -> str:
    every = sorted((*rules, *guards, *live), key=lambda r: r.id)
    lines = [
        GENERATED,
        "",
        "# Rule catalogue",
        "",
        f"stackgrade's own rules ({len(every)}): {len(rules)} in Python (`rules/catalogue/`, engine "
        f"`stackgrade`), {len(guards)} in cfn-guard (`rules/guard/`, engine `cfn-guard`) and {len(live)} "
        f"proven live by probes of the deployed app (`rules/live.py`, engine `live`), one page each "
        f"under [`rules/`]({PAGES}/). Severity: "
        + "; ".join(f"**{level}** = {meaning}" for level, meaning in SEVERITY_MEANING.items() if level != "info")
        + ".",
        "",
        "| Id | Title | Severity | Category | Concerns | Engine |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| [{r.id}]({PAGES}/{r.id}.md) | {_cell(r.title)} | {r.severity} | {r.category} | "
        f"{', '.join(f'`{c}`' for c in r.concerns)} | {ENGINE_OF[type(r)]} |"
        for r in every
    ]
    return "\n".join(lines) + "\n"


def _page_header(rule: Rule | GuardRule, applies: str, engine: str, source: str) -> list[str]:
    """The title and metadata table every rule page starts with."""
    return [
        GENERATED,
        "",
        f"# {rule.id}: {rule.title}",
        "",
        "| | |",
        "|---|---|",
        f"| Id | `{rule.id}` |",
        f"| Severity | {rule.severity} ({SEVERITY_MEANING[rule.severity]}) |",
        f"| Category | {rule.category} |",
        f"| Concerns | {', '.join(f'`{c}`' for c in rule.concerns)} |",
        f"| Applies to | {applies} |",
        f"| Engine | {engine} |",
        f"| Source | [`{source}`](../../{source}) |",
    ]


def render_page(rule: Rule, module: str, fixtures: Sequence[Fixture]) -> str:
    applies = SCOPE_SUBJECT.get(rule.scope) or ", ".join(f"`{t}`" for t in rule.applies_to)
    lines = [
        *_page_header(rule, applies, "stackgrade", f"rules/catalogue/{module}.py"),
        "",
        "## Why",
        "",
        rule.rationale.strip(),
        "",
        "## Fix",
        "",
        rule.remediation.strip(),
        "",
    ]
    if rule.seeds:
        lines += ["## Seen in the seeds", "", *(f"- {seed}" for seed in rule.seeds), ""]
    lines += ["## Examples", ""]
    bad = next((f for f in fixtures if not f.passes), None)
    good = next((f for f in fixtures if f.passes), None)
    if bad is None and good is None:
        lines += ["No fixtures yet.", ""]
    for fixture, heading in ((bad, "Bad"), (good, "Good")):
        if fixture is not None:
            lines += _example(fixture, heading, module)
    others = [f for f in fixtures if f is not bad and f is not good]
    if others:
        lines += ["More cases:", ""]
        lines += [f"- [`{f.path.name}`]({_fixture_link(module, f)}): {_verdict(f)}" for f in others]
        lines.append("")
    lines += [f"[All rules](../{PAGES}.md)"]
    return "\n".join(lines) + "\n"


def _example(fixture: Fixture, heading: str, module: str) -> list[str]:
    lines = [f"### {heading}: [`{fixture.path.name}`]({_fixture_link(module, fixture)})", "",
             f"The rule {_verdict(fixture, mention_settings=False)}", ""]
    if fixture.settings:
        lines += ["With these settings:", "", "```toml", "[tool.stackgrade]", *_toml(fixture.settings), "```", ""]
    lines += ["```yaml", fixture.text, "```", ""]
    return lines


def _verdict(fixture: Fixture, mention_settings: bool = True) -> str:
    suffix = f" (with settings `{json.dumps(fixture.settings)}`)" if fixture.settings and mention_settings else ""
    if fixture.passes:
        return f"flags nothing{suffix}."
    names = ["the stack" if name == STACK_SUBJECT else f"`{name}`" for name in fixture.offending]
    return f"flags {', '.join(names)}{suffix}."


def _fixture_link(module: str, fixture: Fixture) -> str:
    return f"../../tests/rules/fixtures/{module}/{fixture.path.name}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


# --- guard rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuardCase:
    """One ``cfn-guard test`` case of a guard rule: its name, input template and expected status."""

    name: str
    template: dict
    expected: str  # PASS, FAIL or SKIP


def load_guard_tests(rule: GuardRule) -> list[GuardCase]:
    """The rule's test cases from ``rules/guard/tests/<name>_tests.yaml``, in file order (none if missing)."""
    if not rule.tests_path.is_file():
        return []
    cases = yaml.safe_load(rule.tests_path.read_text(encoding="utf-8")) or []
    return [GuardCase(str(case.get("name", "")), case.get("input") or {},
                      str(((case.get("expectations") or {}).get("rules") or {}).get(rule.name, "")))
            for case in cases if isinstance(case, dict)]


def render_guard_page(rule: GuardRule, cases: Sequence[GuardCase]) -> str:
    source = f"rules/guard/{rule.path.name}"
    lines = [
        *_page_header(rule, ", ".join(f"`{t}`" for t in rule.applies_to), f"cfn-guard (Guard rule `{rule.name}`)",
                      source),
        "",
        "## Why",
        "",
        rule.rationale,
        "",
        "## Fix",
        "",
        rule.remediation,
        "",
    ]
    if rule.seeds:
        lines += ["## Seen in the seeds", "", *(f"- {seed}" for seed in rule.seeds), ""]
    lines += ["## Examples", ""]
    bad = next((c for c in cases if c.expected == "FAIL"), None)
    good = next((c for c in cases if c.expected == "PASS"), None)
    if bad is None and good is None:
        lines += ["No test cases yet.", ""]
    for case, heading, verdict in ((bad, "Bad", "fails"), (good, "Good", "passes")):
        if case is not None:
            lines += [f"### {heading}: {case.name}", "", f"The rule {verdict}.", "",
                      "```yaml", yaml.safe_dump(case.template, sort_keys=False, width=100).rstrip(), "```", ""]
    others = [c for c in cases if c is not bad and c is not good]
    tests = f"rules/guard/{rule.tests_path.parent.name}/{rule.tests_path.name}"
    if others:
        lines += [f"More cases in [`{rule.tests_path.name}`](../../{tests}):", ""]
        lines += [f"- {case.name}: {case.expected}" for case in others]
        lines.append("")
    lines += [
        "## The Guard rule",
        "",
        "```",
        split_header(rule.path.read_text(encoding="utf-8"))[1].strip("\n"),
        "```",
        "",
        "## Suppressing it",
        "",
        "cfn-guard has no suppressions of its own; stackgrade follows the Guard rules registry's convention "
        f"and reports the finding as suppressed when the resource lists `{rule.name}` (or `{rule.id}`) under "
        "`Metadata: guard: SuppressedRules:`. That form has no room for a reason, so the suppression is "
        "itself reported as lacking one.",
        "",
        f"[All rules](../{PAGES}.md)",
    ]
    return "\n".join(lines) + "\n"


# --- live rules ------------------------------------------------------------------------------


def render_live_page(rule: LiveRule) -> str:
    kinds = ", ".join(f"`{kind}`" for kind in rule.kinds)
    lines = [
        *_page_header(rule, ", ".join(f"`{t}`" for t in rule.applies_to), f"live (probe kind {kinds})", rule.source),
        "",
        "## Why",
        "",
        rule.rationale,
        "",
        "## Fix",
        "",
        rule.remediation,
        "",
        "## How it is probed",
        "",
        rule.probe,
        "",
        f"Results: {LIVE_RESULTS} `stackgrade live` and `stackgrade grade --live` deploy the app to LocalStack "
        "and run the probe on every matching resource.",
        "",
    ]
    if rule.seeds:
        lines += ["## Seen in the seeds", "", *(f"- {seed}" for seed in rule.seeds), ""]
    fixture = ROOT / rule.fixture
    notes = [line[2:] if line.startswith("# ") else line[1:]
             for line in fixture.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    lines += [
        "## Examples",
        "",
        f"The live tests deploy [`{fixture.name}`](../../{rule.fixture}), break some of its resources the way "
        "drift would, and check which pass and which fail:",
        "",
        *(f"> {note}" if note else ">" for note in notes),
        "",
        f"[All rules](../{PAGES}.md)",
    ]
    return "\n".join(lines) + "\n"


# --- fixtures ----------------------------------------------------------------------------------


def load_fixtures(directory: Path) -> list[Fixture]:
    """A rule's fixtures: failing ones first, those needing no settings first, then by name."""
    from checks.assembly import load_template

    found = []
    for path in sorted(directory.glob("*.yaml")):
        spec = (load_template(path).get("Metadata") or {}).get(TEST_METADATA) or {}
        found.append(Fixture(
            path=path,
            passes=path.name.endswith(".pass.yaml"),
            text=strip_test_metadata(path.read_text()),
            offending=tuple(spec.get("offending") or ()),
            settings=spec.get("config") or {},
        ))
    # The first of each kind is the page's example; plain defaults make the clearest one.
    return sorted(found, key=lambda f: (f.passes, bool(f.settings), f.path.name))


def strip_test_metadata(text: str) -> str:
    """The template without ``Metadata.stackgrade-test`` (and ``Metadata:`` if nothing else is left)."""
    lines = text.rstrip().splitlines()
    metadata = next((i for i, line in enumerate(lines) if line.startswith("Metadata:")), None)
    if metadata is None:
        return "\n".join(lines).strip("\n")
    if lines[metadata].rstrip() != "Metadata:":  # flow style, `Metadata: {stackgrade-test: ...}`
        keep = TEST_METADATA not in lines[metadata]
        return "\n".join(lines[:metadata] + lines[metadata:metadata + 1] * keep + lines[metadata + 1:]).strip("\n")
    end = metadata + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
    block = lines[metadata + 1:end]
    kept: list[str] = []
    skipping_indent: int | None = None
    for line in block:
        indent = len(line) - len(line.lstrip())
        if skipping_indent is not None and (not line.strip() or indent > skipping_indent):
            continue
        skipping_indent = None
        if line.strip().startswith(f"{TEST_METADATA}:"):
            skipping_indent = indent
            continue
        kept.append(line)
    if not any(line.strip() and not line.lstrip().startswith("#") for line in kept):
        kept = []
    header = [lines[metadata]] if kept else []
    return "\n".join(lines[:metadata] + header + kept + lines[end:]).strip("\n")


def _toml(settings: dict) -> list[str]:
    return [f"{key} = {_toml_value(value)}" for key, value in settings.items()]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


# --- writing and checking ----------------------------------------------------------------------


def differences(docs_dir: Path, files: dict[str, str]) -> list[str]:
    """What is out of date under ``docs_dir``: ``stale: X``, ``missing: X``, ``extra: X``."""
    problems = []
    for name, content in sorted(files.items()):
        path = docs_dir / name
        if not path.is_file():
            problems.append(f"missing: {_shown(path)}")
        elif path.read_text() != content:
            problems.append(f"stale: {_shown(path)}")
    problems += [f"extra: {_shown(path)}" for path in _extra(docs_dir, files)]
    return problems


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def write(docs_dir: Path, files: dict[str, str]) -> list[str]:
    """Write what changed and delete pages of removed rules; returns what was done."""
    done = [p.replace("stale:", "updated:").replace("missing:", "created:").replace("extra:", "removed:")
            for p in differences(docs_dir, files)]
    for name, content in files.items():
        path = docs_dir / name
        if not path.is_file() or path.read_text() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    for path in _extra(docs_dir, files):
        path.unlink()
    return done


def _extra(docs_dir: Path, files: dict[str, str]) -> list[Path]:
    # docs/rules/ is wholly generated, so any page there we did not generate is left over.
    return sorted(p for p in (docs_dir / PAGES).glob("*.md") if p.relative_to(docs_dir).as_posix() not in files)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the docs (exit 0), or with ``--check`` exit 1 when they are out of date."""
    parser = argparse.ArgumentParser(prog="python -m rules.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if docs are out of date")
    parser.add_argument("--docs-dir", type=Path, default=DOCS, help="where the docs live (default: %(default)s)")
    args = parser.parse_args(argv)
    files = render_all()
    if args.check:
        problems = differences(args.docs_dir, files)
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} rule doc file(s) out of date; run `nox -s docs` (python -m rules.docs)")
            return 1
        print(f"{len(files)} rule doc files are up to date")
        return 0
    for line in write(args.docs_dir, files):
        print(line)
    print(f"{len(files)} rule doc files in {_shown(args.docs_dir)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
