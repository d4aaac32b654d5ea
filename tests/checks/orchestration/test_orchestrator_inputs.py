"""The orchestrator on each kind of input: reference systems (synthesized, then from the cache), assembly folders,
and the edges: every engine skipped, a damaged synthesis record, an input error while an engine is busy."""

from __future__ import annotations

import multiprocessing
import shutil
import time
from pathlib import Path

import pytest

from checks.engines import SYNTH_RECORD
from checks.orchestrator import ENGINE_CLASSES, GradeOptions, InputError, Target, _python_identity, grade

FIXTURES = Path(__file__).parents[2] / "plugin_fixtures"
FAULTS = "tests.checks.orchestration.fault_engines"
OWN_AND_NAG = (("stackgrade", ENGINE_CLASSES["stackgrade"]), ("cdk-nag", ENGINE_CLASSES["cdk-nag"]))


def test_a_reference_system_is_synthesized_with_cdk_nag_then_served_from_the_cache(tmp_path):
    target = Target("reference", "payments_dr-baseline", system="payments_dr", variant="baseline")
    options = GradeOptions(build_dir=tmp_path / "build", cache_dir=tmp_path / "cache", engines=OWN_AND_NAG)
    first = list(grade([target], options))[0]
    assert first.assembly == tmp_path / "build" / "cdk.out" / "payments_dr-baseline"
    assert not first.synth_cached and first.synth_record is not None
    runs = {r.name: r for r in first.runs}
    assert runs["cdk-nag"].status == "ok" and runs["cdk-nag"].result.findings
    assert {f.rule_id for f in runs["stackgrade"].result.findings} >= {"SG-DLQ-001"}

    shutil.rmtree(first.assembly)  # the cache restores the assembly folder too
    second = list(grade([target], options))[0]
    assert second.synth_cached and (second.assembly / "manifest.json").is_file()
    assert all(r.cached for r in second.runs)
    assert [f.fingerprint for f in second.runs[0].result.findings] == [
        f.fingerprint for f in first.runs[0].result.findings]


def test_an_existing_assembly_folder_is_graded_in_place(tmp_path):
    target = Target("assembly", "nested", FIXTURES / "nested-assembly")
    graded = list(grade([target], GradeOptions(build_dir=tmp_path / "build", engines=OWN_AND_NAG)))[0]
    assert graded.assembly == FIXTURES / "nested-assembly"
    nag = next(r for r in graded.runs if r.name == "cdk-nag")
    assert nag.status == "skipped" and "existing cloud assembly" in nag.error


def test_every_engine_skipped_still_yields_the_target(tmp_path):
    options = GradeOptions(build_dir=tmp_path / "build", engines=OWN_AND_NAG, skip=frozenset({"stackgrade", "cdk-nag"}))
    graded = list(grade([Target("assembly", "queues", FIXTURES / "queues.yaml")], options))
    assert [r.status for r in graded[0].runs] == ["skipped", "skipped"]


def test_a_damaged_synthesis_record_gives_no_sources_and_a_cdk_nag_error(tmp_path):
    assembly = tmp_path / "cdk.out"
    shutil.copytree(FIXTURES / "nested-assembly", assembly)
    (assembly / SYNTH_RECORD).write_text("{not json")
    graded = list(grade([Target("assembly", "damaged", assembly)],
                        GradeOptions(build_dir=tmp_path / "build", engines=OWN_AND_NAG)))[0]
    assert graded.synth_record is None
    nag = next(r for r in graded.runs if r.name == "cdk-nag")
    assert nag.status == "error" and SYNTH_RECORD in nag.error


def test_an_input_error_stops_a_busy_engine_and_leaves_nothing_running(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("Resources: [unclosed\n")
    engines = (("stackgrade", ENGINE_CLASSES["stackgrade"]), ("checkov", f"{FAULTS}:HangingEngine"))
    options = GradeOptions(build_dir=tmp_path / "build", engines=engines, timeout=60)
    started = time.monotonic()
    with pytest.raises(InputError, match="broken"):
        list(grade([Target("assembly", "queues", FIXTURES / "queues.yaml"), Target("assembly", "broken", broken)],
                   options))
    assert not multiprocessing.active_children()
    assert time.monotonic() - started < 30


def test_an_interpreter_that_cannot_run_is_identified_by_its_path(tmp_path):
    assert _python_identity(str(tmp_path / "no-python")) == [str(tmp_path / "no-python")]
