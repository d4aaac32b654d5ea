"""Test-wide set-up: CDK's template validator off for speed.

It must be in the environment before ``aws_cdk`` is first imported. The
validator is skipped here because it leaves templates byte-identical
(``nox -s synth`` and ``tests/test_synth_all.py`` still run it). jsii's Node
22 is chosen by ``reference_stacks`` itself.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("CDK_VALIDATION", "false")

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


@pytest.fixture(scope="session")
def load_handler():
    """``load_handler(system, module)`` -> the handler module, imported the way Lambda would.

    Handlers are top-level modules in their asset (``index.handler``); they are
    imported here under a unique name so two systems' ``processor.py`` never
    collide, with ``lambda_shared/`` importable as in the deployed bundle.
    """
    import importlib.util
    import sys

    from reference_stacks.common import LAMBDA_SHARED_DIR

    if str(LAMBDA_SHARED_DIR) not in sys.path:
        sys.path.insert(0, str(LAMBDA_SHARED_DIR))
    loaded: dict[tuple[str, str], object] = {}

    def load(system: str, module: str):
        key = (system, module)
        if key not in loaded:
            path = PROJECT_ROOT / "reference_stacks" / system / "handlers" / f"{module}.py"
            spec = importlib.util.spec_from_file_location(f"handler_{system}_{module}", path)
            handler_module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(handler_module)
            loaded[key] = handler_module
        return loaded[key]

    return load
