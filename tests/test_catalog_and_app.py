"""The catalogue of reference systems and the CDK app entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reference_stacks.catalog import SYSTEMS, VARIANTS, UnknownReferenceError, resolve

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def test_catalogue_names_five_systems_with_their_seeds():
    assert list(SYSTEMS) == [
        "webhook_pipeline", "order_processing_fargate", "payments_dr", "order_pipeline", "pattern_detection",
    ]
    assert VARIANTS == ("ideal", "baseline")
    if SEEDS.is_dir():
        assert {s.seed for s in SYSTEMS.values()} <= {p.name for p in SEEDS.iterdir()}


def test_stack_names_carry_system_variant_and_suffix():
    assert SYSTEMS["payments_dr"].stack_name("baseline", "qa7") == "PaymentsDr-baseline-qa7"


@pytest.mark.parametrize(
    ("system", "variant", "suffix", "message"),
    [
        ("nope", "ideal", "dev", "unknown system 'nope'; choose one of: webhook_pipeline"),
        ("payments_dr", "best", "dev", "unknown variant 'best'; choose one of: ideal, baseline"),
        ("payments_dr", "ideal", "Dev_1", "environment suffix 'Dev_1' must be"),
        ("payments_dr", "ideal", "-dev", "environment suffix '-dev' must be"),
        ("payments_dr", "ideal", "x" * 21, "must be 1-20"),
    ],
)
def test_resolve_explains_what_is_allowed(system, variant, suffix, message):
    with pytest.raises(UnknownReferenceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve(system, variant, suffix)


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_every_system_builds_both_variants_with_suffixed_stack_names(system, reference_stack):
    for variant in VARIANTS:
        stack = reference_stack(system, variant)
        assert stack.stack_name == SYSTEMS[system].stack_name(variant, "qa7")
        assert f"{system} ({variant})" in stack.template_options.description


def test_parse_context_args_uses_the_cdk_cli_syntax():
    from reference_stacks.app import parse_context_args

    assert parse_context_args(["-c", "system=payments_dr", "--context", "alarm_email=a=b@x.io"]) == {
        "system": "payments_dr", "alarm_email": "a=b@x.io",
    }
    for bad in (["system=payments_dr"], ["-c"], ["-c", "system"]):
        with pytest.raises(UnknownReferenceError, match="use -c key=value"):
            parse_context_args(bad)


def test_main_reports_usage_errors_with_exit_2(capsys):
    from reference_stacks.app import main

    assert main([]) == 2
    assert "no system given; run with -c system=<name>" in capsys.readouterr().err
    assert main(["-c", "system=payments_dr", "-c", "variant=worst"]) == 2
    assert "unknown variant 'worst'" in capsys.readouterr().err
    assert main(["--verbose"]) == 2
    assert "unexpected argument '--verbose'" in capsys.readouterr().err


def test_main_synthesizes_the_requested_system(monkeypatch):
    import aws_cdk as cdk

    from reference_stacks import app as app_module

    synthesized: list[cdk.App] = []
    monkeypatch.setattr(cdk.App, "synth", lambda self, **_: synthesized.append(self))
    assert app_module.main(["-c", "system=order_pipeline", "-c", "variant=baseline",
                            "-c", "environment_suffix=pr42"]) == 0
    (stack,) = [c for c in synthesized[0].node.children if isinstance(c, cdk.Stack)]
    assert stack.stack_name == "OrderPipeline-baseline-pr42"


def test_app_entry_as_a_process_writes_a_template_without_the_node_banner(tmp_path):
    """The way ``cdk synth`` runs it: a subprocess with CDK_OUTDIR; jsii must use Node 22."""
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path), "CDK_VALIDATION": "false"}
    env.pop("JSII_NODE", None)
    completed = subprocess.run(
        [sys.executable, "-m", "reference_stacks.app", "-c", "system=order_pipeline",
         "-c", "variant=ideal", "-c", "environment_suffix=proc1"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "end-of-life" not in completed.stderr
    template = json.loads((tmp_path / "OrderPipeline-ideal-proc1.template.json").read_text())
    assert template["Resources"]


def test_cdk_cli_synthesizes_through_cdk_json(tmp_path):
    """``npx cdk synth -c system=...`` runs the same entry, passing context via CDK_CONTEXT_JSON."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "CDK_VALIDATION": "false"}
    completed = subprocess.run(
        [str(root / "node_modules" / ".bin" / "cdk"), "synth", "--no-notices", "--quiet",
         "-c", "system=order_pipeline", "-c", "variant=baseline", "-c", "environment_suffix=cli1",
         "--output", str(tmp_path)],
        cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "OrderPipeline-baseline-cli1.template.json").is_file()
