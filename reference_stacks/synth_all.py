"""Synthesize reference systems into ``build/cdk.out/<system>-<variant>/`` and summarize them.

``python -m reference_stacks.synth_all`` (what ``nox -s synth`` runs) builds all
ten assemblies in worker processes, shows progress, prints a table of stacks,
resources and seconds, and writes the same figures to ``summary.json`` beside
the assemblies. ``--only webhook_pipeline-ideal`` narrows the set.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from reference_stacks.catalog import SYSTEMS, VARIANTS, UnknownReferenceError, resolve

DEFAULT_OUT = Path("build") / "cdk.out"
DEFAULT_SUFFIX = "dev"


@dataclass
class SynthResult:
    """What one synthesis produced (or why it failed)."""

    system: str
    variant: str
    outdir: str
    seconds: float
    stacks: list[str] = field(default_factory=list)
    nested_templates: int = 0
    resources: int = 0
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.system}-{self.variant}"


def count_assembly(outdir: Path) -> tuple[list[str], int, int]:
    """Stack names, nested-template count and total resources (nested stacks included)."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = [
        artifact_id
        for artifact_id, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
    ]
    templates = [outdir / manifest["artifacts"][s]["properties"]["templateFile"] for s in stacks]
    nested = sorted(outdir.glob("*.nested.template.json"))
    resources = sum(
        len(json.loads(template.read_text()).get("Resources", {}))
        for template in [*templates, *nested]
    )
    return stacks, len(nested), resources


def synthesize(system: str, variant: str, environment_suffix: str, outdir: str) -> SynthResult:
    """Synthesize one system/variant into a clean ``outdir``; never raises."""
    started = time.perf_counter()
    target = Path(outdir)
    try:
        from reference_stacks.app import build_app

        shutil.rmtree(target, ignore_errors=True)
        build_app(system, variant, environment_suffix, outdir=str(target)).synth()
        stacks, nested, resources = count_assembly(target)
        return SynthResult(
            system, variant, str(target), time.perf_counter() - started, stacks, nested, resources
        )
    except Exception:  # noqa: BLE001 - reported per assembly, the run goes on
        return SynthResult(
            system, variant, str(target), time.perf_counter() - started,
            error=traceback.format_exc(limit=8),
        )


def _worker_environment(validate: bool) -> None:
    """Runs in each worker before aws_cdk loads: jsii reads the environment once at start."""
    if validate:
        os.environ.pop("CDK_VALIDATION", None)
    else:
        os.environ["CDK_VALIDATION"] = "false"


def selected(only: Sequence[str], variants: Sequence[str] = VARIANTS) -> list[tuple[str, str]]:
    """The (system, variant) pairs named by ``--only`` (``system`` or ``system-variant``), or all, of ``variants``."""
    everything = [(system, variant) for system in SYSTEMS for variant in VARIANTS if variant in variants]
    if not only:
        return everything
    chosen: list[tuple[str, str]] = []
    for item in only:
        matches = [pair for pair in everything if item in (pair[0], f"{pair[0]}-{pair[1]}")]
        if not matches:
            names = ", ".join(f"{s}[-{'|'.join(VARIANTS)}]" for s in SYSTEMS)
            raise UnknownReferenceError(f"--only {item!r} matches nothing; use one of: {names}")
        chosen.extend(pair for pair in matches if pair not in chosen)
    return chosen


def run(
    pairs: Sequence[tuple[str, str]],
    out: Path,
    environment_suffix: str,
    jobs: int,
    validate: bool,
    console: Console,
) -> list[SynthResult]:
    """Synthesize ``pairs``: in this process when ``jobs == 1``, else in ``jobs`` worker processes."""
    results: list[SynthResult] = []
    columns = (
        TextColumn("[bold]synth[/]"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.description}"), TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("starting", total=len(pairs))

        def record(result: SynthResult) -> None:
            results.append(result)
            state = "failed" if result.error else f"{result.resources} resources"
            progress.update(task, advance=1, description=f"{result.name}: {state}")

        if jobs == 1:
            for system, variant in pairs:
                progress.update(task, description=f"{system}-{variant} ...")
                record(synthesize(system, variant, environment_suffix, str(out / f"{system}-{variant}")))
        else:
            # spawn, not fork: a forked jsii runtime is shared and corrupt.
            with ProcessPoolExecutor(
                max_workers=jobs, mp_context=get_context("spawn"),
                initializer=_worker_environment, initargs=(validate,),
            ) as pool:
                futures = [
                    pool.submit(synthesize, system, variant, environment_suffix,
                                str(out / f"{system}-{variant}"))
                    for system, variant in pairs
                ]
                for future in as_completed(futures):
                    record(future.result())
    order = {pair: index for index, pair in enumerate(pairs)}
    return sorted(results, key=lambda r: order[(r.system, r.variant)])


def summary_table(results: Sequence[SynthResult]) -> Table:
    """One row per assembly: stacks, nested templates, resources, seconds."""
    table = Table(title="Reference assemblies")
    for column in ("assembly", "stacks", "nested", "resources", "seconds", "status"):
        table.add_column(column, justify="right" if column in {"stacks", "nested", "resources", "seconds"} else "left")
    for r in results:
        table.add_row(
            r.name, str(len(r.stacks)), str(r.nested_templates), str(r.resources),
            f"{r.seconds:.1f}", "[red]failed[/]" if r.error else "[green]ok[/]",
        )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: exit 0 when every assembly synthesized, 1 when one failed, 2 on bad usage."""
    parser = argparse.ArgumentParser(
        prog="python -m reference_stacks.synth_all", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="assembly root (default: %(default)s)")
    parser.add_argument("--suffix", default=DEFAULT_SUFFIX, help="environment suffix (default: %(default)s)")
    parser.add_argument("--only", action="append", default=[], metavar="SYSTEM[-VARIANT]",
                        help="synthesize only these (repeatable)")
    parser.add_argument("--variant", action="append", choices=VARIANTS, default=[],
                        help="synthesize only this variant (repeatable; default: both)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes; 1 synthesizes in this process (default: %(default)s)")
    parser.add_argument("--no-validate", action="store_true",
                        help="skip CDK's built-in CloudFormation validator in workers (faster)")
    args = parser.parse_args(argv)
    console = Console(stderr=True, soft_wrap=True)
    try:
        pairs = selected(args.only, args.variant or VARIANTS)
        for system, variant in pairs:
            resolve(system, variant, args.suffix)
        if args.jobs < 1:
            raise UnknownReferenceError("--jobs must be at least 1")
    except UnknownReferenceError as error:
        console.print(f"[red]error:[/] {error}")
        return 2
    started = time.perf_counter()
    results = run(pairs, args.out, args.suffix, args.jobs, not args.no_validate, console)
    elapsed = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(
        json.dumps({"suffix": args.suffix, "seconds": round(elapsed, 2),
                    "assemblies": [asdict(r) for r in results]}, indent=2) + "\n"
    )
    Console().print(summary_table(results))
    failed = [r for r in results if r.error]
    for result in failed:
        console.print(f"[red]{result.name} failed to synthesize:[/]\n{result.error}")
    if failed:
        console.print(
            f"[red]{len(failed)} of {len(results)} assemblies failed[/]; fix the stack and rerun "
            f"with --only {failed[0].name} --jobs 1 for a direct traceback."
        )
        return 1
    console.print(f"{len(results)} assemblies in {args.out}/ ({elapsed:.1f} s); figures in {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
