"""How fast the four-engine gate is: the ten reference assemblies cold and warm, and one small app end to end.

Goals (issue 4): the full cold run takes no more than 1.2x the slowest single engine (the engines really run
side by side: asserted against that engine's own seconds in the same run; the ratio to the engine run alone,
which on 2 cores also pays for the others' CPU, is reported beside it); a warm re-run of unchanged sources
takes under 10 % of the cold run; a ~20-resource app through the whole gate, synthesis included, in under
5 s median. Figures go to the end-of-run summary.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from checks.engines import ENGINE_NAMES
from checks.orchestrator import ENGINE_CLASSES, GradeOptions, Target, grade
from reference_stacks.catalog import SYSTEMS, VARIANTS

pytestmark = pytest.mark.bench

ROOT = Path(__file__).parents[2]
SMALL_APP = ROOT / "tests" / "fixtures" / "apps" / "small_service"
REFERENCES = [Target("reference", f"{s}-{v}", system=s, variant=v) for s in SYSTEMS for v in VARIANTS]
ROUNDS = 5


def _grade(targets, tmp: Path, cache: Path | None, skip=frozenset()) -> tuple[float, dict[str, float], list]:
    options = GradeOptions(build_dir=tmp / "build", cache_dir=cache, skip=frozenset(skip),
                           engines=tuple((n, ENGINE_CLASSES[n]) for n in ENGINE_NAMES))
    started = time.perf_counter()
    graded = list(grade(targets, options))
    wall = time.perf_counter() - started
    per_engine: dict[str, float] = defaultdict(float)
    for item in graded:
        for run in item.runs:
            assert run.status != "error", f"{item.target.name}: {run.name}: {run.error}"
            per_engine[run.name] += run.seconds
    return wall, dict(per_engine), graded


def test_reference_assemblies_cold_warm_and_each_engine_alone(tmp_path, bench_report):
    cold, per_engine, graded = _grade(REFERENCES, tmp_path / "cold", tmp_path / "cache")
    assert len(graded) == 10
    warm, _, warm_graded = _grade(REFERENCES, tmp_path / "cold", tmp_path / "cache")
    assert all(run.cached for item in warm_graded for run in item.runs if run.status == "ok")

    # Each engine alone, cold: cdk-nag's run is the synthesis with the packs; the others grade the
    # assemblies the cold run wrote.
    assemblies = [Target("assembly", t.name, tmp_path / "cold" / "build" / "cdk.out" / t.name) for t in REFERENCES]
    alone = {}
    for engine in ENGINE_NAMES:
        others = set(ENGINE_NAMES) - {engine}
        targets = REFERENCES if engine == "cdk-nag" else assemblies
        alone[engine], _, _ = _grade(targets, tmp_path / f"alone-{engine}", None, skip=others)
    slowest = max(alone, key=alone.get)

    bench_report(f"ten reference assemblies, cold: {cold:.1f} s wall; engine seconds inside it: "
                 + ", ".join(f"{n} {s:.1f}" for n, s in per_engine.items()) + " (cdk-nag includes synthesis)")
    bench_report("each engine alone, cold: " + ", ".join(f"{n} {s:.1f} s" for n, s in alone.items()))
    inside = max(per_engine, key=per_engine.get)
    bench_report(f"cold / slowest engine in the same run ({inside} {per_engine[inside]:.1f} s): "
                 f"{cold / per_engine[inside]:.2f} (goal <= 1.2); sequential would be "
                 f"{sum(per_engine.values()) / per_engine[inside]:.2f}")
    bench_report(f"cold / slowest engine run alone ({slowest}): {cold / alone[slowest]:.2f}")
    bench_report(f"warm re-run: {warm:.2f} s = {100 * warm / cold:.1f} % of cold (goal < 10 %)")
    assert warm < 0.10 * cold
    assert cold <= 1.2 * per_engine[inside]


def test_small_app_whole_gate_median(tmp_path, bench_report):
    """``stackgrade gate`` on a ~20-resource Python app, synthesis included, nothing cached."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    times = []
    for round_ in range(ROUNDS):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "checks.cli", "gate", str(SMALL_APP), "--no-cache", "-q",
             "--build-dir", str(tmp_path / f"r{round_}"), "--python", sys.executable],
            capture_output=True, text=True, env=env, cwd=ROOT,
        )
        times.append(time.perf_counter() - started)
        assert done.returncode in (0, 1), done.stdout + done.stderr
    median = statistics.median(times)
    bench_report(f"small app ({SMALL_APP.name}) whole gate, cold, {ROUNDS} runs: median {median:.2f} s, "
                 f"min {min(times):.2f} s, max {max(times):.2f} s (goal < 5 s)")
    assert median < 5.0
