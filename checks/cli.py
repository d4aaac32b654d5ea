"""The ``stackgrade`` command: ``grade`` (write scorecards and reports), ``gate`` (exit code for CI), ``live``
(deploy to LocalStack and probe), ``rules`` (the catalogue) and ``report`` (re-render stored scorecards).

Exit codes: 0 success (``gate``: passed; ``live``: every probe passed), 1 the gate failed (``live``: a probe
failed), 2 usage, input, engine or live error.
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from rich.console import Console
from rich.markup import escape as markup
from rich.table import Table

from checks.config import ConfigError, StackgradeConfig, load_config, parse_config
from checks.engines import DEFAULT_NAG_PACKS, ENGINE_NAMES, LIVE_ENGINE, NAG_PACKS, EngineOptions
from checks.live import LiveError
from checks.orchestrator import ENGINE_CLASSES, GradeOptions, Graded, InputError, Target, grade
from checks.scorecard import (
    EngineRun,
    ScorecardError,
    build_scorecard,
    read_scorecard,
    target_locations,
    write_scorecard,
)
from checks.assembly import Assembly, AssemblyError
from reports import RENDERERS, ReportError
from reports.sarif import check_path_prefix, with_path_prefix

if TYPE_CHECKING:  # pragma: no cover - typing only; the live step is imported when used
    from checks.live.run import LiveOptions, LiveResult

EXIT_OK, EXIT_GATE_FAILED, EXIT_ERROR = 0, 1, 2
REFERENCES = "references"
TEMPLATE_SUFFIXES = (".json", ".yaml", ".yml", ".template")
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
INDEX_FILE = "index.html"  # beside the targets' folders when a run grades several
WORST_SHOWN = 3  # findings the terminal summary names per failing target
PREFIX_HELP = ("the app directory's path from the repository root, for SARIF locations where git does not know it "
               "(a copy without .git, a submodule); default: found from the git work tree")


class UsageError(Exception):
    """Wrong arguments; the message says what to type instead."""


# --- targets ------------------------------------------------------------------------------------------------------


def resolve_targets(texts: Sequence[str]) -> list[Target]:
    """Paths (app dir, cloud assembly, template), reference names (``payments_dr-ideal``, ``payments_dr``) or
    ``references`` (all ten)."""
    from reference_stacks.catalog import SYSTEMS, VARIANTS

    targets: list[Target] = []
    for text in texts:
        path = Path(text)
        if path.exists():
            targets.append(_path_target(path))
        elif text == REFERENCES:
            targets.extend(Target("reference", f"{s}-{v}", system=s, variant=v) for s in SYSTEMS for v in VARIANTS)
        elif text in SYSTEMS:
            targets.extend(Target("reference", f"{text}-{v}", system=text, variant=v) for v in VARIANTS)
        elif text.rpartition("-")[0] in SYSTEMS and text.rpartition("-")[2] in VARIANTS:
            system, _, variant = text.rpartition("-")
            targets.append(Target("reference", text, system=system, variant=variant))
        else:
            raise UsageError(
                f"{text!r} is not a path that exists, nor a reference system ({', '.join(SYSTEMS)}, optionally "
                f"with -{'/-'.join(VARIANTS)}), nor {REFERENCES!r}"
            )
    names = [t.name for t in targets]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise UsageError(f"two targets share the name {clashes}: outputs would overwrite each other; grade them apart")
    return targets


def _path_target(path: Path) -> Target:
    path = path.resolve()
    if path.is_dir():
        if (path / "cdk.json").is_file():
            return Target("app", path.name, path)
        if (path / "manifest.json").is_file():
            return Target("assembly", path.name, path)
        raise UsageError(
            f"{path} is neither a CDK app directory (no cdk.json) nor a cloud assembly (no manifest.json); "
            "point at the folder with cdk.json, or at cdk.out after `cdk synth`"
        )
    if path.suffix in TEMPLATE_SUFFIXES:
        return Target("assembly", path.stem.removesuffix(".template"), path)
    raise UsageError(f"{path} is not a CloudFormation template (.json, .yaml, .yml, .template) nor a directory")


# --- options ------------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stackgrade",
        description="Grade AWS CDK apps with cdk-nag, checkov, cfn-guard and stackgrade's rules on one scorecard.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{grade,gate,live,rules,report}")
    for name, text in (
        ("grade", "grade targets and write build/reports/<name>/scorecard.json (exit 0 unless an error)"),
        ("gate", "grade targets and decide: exit 0 pass, 1 gate failed, 2 usage or engine error"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("targets", nargs="+", metavar="TARGET",
                             help="a CDK app directory (with cdk.json), a cloud assembly (cdk.out), a template, "
                                  "a reference system (payments_dr, payments_dr-ideal) or 'references' (all ten)")
        command.add_argument("--python", help="the interpreter of the app's environment (default: <app>/.venv, "
                                              "else the one cdk.json's app command names)")
        command.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE",
                             help="CDK context for the app, as `cdk synth -c` takes it")
        command.add_argument("--skip", action="append", default=[], choices=ENGINE_NAMES,
                             help="do not run this engine (recorded as skipped; repeatable)")
        command.add_argument("--nag-packs", default=",".join(DEFAULT_NAG_PACKS),
                             help=f"comma-separated cdk-nag packs (default %(default)s; any of {', '.join(NAG_PACKS)})")
        command.add_argument("--control-tower", action="store_true",
                             help="also run the AWS Control Tower proactive-control guard rules")
        command.add_argument("--timeout", type=float, default=300.0, help="seconds per engine per target (default 300)")
        command.add_argument("--config", type=Path, help="a stackgrade.toml or pyproject.toml ([tool.stackgrade]); "
                                                        "default: the one beside the app, else in the current folder")
        command.add_argument("--baseline", type=Path, help="a scorecard.json (one target) or a folder of "
                                                          "<name>/scorecard.json: only new findings fail the gate")
        command.add_argument("--min-score", type=float, help="fail the gate under this overall score (0-10)")
        command.add_argument("--build-dir", type=Path, default=Path("build"),
                             help="assemblies go to <dir>/cdk.out/<name>, scorecards to <dir>/reports/<name> "
                                  "(default: build)")
        command.add_argument("--suffix", default="dev", help="environment suffix of reference systems (default dev)")
        command.add_argument("--jobs", type=int, default=2, help="synthesis processes for reference systems")
        command.add_argument("--no-cache", action="store_true", help="grade from scratch (no cached results)")
        command.add_argument("--cache-dir", type=Path, help="cache folder (default $STACKGRADE_CACHE_DIR or "
                                                           "~/.cache/stackgrade)")
        command.add_argument("--sarif-path-prefix", metavar="PREFIX", help=PREFIX_HELP)
        command.add_argument("-q", "--quiet", action="store_true",
                             help="no progress; only the summary table and the report paths")
        command.add_argument("--live", action=argparse.BooleanOptionalAction, default=False,
                             help="also deploy each assembly to LocalStack and probe it: failed probes become "
                                  "findings of engine live, and the scorecard gets a live section")
        _live_arguments(command)
    text = ("deploy targets to LocalStack (embedded, or --endpoint), probe what their templates promise, tear them "
            "down; writes <build dir>/live/<name>/live.json and cfn-outputs/flat-outputs.json")
    live = commands.add_parser("live", help=text, description=text)
    live.add_argument("targets", nargs="+", metavar="TARGET", help="as for grade: an app directory, a cloud "
                      "assembly, a template, a reference system or 'references'")
    _live_arguments(live)
    live.add_argument("--build-dir", type=Path, default=Path("build"),
                      help="assemblies go to <dir>/cdk.out/<name>, live results to <dir>/live/<name> (default: build)")
    live.add_argument("--python", help="the interpreter of the app's environment (as for grade)")
    live.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE", help="CDK context")
    live.add_argument("--suffix", default="dev", help="environment suffix of reference systems (default dev)")
    live.add_argument("--jobs", type=int, default=2, help="synthesis processes for reference systems")
    live.add_argument("--no-cache", action="store_true", help="synthesize from scratch (no cached assemblies)")
    live.add_argument("--cache-dir", type=Path, help="cache folder (default $STACKGRADE_CACHE_DIR or "
                                                      "~/.cache/stackgrade)")
    live.add_argument("-q", "--quiet", action="store_true", help="no progress; only failed probes and the summary")
    rules = commands.add_parser("rules", help="list the rule catalogue", description="list the rule catalogue")
    rules.add_argument("--format", choices=("table", "json"), default="table")
    from reports import FORMATS

    text = ("re-render stored scorecards as a report (stdout unless -o); several make one report: a PR comment "
            "with a row per target, the HTML index page, one SARIF log with a run per target, one JUnit document")
    report = commands.add_parser("report", help=text, description=text)
    report.add_argument("scorecards", nargs="+", type=Path, metavar="SCORECARD",
                        help="a scorecard.json written by grade or gate")
    report.add_argument("--format", choices=FORMATS, default=FORMATS[0], help="report format (default %(default)s)")
    report.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the report here instead of stdout")
    report.add_argument("--baseline", type=Path, metavar="SCORECARD|DIR",
                        help="the baseline scorecard it was gated against (names the fixed findings); for several "
                             "scorecards a folder of <target name>/scorecard.json, as gate --baseline takes it")
    report.add_argument("--sarif-path-prefix", metavar="PREFIX", help=PREFIX_HELP)
    return parser


def _live_arguments(command: argparse.ArgumentParser) -> None:
    from checks.live.localstack import ENDPOINT_ENV_VAR

    command.add_argument("--endpoint", metavar="URL",
                         help=f"an existing LocalStack (e.g. http://127.0.0.1:4566) instead of the embedded one "
                              f"(default: ${ENDPOINT_ENV_VAR} when set)")
    command.add_argument("--allow-remote-endpoint", action="store_true",
                         help="accept an --endpoint that is not loopback (it must still be a LocalStack)")
    command.add_argument("--keep", action="store_true",
                         help="leave the stacks deployed (an embedded LocalStack waits for Enter on a terminal, "
                              "then stops)")
    command.add_argument("--probe-timeout", type=float, default=60.0, help="seconds per probe (default 60)")
    command.add_argument("--stack-timeout", type=float, default=300.0,
                         help="seconds to create or delete one stack (default 300)")


def _path_prefix(prefix: str | None) -> str | None:
    """The --sarif-path-prefix, checked before any work starts (PathPrefixError names what to give)."""
    if prefix is not None:
        check_path_prefix(prefix)
    return prefix


def _context(pairs: Sequence[str]) -> tuple[tuple[str, str], ...]:
    result = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"context {pair!r} must look like key=value")
        result.append((key, value))
    return tuple(result)


def _config(args: argparse.Namespace, targets: Sequence[Target]) -> StackgradeConfig:
    if args.config is not None:
        if not args.config.is_file():
            raise UsageError(f"--config {args.config}: no such file")
        directory = args.config.parent
        if args.config.name not in ("stackgrade.toml", "pyproject.toml"):
            raise UsageError(f"--config {args.config}: name it stackgrade.toml or pyproject.toml")
        config = load_config(directory)
    else:
        apps = [t.path for t in targets if t.kind == "app" and t.path is not None]
        config = load_config(apps[0] if len(apps) == 1 else Path.cwd())
    if args.min_score is not None:
        if not 0 <= args.min_score <= 10:
            raise UsageError("--min-score must be between 0 and 10")
        data = config.model_dump(mode="json", exclude_unset=True)
        data.setdefault("gate", {})["min_score"] = args.min_score
        config = parse_config(data, "--min-score")
    return config


def _options(args: argparse.Namespace, config: StackgradeConfig) -> GradeOptions:
    packs = tuple(p.strip() for p in args.nag_packs.split(",") if p.strip())
    unknown = sorted(set(packs) - set(NAG_PACKS))
    if unknown or not packs:
        raise UsageError(f"--nag-packs: unknown {unknown}; choose from {', '.join(NAG_PACKS)}")
    if args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    from checks.cache import default_cache_dir

    return GradeOptions(
        build_dir=args.build_dir,
        engine_options=EngineOptions(config=config, nag_packs=packs, guard_control_tower=args.control_tower),
        skip=frozenset(args.skip),
        timeout=args.timeout,
        cache_dir=None if args.no_cache else (args.cache_dir or default_cache_dir()),
        python=_python(args.python),
        context=_context(args.context),
        jobs=args.jobs,
        suffix=args.suffix,
        engines=tuple((n, ENGINE_CLASSES[n]) for n in ENGINE_NAMES),
    )


def _python(python: str | None) -> str | None:
    """A path is taken from the current folder (not the app's); a bare name is looked up on PATH."""
    if python is None:
        return None
    if "/" in python:
        # abspath, not resolve(): a venv's python is a symlink whose target would lose the venv.
        absolute = os.path.abspath(python)
        if not os.path.exists(absolute):
            raise UsageError(f"--python {python}: no such file")
        return absolute
    found = shutil.which(python)
    if found is None:
        raise UsageError(f"--python {python}: not found on PATH")
    return found


def _baselines(path: Path | None, targets: Sequence[Target]) -> dict[str, tuple[dict, Path] | None]:
    """Each target's baseline scorecard and its path, read (and checked) before any grading starts."""
    if path is None:
        return {t.name: None for t in targets}
    if path.is_dir():
        candidates = {t.name: path / t.name / "scorecard.json" for t in targets}
        return {name: (read_scorecard(c), c) if c.is_file() else None for name, c in candidates.items()}
    if len(targets) != 1:
        raise UsageError("--baseline FILE is for one target; for several, give a folder of <name>/scorecard.json")
    return {targets[0].name: (read_scorecard(path), path)}


# --- progress and summary -----------------------------------------------------------------------------------------


class ConsoleProgress:
    """One line per finished step, with the elapsed time; quiet when asked."""

    def __init__(self, console: Console, quiet: bool) -> None:
        self.console, self.quiet, self.started = console, quiet, time.perf_counter()

    def line(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"[dim]{time.perf_counter() - self.started:6.1f}s[/dim] {text}", highlight=False)

    def synthesized(self, target: Target, seconds: float, cached: bool) -> None:
        what = "from cache" if cached else (f"synthesized in {seconds:.1f} s" if target.kind != "assembly" else "loaded")
        self.line(f"{target.name}: assembly {what}")

    def engine_done(self, target: Target, run: EngineRun) -> None:
        if run.status == "ok" and run.result is not None:
            detail = f"{len(run.result.findings)} findings" + (" (cached)" if run.cached else f" in {run.seconds:.1f} s")
        elif run.status == "skipped":
            detail = f"[dim]skipped: {run.error}[/dim]"
        else:
            detail = f"[bold red]error: {run.error}[/bold red]"
        self.line(f"{target.name}: {run.name} {detail}")


def _summary(console: Console, scorecards: Sequence[tuple[Path, dict]], quiet: bool, index: Path | None) -> None:
    """The table; then per target its reports (HTML first), and for a failing one, unless quiet, the gate's
    reasons and its worst unsuppressed findings."""
    console.print(_table(scorecards))
    if index is not None:
        console.print(f"all targets: {markup(str(index))}")
    for path, card in scorecards:
        reports = report_files(path)
        also = f" (also {', '.join(p.name for p in reports[1:])})" if len(reports) > 1 else ""
        console.print(f"{markup(card['target']['name'])}: {markup(str(reports[0]))}{markup(also)}")
        if quiet or card["gate"]["passed"]:
            continue
        for reason in card["gate"]["reasons"]:
            console.print(f"  [red]gate[/red]: {markup(reason)}")
        worst = worst_findings(card)
        for finding in worst[:WORST_SHOWN]:
            console.print("  " + finding_line(finding, card))
        if len(worst) > WORST_SHOWN:
            console.print(f"  … and {len(worst) - WORST_SHOWN} more in {markup(reports[0].name)}")


def _table(scorecards: Sequence[tuple[Path, dict]]) -> Table:
    table = Table(title="stackgrade scorecard", title_justify="left")
    for column in ("target", "score", "gate", *SEVERITY_STYLE, "suppressed", "engines not run"):
        table.add_column(column, justify="left" if column in ("target", "gate", "engines not run") else "right")
    for _, card in scorecards:
        by_severity = card["summary"]["by_severity"]
        not_run = ", ".join(f"{e['name']} ({e['status']})" for e in card["engines"] if e["status"] != "ok")
        scores = card["scores"]
        overall = "n/a" if scores["overall"] is None else f"{scores['overall']} {scores.get('grade', '')}".strip()
        table.add_row(
            markup(card["target"]["name"]), overall,
            "[green]pass[/green]" if card["gate"]["passed"] else "[bold red]FAIL[/bold red]",
            *(f"[{style}]{by_severity.get(s, 0)}[/]" if by_severity.get(s) else "0" for s, style in SEVERITY_STYLE.items()),
            str(card["summary"]["suppressed"]), not_run or "-",
        )
    return table


def report_files(scorecard_path: Path) -> list[Path]:
    """The reports written beside a scorecard, the HTML page first (what a person opens), the scorecard last."""
    names = sorted((file_name for _, file_name in RENDERERS.values()), key=lambda name: not name.endswith(".html"))
    return [scorecard_path.parent / name for name in names if (scorecard_path.parent / name).is_file()] + \
        [scorecard_path]


def worst_findings(card: dict) -> list[dict]:
    """Unsuppressed findings, worst first; with a baseline only the new ones (the rest do not fail the gate)."""
    from checks.finding import SEVERITIES

    counted = [f for f in card["findings"] if not f.get("suppressed")]
    if card["gate"].get("baseline") is not None:
        counted = [f for f in counted if f.get("new")]
    return sorted(counted, key=lambda f: SEVERITIES.index(f["severity"]))


def finding_line(finding: dict, card: dict) -> str:
    """``high     SG-DLQ-001  Shop/Orders/Resource  infra/app/stack.py:12`` (markup-escaped): the CDK source line,
    else the resource's line in its stack's template; from the repository root when the scorecard knows it."""
    from reports import finding_subject

    locations = card["target"].get("locations") or {}
    source = finding.get("source") or {}
    if source.get("file"):
        where = f"{_in_repo(source['file'], locations.get('sources_in_repo'))}:{source.get('line') or 1}"
    else:
        stack = finding.get("nested_stack") or finding["stack"]
        template = (locations.get("templates") or {}).get(stack) or f"{stack}.template.json"
        where = f"{_in_repo(template, locations.get('templates_in_repo'))}:{finding.get('template_line') or 1}"
    severity = finding["severity"]
    return (f"[{SEVERITY_STYLE[severity]}]{severity:<8}[/] {markup(finding['rule_id'])}  "
            f"{markup(finding_subject(finding))}  [dim]{markup(where)}[/dim]")


def _in_repo(path: str, folder: str | None) -> str:
    return path if folder is None or posixpath.isabs(path) else posixpath.normpath(posixpath.join(folder, path))


def next_step(scorecards: Sequence[tuple[Path, dict]], index: Path | None, targets: Sequence[str]) -> str:
    """One line: what to open and what to do, or that nothing is to be done."""
    failing = [card for _, card in scorecards if not card["gate"]["passed"]]
    if not failing:
        return "[green]Next:[/green] nothing to fix; the gate passes."
    first = index or next(report_files(path)[0] for path, card in scorecards if not card["gate"]["passed"])
    again = " ".join(targets)
    return (f"[bold]Next:[/bold] open {markup(str(first))}, fix what the gate names (each finding says how) or "
            f"suppress it with a reason, then run `stackgrade gate {markup(again)}` again.")


# --- commands -----------------------------------------------------------------------------------------------------


def run_grade(args: argparse.Namespace, console: Console) -> tuple[int, list[dict]]:
    targets = resolve_targets(args.targets)
    prefix = _path_prefix(args.sarif_path_prefix)
    config = _config(args, targets)
    options = _options(args, config)
    baselines = _baselines(args.baseline, targets)
    written: list[tuple[Path, dict]] = []
    progress = ConsoleProgress(console, args.quiet)
    engines = [name for name in ENGINE_NAMES if name not in options.skip]
    progress.line(f"grading {len(targets)} target{'s' * (len(targets) != 1)} with {', '.join(engines) or 'no engine'}"
                  f"{'; synthesizing first' if any(t.kind != 'assembly' for t in targets) else ''}")
    if not args.live and (args.endpoint or args.keep or args.allow_remote_endpoint):
        raise UsageError("--endpoint, --allow-remote-endpoint and --keep are for the live step; add --live")
    live_options = _live_options(args) if args.live else None
    results: Iterable[Graded] = grade(targets, options, progress)
    live: dict[str, LiveResult] = {}
    if live_options is not None:
        results = list(results)  # one LocalStack for every target, after the static engines
        live = _run_live(results, live_options, progress, console)
    for graded in results:
        card = with_path_prefix(_scorecard(graded, config, baselines[graded.target.name],
                                           live.get(graded.target.name)), prefix)
        path = options.build_dir / "reports" / graded.target.name / "scorecard.json"
        write_scorecard(card, path)
        baseline = baselines[graded.target.name]
        for renderer, file_name in RENDERERS.values():  # every report beside its scorecard
            (path.parent / file_name).write_text(renderer(card, baseline[0] if baseline else None), encoding="utf-8")
        written.append((path, card))
    order = [t.name for t in targets]
    written.sort(key=lambda item: order.index(item[1]["target"]["name"]))
    index = _write_index(options.build_dir / "reports", written) if len(written) > 1 else None
    _summary(console, written, args.quiet, index)
    errors = [e for _, card in written for e in card["engines"] if e["status"] == "error"]
    for engine in errors:
        remedy = ("leave out --live" if engine["name"] == LIVE_ENGINE else
                  f"pass --skip {engine['name']} to grade without it (the gate then records it as skipped)")
        console.print(f"[bold red]engine error[/bold red] {engine['name']}: {markup(engine['error'])} — fix it, or "
                      f"{remedy}", highlight=False)
    console.print(next_step(written, index, args.targets))
    return (EXIT_ERROR if errors else EXIT_OK), [card for _, card in written]


def _write_index(folder: Path, written: Sequence[tuple[Path, dict]]) -> Path:
    """``<reports>/index.html``: the page comparing the targets graded in this run, linking each one's page."""
    from reports.html import render_index

    links = [path.parent.relative_to(folder).joinpath("scorecard.html").as_posix() for path, _ in written]
    index = folder / INDEX_FILE
    index.write_text(render_index([card for _, card in written], links=links), encoding="utf-8")
    return index


def _scorecard(graded: Graded, config: StackgradeConfig, baseline: tuple[dict, Path] | None,
               live: LiveResult | None = None) -> dict:
    target = graded.target.describe() | {"assembly": str(graded.assembly)}
    # A lone template is graded through a JSON copy; its findings point at the file the user gave.
    lone = graded.target.kind == "assembly" and graded.target.path is not None and graded.target.path.is_file()
    assembly = Assembly.load(graded.target.path if lone else graded.assembly)
    target["locations"] = target_locations(_sources(graded), assembly)
    runs = graded.runs + ([live.engine_run()] if live is not None else [])
    return build_scorecard(target=target, assembly=assembly, runs=runs, config=config,
                           synth_record=graded.synth_record, baseline=baseline[0] if baseline else None,
                           baseline_path=baseline[1] if baseline else None,
                           live=live.section() if live is not None else None)


def _sources(graded: Graded) -> Path:
    """The folder the synthesis recorded source files relative to: the app directory; for the reference
    systems stackgrade's own; for an assembly or template given as such, the folder holding it (where the app
    that made it usually is)."""
    if graded.target.kind == "reference":
        from checks.synthesis.synth import PROJECT_ROOT

        return PROJECT_ROOT
    assert graded.target.path is not None
    return graded.target.path if graded.target.kind == "app" else graded.target.path.resolve().parent


# --- live ---------------------------------------------------------------------------------------------------------


RESULT_STYLE = {"pass": "green", "fail": "bold red", "not-emulated": "yellow"}


def _live_options(args: argparse.Namespace) -> LiveOptions:
    """The live step's options; the endpoint policy is checked at once, before any synthesis or grading."""
    from checks.live.localstack import ENDPOINT_ENV_VAR, external_endpoint
    from checks.live.run import LiveOptions

    for flag, value in (("--probe-timeout", args.probe_timeout), ("--stack-timeout", args.stack_timeout)):
        if value <= 0:
            raise UsageError(f"{flag} must be a positive number of seconds")
    endpoint = args.endpoint or os.environ.get(ENDPOINT_ENV_VAR, "").strip() or None
    if endpoint is not None:
        endpoint = external_endpoint(endpoint, args.allow_remote_endpoint).url
    return LiveOptions(endpoint=endpoint, allow_remote=args.allow_remote_endpoint, keep=args.keep,
                       build_dir=args.build_dir / "live", probe_timeout=args.probe_timeout,
                       stack_timeout=args.stack_timeout, cache_dir=getattr(args, "cache_dir", None))


def _run_live(graded: Sequence[Graded], options: LiveOptions, progress: ConsoleProgress,
              console: Console) -> dict[str, LiveResult]:
    """Each graded target verified on one LocalStack; when none can be had, each target's live run is that error."""
    from checks.live.run import LiveResult, LiveTarget, run_live

    targets = [LiveTarget(g.target.name, g.assembly) for g in graded]
    try:
        results = run_live(targets, options, progress.line, on_kept=lambda endpoint: _wait_while_kept(endpoint,
                                                                                                       console))
    except LiveError as error:
        results = [LiveResult(target, status="error", error=str(error)) for target in targets]
    return {result.target.name: result for result in results}


def _wait_while_kept(endpoint, console: Console) -> None:
    """With --keep, an embedded LocalStack stays up until Enter on a terminal (its stacks vanish with it)."""
    if endpoint.kind != "embedded":
        return
    if not sys.stdin.isatty():
        console.print("[yellow]--keep:[/yellow] the embedded LocalStack stops now and takes the stacks with it; "
                      "use --endpoint with a LocalStack of your own to keep them")
        return
    console.print(f"Stacks kept at {endpoint.url} (fake credentials test/test, region {endpoint.region}); "
                  "press Enter to stop LocalStack")
    input()


def _probe_table(result: LiveResult, only_failures: bool) -> Table:
    table = Table(title=f"{result.target.name}: live probes", title_justify="left")
    for column in ("stack", "resource", "kind", "result", "detail", "s"):
        table.add_column(column, justify="right" if column == "s" else "left")
    for probe in result.probes:
        if only_failures and probe.result != "fail":
            continue
        table.add_row(markup(probe.stack), markup(probe.logical_id or "-"), probe.kind,
                      f"[{RESULT_STYLE[probe.result]}]{probe.result}[/]", markup(probe.detail), f"{probe.seconds:.1f}")
    return table


class LiveProgress(ConsoleProgress):
    """The live command's progress: synthesis and the live step, not the engines it skips."""

    def engine_done(self, target: Target, run: EngineRun) -> None:
        pass


def _live_summary(console: Console, result: LiveResult, path: Path, quiet: bool) -> None:
    if result.probes:
        console.print(_probe_table(result, quiet))
    counts = result.section()["summary"]
    status = ("[bold red]error[/bold red]" if result.status == "error" else
              "[bold red]probes failed[/bold red]" if result.failed_probes else "[green]ok[/green]")
    timings = ", ".join(f"{key} {value:.1f} s" for key, value in result.timings.items() if value is not None)
    console.print(f"{markup(result.target.name)}: {status} — {counts['pass']} passed, {counts['fail']} failed, "
                  f"{counts['not-emulated']} not emulated; {timings}; {markup(str(path))}")
    for stack in result.stacks:
        if stack.not_emulated:
            listed = ", ".join(f"{name} ({kind})" for name, kind in stack.not_emulated)
            console.print(f"  [yellow]not emulated[/yellow] in {markup(stack.name)}: {markup(listed)}")
    if result.error:
        console.print(f"  [bold red]error:[/bold red] {markup(result.error)}")


def run_live_command(args: argparse.Namespace, console: Console) -> int:
    """``stackgrade live``: synthesize (or load) the targets, then deploy, probe and tear down each on one LocalStack."""
    from checks.cache import default_cache_dir
    from checks.live.run import LiveTarget, run_live

    targets = resolve_targets(args.targets)
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    options = _live_options(args)
    progress = LiveProgress(console, args.quiet)
    synthesis = GradeOptions(build_dir=args.build_dir, skip=frozenset(ENGINE_NAMES),
                             cache_dir=None if args.no_cache else (args.cache_dir or default_cache_dir()),
                             python=_python(args.python), context=_context(args.context), jobs=args.jobs,
                             suffix=args.suffix)
    assemblies = [LiveTarget(g.target.name, g.assembly) for g in grade(targets, synthesis, progress)]
    results = run_live(assemblies, options, progress.line,
                       on_kept=lambda endpoint: _wait_while_kept(endpoint, console))
    for result in results:
        _live_summary(console, result, options.build_dir / result.target.name, args.quiet)
    if any(r.status == "error" for r in results):
        return EXIT_ERROR
    return EXIT_GATE_FAILED if any(r.failed_probes for r in results) else EXIT_OK


def run_rules(args: argparse.Namespace, console: Console) -> int:
    """stackgrade's own rules: the Python catalogue (engine stackgrade), the .guard rules (engine cfn-guard) and the
    rules proven by probing the deployed app (engine live)."""
    from rules import all_rules
    from rules.guard import guard_rules
    from rules.live import live_rules

    rules = sorted([(r, "stackgrade") for r in all_rules()] + [(r, "cfn-guard") for r in guard_rules()]
                   + [(r, "live") for r in live_rules()], key=lambda item: item[0].id)
    if args.format == "json":
        print(json.dumps([{"id": r.id, "title": r.title, "severity": r.severity, "category": r.category,
                           "concerns": list(r.concerns), "engine": engine} for r, engine in rules], indent=2))
        return EXIT_OK
    table = Table(title=f"stackgrade rules ({len(rules)}); docs/rules.md has each rule's rationale and fix",
                  title_justify="left")
    for column in ("id", "severity", "category", "engine", "title"):
        table.add_column(column)
    for rule, engine in rules:
        table.add_row(rule.id, f"[{SEVERITY_STYLE[rule.severity]}]{rule.severity}[/]", rule.category, engine,
                      rule.title)
    console.print(table)
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    """Render stored scorecards; written as plain text (never through rich, which would read markup in it)."""
    from reports import render, render_combined

    prefix = _path_prefix(args.sarif_path_prefix)
    cards = [with_path_prefix(read_scorecard(path), prefix) for path in args.scorecards]
    names = [card["target"].get("name") for card in cards]
    clashes = sorted({str(n) for n in names if names.count(n) > 1})
    if clashes:
        raise UsageError(f"several scorecards of the target {', '.join(clashes)}: one report holds each target once "
                         "(its SARIF category, its baseline); report them apart")
    baselines = _report_baselines(args.baseline, args.scorecards, names)
    if len(cards) == 1:
        text = render(cards[0], args.format, baseline=baselines[0])
    else:
        start = args.output.parent if args.output is not None else Path.cwd()
        links = [Path(os.path.relpath(path.parent / "scorecard.html", start.resolve())).as_posix()
                 for path in (p.resolve() for p in args.scorecards)]
        text = render_combined(cards, args.format, baselines=baselines, links=links)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"-o {args.output}: cannot write the report ({error.strerror}); choose another path") from None
    return EXIT_OK


def _report_baselines(path: Path | None, scorecards: Sequence[Path], names: Sequence[object]) -> list[dict | None]:
    """One baseline per scorecard: a file for a single scorecard, else a folder matched by target name (a target
    without a folder there has none, as gate --baseline does it)."""
    if path is None:
        return [None] * len(scorecards)
    if path.is_dir():
        found = [path / str(name) / "scorecard.json" for name in names]
        return [read_scorecard(candidate) if candidate.is_file() else None for candidate in found]
    if len(scorecards) != 1:
        raise UsageError(f"--baseline {path}: for several scorecards give a folder of <target name>/scorecard.json "
                         "(like the build/reports of the base commit), not one file")
    return [read_scorecard(path)]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Messages are never wrapped (a path split over lines cannot be copied); tables get room in CI logs too.
    console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        if args.command == "rules":
            return run_rules(args, console)
        if args.command == "report":
            return run_report(args)
        if args.command == "live":
            return run_live_command(args, console)
        code, cards = run_grade(args, console)
        if args.command == "gate" and code == EXIT_OK:
            code = EXIT_OK if all(card["gate"]["passed"] for card in cards) else EXIT_GATE_FAILED
        return code
    except (UsageError, InputError, ConfigError, ScorecardError, AssemblyError, ReportError, LiveError) as error:
        errors.print(f"[bold red]stackgrade {args.command}:[/bold red] {error}", highlight=False)
        return EXIT_ERROR
    except KeyboardInterrupt:
        errors.print("stackgrade: interrupted; no scorecard written for unfinished targets")
        return 130


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
