"""The CDK app entry that builds any reference system and variant.

As a CDK app (``cdk.json``): ``cdk synth -c system=payments_dr -c variant=ideal
-c environment_suffix=dev``. Directly: ``python -m reference_stacks.app -c
system=payments_dr -c variant=baseline``. From Python: :func:`build_app`.
"""

from __future__ import annotations

import sys
from typing import Mapping, Sequence

import aws_cdk as cdk

from reference_stacks.catalog import UnknownReferenceError, resolve
from reference_stacks.common import Variant

DEFAULT_SUFFIX = "dev"
# What the CDK CLI passes by default: construct paths and asset paths in template metadata,
# which findings point at and nested-stack templates are found by.
CLI_DEFAULT_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}


def add_reference_stack(
    app: cdk.App, system: str, variant: str, environment_suffix: str = DEFAULT_SUFFIX
) -> cdk.Stack:
    """Add one reference system's stack to ``app`` and return it."""
    reference = resolve(system, variant, environment_suffix)
    return reference.stack_class(
        app,
        reference.stack_name(variant, environment_suffix),
        variant=Variant(variant),
        environment_suffix=environment_suffix,
        description=f"stackgrade reference system {system} ({variant}): {reference.summary}",
        # No bootstrap-version rule: the assemblies synthesize and deploy without `cdk bootstrap`.
        synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False),
    )


def build_app(
    system: str,
    variant: str,
    environment_suffix: str = DEFAULT_SUFFIX,
    *,
    outdir: str | None = None,
    context: Mapping[str, object] | None = None,
) -> cdk.App:
    """A CDK app holding one reference system in one variant (not yet synthesized)."""
    app = cdk.App(outdir=outdir, context={**CLI_DEFAULT_CONTEXT, **(context or {})})
    add_reference_stack(app, system, variant, environment_suffix)
    return app


def parse_context_args(argv: Sequence[str]) -> dict[str, str]:
    """``["-c", "a=b", "--context", "c=d"]`` -> ``{"a": "b", "c": "d"}`` (the CDK CLI's syntax)."""
    context: dict[str, str] = {}
    args = list(argv)
    while args:
        flag = args.pop(0)
        if flag not in ("-c", "--context") or not args or "=" not in args[0]:
            raise UnknownReferenceError(
                f"unexpected argument {flag!r}; use -c key=value (e.g. -c system=payments_dr)"
            )
        key, _, value = args.pop(0).partition("=")
        context[key] = value
    return context


def main(argv: Sequence[str] | None = None) -> int:
    """Synthesize the system named by context ``system``, ``variant`` and ``environment_suffix``."""
    try:
        # cdk.App also reads the context the CDK CLI passes in CDK_CONTEXT_JSON.
        app = cdk.App(context={**CLI_DEFAULT_CONTEXT, **parse_context_args(sys.argv[1:] if argv is None else argv)})
        system = app.node.try_get_context("system")
        if not system:
            raise UnknownReferenceError(
                "no system given; run with -c system=<name> -c variant=ideal|baseline"
            )
        add_reference_stack(
            app,
            str(system),
            str(app.node.try_get_context("variant") or Variant.IDEAL.value),
            str(app.node.try_get_context("environment_suffix") or DEFAULT_SUFFIX),
        )
    except (UnknownReferenceError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
