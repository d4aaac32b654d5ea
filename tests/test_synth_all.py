"""``python -m reference_stacks.synth_all``: the ten assemblies under build/cdk.out/<system>-<variant>/."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reference_stacks import synth_all
from reference_stacks.catalog import SYSTEMS, VARIANTS, UnknownReferenceError


def test_selected_defaults_to_all_ten_and_narrows_by_system_or_pair():
    assert len(synth_all.selected([])) == 10
    assert synth_all.selected(["payments_dr"]) == [("payments_dr", "ideal"), ("payments_dr", "baseline")]
    assert synth_all.selected(["payments_dr-baseline", "payments_dr"]) == [
        ("payments_dr", "baseline"), ("payments_dr", "ideal"),
    ]
    with pytest.raises(UnknownReferenceError, match="--only 'payments' matches nothing"):
        synth_all.selected(["payments"])
    assert synth_all.selected([], ["ideal"]) == [(system, "ideal") for system in SYSTEMS]
    assert synth_all.selected(["payments_dr"], ["baseline"]) == [("payments_dr", "baseline")]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--only", "nope"], "--only 'nope' matches nothing"),
        (["--suffix", "UPPER"], "environment suffix 'UPPER' must be"),
        (["--jobs", "0"], "--jobs must be at least 1"),
    ],
)
def test_usage_errors_exit_2_with_a_message(argv, message, capsys):
    assert synth_all.main(argv) == 2
    assert message in capsys.readouterr().err


def test_synthesize_reports_a_failure_instead_of_raising(tmp_path):
    result = synth_all.synthesize("payments_dr", "nope", "qa7", str(tmp_path / "x"))
    assert result.error and "unknown variant 'nope'" in result.error
    assert result.resources == 0


def test_a_failed_assembly_fails_the_run_and_says_how_to_debug(tmp_path, monkeypatch, capsys):
    def broken(system, variant, suffix, outdir):
        return synth_all.SynthResult(system, variant, outdir, 0.1, error="Traceback: boom")

    monkeypatch.setattr(synth_all, "synthesize", broken)
    assert synth_all.main(["--only", "order_pipeline-baseline", "--jobs", "1", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "order_pipeline-baseline failed to synthesize" in err and "Traceback: boom" in err
    assert "--only order_pipeline-baseline --jobs 1" in err


def test_in_process_synthesis_writes_assembly_and_summary(tmp_path, capsys):
    assert synth_all.main(["--only", "order_pipeline-baseline", "--jobs", "1",
                           "--out", str(tmp_path), "--suffix", "qa7"]) == 0
    assembly = tmp_path / "order_pipeline-baseline"
    assert (assembly / "manifest.json").is_file()
    assert (assembly / "OrderPipeline-baseline-qa7.template.json").is_file()
    summary = json.loads((tmp_path / "summary.json").read_text())
    (entry,) = summary["assemblies"]
    assert entry["stacks"] == ["OrderPipeline-baseline-qa7"]
    assert entry["resources"] == len(
        json.loads((assembly / "OrderPipeline-baseline-qa7.template.json").read_text())["Resources"]
    )
    assert "order_pipeline-baseline" in capsys.readouterr().out


def test_all_ten_synthesize_in_worker_processes_with_cdk_validation(tmp_path):
    """The real run (``nox -s synth``): spawn workers, CDK's template validator on."""
    stale = tmp_path / "payments_dr-ideal" / "left-from-an-old-run.template.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    assert synth_all.main(["--out", str(tmp_path)]) == 0
    assert not stale.exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    names = [f"{a['system']}-{a['variant']}" for a in summary["assemblies"]]
    assert names == [f"{s}-{v}" for s in SYSTEMS for v in VARIANTS]
    for assembly in summary["assemblies"]:
        assert assembly["error"] is None
        assert assembly["resources"] > 0
        outdir = Path(assembly["outdir"])
        assert (outdir / "manifest.json").is_file()
    by_name = {f"{a['system']}-{a['variant']}": a for a in summary["assemblies"]}
    # pattern_detection is five nested stacks under one parent.
    assert by_name["pattern_detection-ideal"]["nested_templates"] == 5
    # Every ideal is larger than its baseline: the fixes add resources.
    for system in SYSTEMS:
        assert by_name[f"{system}-ideal"]["resources"] > by_name[f"{system}-baseline"]["resources"]


@pytest.mark.parametrize(("validate", "expected"), [(True, None), (False, "false")])
def test_workers_switch_cdk_validation_before_aws_cdk_loads(validate, expected, monkeypatch):
    monkeypatch.setenv("CDK_VALIDATION", "false" if validate else "true")
    synth_all._worker_environment(validate)
    assert os.environ.get("CDK_VALIDATION") == expected
