"""Fault injection: each way an engine can fail becomes an engine error naming the engine; nothing is left running."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from checks.orchestrator import ENGINE_CLASSES, GradeOptions, InputError, Target, grade

TEMPLATE = Path(__file__).parents[2] / "plugin_fixtures" / "queues.yaml"
FAULTS = "tests.checks.orchestration.fault_engines"


def _options(tmp_path: Path, fault: str | None, timeout: float = 20.0, **extra) -> GradeOptions:
    engines = [("stackgrade", ENGINE_CLASSES["stackgrade"])]
    if fault:
        engines.append(("checkov", f"{FAULTS}:{fault}"))
    return GradeOptions(build_dir=tmp_path / "build", timeout=timeout, engines=tuple(engines), **extra)


def _runs(tmp_path: Path, fault: str | None, **extra) -> dict:
    target = Target("assembly", "queues", TEMPLATE)
    graded = list(grade([target], _options(tmp_path, fault, **extra)))
    assert [g.target.name for g in graded] == ["queues"]
    assert not multiprocessing.active_children(), "a worker process was left running"
    return {run.name: run for run in graded[0].runs}


@pytest.mark.parametrize(
    ("fault", "timeout", "error"),
    [
        ("CrashingEngine", 20.0, "checkov crashed: KeyError: 'results' (at fault_engines.py:"),
        ("FailingEngine", 20.0, "checkov failed: exit status 2: template could not be parsed"),
        ("MissingEngine", 20.0, "checkov not available: checkov is not installed; pip install checkov==3.3.30"),
        ("DyingEngine", 20.0, "checkov worker process died (exit code 3)"),
        ("HangingEngine", 6.0, "checkov timed out after 6 s while grading"),
        ("HangingPrepareEngine", 1.5, "checkov timed out after 1.5 s while starting"),
    ],
)
def test_engine_fault_is_an_engine_error_naming_the_engine(tmp_path, fault, timeout, error):
    started = time.monotonic()
    runs = _runs(tmp_path, fault, timeout=timeout)
    assert runs["checkov"].status == "error"
    assert runs["checkov"].error.startswith(error)
    # The healthy engine still ran and reported its findings.
    assert runs["stackgrade"].status == "ok"
    assert {f.logical_id for f in runs["stackgrade"].result.findings if f.rule_id == "SG-DLQ-001"} == {
        "Orders", "Payments"}
    assert time.monotonic() - started < timeout + 15


def test_skipped_engine_is_recorded_not_run(tmp_path):
    runs = _runs(tmp_path, "CrashingEngine", skip=frozenset({"checkov"}))
    assert (runs["checkov"].status, runs["checkov"].error) == ("skipped", "skipped on request (--skip)")


def test_a_worker_that_dies_is_replaced_for_the_next_target(tmp_path):
    targets = [Target("assembly", "first", TEMPLATE), Target("assembly", "second", TEMPLATE)]
    graded = list(grade(targets, _options(tmp_path, "DyingEngine")))
    assert sorted(g.target.name for g in graded) == ["first", "second"]
    for item in graded:
        checkov = next(r for r in item.runs if r.name == "checkov")
        assert checkov.error == "checkov worker process died (exit code 3)"
    assert not multiprocessing.active_children()


def test_engines_start_while_assemblies_are_prepared(tmp_path, monkeypatch):
    """Two slow starts (1 s each) overlap in time: the workers run side by side, not one after the other."""
    starts = tmp_path / "starts.txt"
    monkeypatch.setenv("STACKGRADE_TEST_STARTS", str(starts))
    engines = (("stackgrade", ENGINE_CLASSES["stackgrade"]), ("checkov", f"{FAULTS}:SlowStartEngine"),
               ("cfn-guard", f"{FAULTS}:SlowStartEngine"))
    options = GradeOptions(build_dir=tmp_path / "build", timeout=20, engines=engines)
    graded = list(grade([Target("assembly", "queues", TEMPLATE)], options))
    assert [r.status for r in graded[0].runs] == ["ok", "ok", "ok"]
    (first_begin, first_end), (second_begin, second_end) = sorted(
        tuple(map(float, line.split())) for line in starts.read_text().splitlines())
    assert second_begin < first_end, "the second engine started only after the first had finished starting"


def test_unreadable_input_is_an_input_error(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("Resources: [unclosed\n")
    with pytest.raises(InputError, match="broken"):
        list(grade([Target("assembly", "broken", broken)], _options(tmp_path, None)))
    assert not multiprocessing.active_children()
