"""synthesize_references: reference systems built several per worker process, yielded as they complete."""

from __future__ import annotations

import pytest

from checks.synthesis import AppInputError, read_record, source_of, synthesize_references


def test_two_workers_build_and_yield_each_assembly(tmp_path):
    names = [("order_pipeline", "baseline"), ("payments_dr", "baseline"), ("order_pipeline", "ideal")]
    results = {r.name: r for r in synthesize_references(names, tmp_path, suffix="qa7", jobs=2)}
    assert set(results) == {"order_pipeline-baseline", "payments_dr-baseline", "order_pipeline-ideal"}
    for name, result in results.items():
        assert result.error is None and result.assembly == tmp_path / name
        assert result.nag["status"] == "ok" and result.nag["major"] == 3
        assert (result.assembly / "manifest.json").is_file()
    record = read_record(results["order_pipeline-ideal"].assembly)
    stack_sources = {source_of(record, path)[0] for path in record["sources"]}
    assert "reference_stacks/app.py" in stack_sources
    assert any(f.startswith("reference_stacks/order_pipeline/") for f in stack_sources)


def test_a_build_past_its_timeout_is_reported_and_its_worker_stopped(tmp_path):
    results = list(synthesize_references([("order_pipeline", "baseline"), ("payments_dr", "baseline")], tmp_path,
                                         jobs=1, timeout=0.5, nag_packs=None))
    assert [r.name for r in results] == ["order_pipeline-baseline", "payments_dr-baseline"]
    assert all("did not finish within 0.5 s" in r.error for r in results)


def test_a_worker_that_dies_fails_its_remaining_builds_with_its_output(tmp_path, monkeypatch):
    monkeypatch.setenv("JSII_NODE", str(tmp_path / "no-node"))
    (result,) = synthesize_references([("order_pipeline", "baseline")], tmp_path, jobs=3)
    assert "exited with status" in result.error and result.nag == {}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"names": [("nope", "ideal")]}, "nope"),
    ({"jobs": 0}, "jobs must be at least 1"),
    ({"nag_packs": ("Bogus",)}, "unknown cdk-nag packs"),
])
def test_bad_arguments_are_input_errors(tmp_path, kwargs, message):
    arguments = {"names": [("order_pipeline", "ideal")], **kwargs}
    with pytest.raises(AppInputError, match=message):
        list(synthesize_references(arguments.pop("names"), tmp_path, **arguments))
