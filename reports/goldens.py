"""Regenerate the report golden files: ``nox -s goldens`` (or ``python -m reports.goldens [--check]``).

Two real grades of the small fixture app in tests/reports/fixtures/ (``before`` is the baseline of
``current``), frozen for determinism (time, engine seconds and versions, absolute paths), are stored as
scorecards beside every report rendered from them. ``--check`` only lists stale files (exit 1).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from reports import RENDERERS

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "reports" / "fixtures"
GOLDEN_DIR = ROOT / "tests" / "reports" / "golden"
COMMAND = "nox -s goldens"
FROZEN_TIME = "2000-01-01T00:00:00+00:00"
FROZEN_VERSION = "0.0.0"
# golden scorecard name -> (fixture template, the name of the scorecard it is gated against)
CASES: dict[str, tuple[Path, str | None]] = {
    "shop-before": (FIXTURES / "before" / "shop.yaml", None),
    "shop": (FIXTURES / "current" / "shop.yaml", "shop-before"),
    "queues": (ROOT / "tests" / "plugin_fixtures" / "queues.yaml", None),
}


def freeze(card: dict, baseline_name: str | None = None) -> dict:
    """The scorecard without what changes from run to run or machine to machine."""
    card = json.loads(json.dumps(card))
    card["generated_at"] = FROZEN_TIME
    card["stackgrade_version"] = FROZEN_VERSION
    target = card["target"]
    if "path" in target:
        target["path"] = Path(target["path"]).resolve().relative_to(ROOT).as_posix()
    target["assembly"] = f"build/cdk.out/{target['name']}"
    for engine in card["engines"]:
        engine.update(seconds=0.0, cached=False, version=FROZEN_VERSION if engine["version"] else None)
    if card["gate"]["baseline"] is not None and baseline_name is not None:
        card["gate"]["baseline"]["path"] = (GOLDEN_DIR / f"{baseline_name}.scorecard.json").relative_to(ROOT).as_posix()
    return card


def grade_cases(work: Path) -> dict[str, dict]:
    """Each case graded with every engine (in order, so a baseline exists before its use), frozen."""
    from checks.cli import main

    cards: dict[str, dict] = {}
    for name, (fixture, baseline) in CASES.items():
        build = work / name
        args = ["grade", str(fixture), "--build-dir", str(build), "--cache-dir", str(work / "cache"), "-q"]
        if baseline is not None:
            args += ["--baseline", str(work / baseline / "reports" / fixture.stem / "scorecard.json")]
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = main(args)
        if code != 0:
            raise RuntimeError(f"grading {fixture} for the goldens failed (exit {code}):\n{out.getvalue()}")
        written = json.loads((build / "reports" / fixture.stem / "scorecard.json").read_text(encoding="utf-8"))
        cards[name] = freeze(written, baseline)
    return cards


def render_goldens(cards: dict[str, dict]) -> dict[str, str]:
    """File name -> text: each frozen scorecard and every format rendered from it."""
    files: dict[str, str] = {}
    for name, card in cards.items():
        files[f"{name}.scorecard.json"] = json.dumps(card, indent=2, ensure_ascii=False) + "\n"
        baseline = cards.get(CASES[name][1]) if CASES[name][1] else None
        for format, (renderer, file_name) in RENDERERS.items():
            files[f"{name}.{Path(file_name).suffix.lstrip('.') or format}"] = renderer(card, baseline)
    return files


def stored_cards() -> dict[str, dict]:
    """The frozen scorecards as stored in the golden folder."""
    return {name: json.loads((GOLDEN_DIR / f"{name}.scorecard.json").read_text(encoding="utf-8")) for name in CASES}


def stale(expected: dict[str, str]) -> list[str]:
    """Golden files that are missing or differ from ``expected``."""
    return sorted(name for name, text in expected.items()
                  if not (GOLDEN_DIR / name).is_file() or (GOLDEN_DIR / name).read_text(encoding="utf-8") != text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.goldens", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only list stale golden files (exit 1 if any)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="stackgrade-goldens-") as work:
        expected = render_goldens(grade_cases(Path(work)))
    outdated = stale(expected)
    if args.check:
        for name in outdated:
            print(f"stale: {GOLDEN_DIR.relative_to(ROOT) / name}; regenerate with `{COMMAND}`")
        return 1 if outdated else 0
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for name in outdated:
        (GOLDEN_DIR / name).write_text(expected[name], encoding="utf-8")
        print(f"wrote {GOLDEN_DIR.relative_to(ROOT) / name}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
