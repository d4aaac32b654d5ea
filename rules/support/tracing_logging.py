"""What the tracing and logging rules (SG-TRC-*, SG-LOG-002..005) share.

- On/off settings (TracingEnabled, MetricsEnabled) are read with
  :func:`rules.support.values.switch`.
- API Gateway stages: an ``AWS::ApiGateway::Stage``, or an ``AWS::ApiGateway::Deployment``
  that creates its stage itself (``StageName`` + ``StageDescription``); :func:`stage_settings`
  gives both the same shape.
- The methods of a REST API with their resource paths (for per-method ``MethodSettings``),
  and CDK's ``Custom::LogRetention`` resources by function: indexes built once per assembly
  (a linear pass), cached weakly on the evaluation's ``Relations``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from checks.assembly import Resource, Stack
from checks.relations import Relations
from rules.rule import RuleContext

STAGE_TYPES: tuple[str, ...] = ("AWS::ApiGateway::Stage", "AWS::ApiGateway::Deployment")
LOG_RETENTION_TYPE = "Custom::LogRetention"  # what CDK's `log_retention=` on a Function creates
LAMBDA_LOG_PREFIX = "/aws/lambda/"

# Keyed by the evaluation's Relations; the indexes hold resources only, so they never keep it alive.
_INDEXES: weakref.WeakKeyDictionary[Relations, _Indexes] = weakref.WeakKeyDictionary()


def text(ctx: RuleContext, stack: Stack, value: Any) -> str | None:
    return ctx.assembly.literal(stack, value)


# --- API Gateway stages ----------------------------------------------------------------------


def stage_settings(stage: Resource) -> dict | None:
    """The stage's settings (Stage properties, or a Deployment's StageDescription); None if no stage."""
    if stage.type == "AWS::ApiGateway::Stage":
        return stage.properties
    if stage.type == "AWS::ApiGateway::Deployment" and stage.properties.get("StageName") is not None:
        description = stage.properties.get("StageDescription")
        return description if isinstance(description, dict) else {}
    return None


def stage_label(stage: Resource, ctx: RuleContext) -> str:
    """``stage 'prod' of API OrderApi`` (what a message calls a stage)."""
    name = text(ctx, stage.stack, stage.properties.get("StageName"))
    apis = [api.logical_id for api in ctx.assembly.targets(stage.stack, stage.properties.get("RestApiId"))]
    label = f"stage '{name}'" if name else "stage"
    return f"{label} of API {apis[0]}" if apis else label


@dataclass(frozen=True)
class ApiMethod:
    """One ``AWS::ApiGateway::Method`` with its HTTP method and its ``MethodSettings``-encoded path."""

    method: Resource
    http_method: str  # upper case; "ANY" stays "ANY"
    path: str | None  # "/", "/~1orders~1{id}" (MethodSettings encoding); None when not resolvable

    @property
    def label(self) -> str:
        return f"{self.http_method} {display_path(self.path)}"


def display_path(path: str | None) -> str:
    """``/~1orders~1{id}`` (MethodSettings encoding) as ``/orders/{id}``; ``/*`` stays."""
    if not path:
        return "(unknown path)"
    return "/" + path[1:].replace("~1", "/").lstrip("/")


def api_methods(ctx: RuleContext, api: Resource) -> list[ApiMethod]:
    """The methods of a REST API (any stack of the assembly, nested ones included)."""
    return _indexes(ctx).methods_by_api.get(id(api), [])


def log_retention_of(ctx: RuleContext, function: Resource) -> Resource | None:
    """The ``Custom::LogRetention`` that sets the retention of the function's ``/aws/lambda/`` group."""
    return _indexes(ctx).log_retention_by_function.get(id(function))


class _Indexes:
    def __init__(self, ctx: RuleContext) -> None:
        self._paths: dict[int, str | None] = {}
        self.methods_by_api = self._methods(ctx)
        self.log_retention_by_function = self._log_retentions(ctx)

    def _methods(self, ctx: RuleContext) -> dict[int, list[ApiMethod]]:
        assembly = ctx.assembly
        index: dict[int, list[ApiMethod]] = {}
        for method in assembly.resources("AWS::ApiGateway::Method"):
            http = text(ctx, method.stack, method.properties.get("HttpMethod")) or "?"
            path = self._path_of(ctx, method.stack, method.properties.get("ResourceId"))
            entry = ApiMethod(method, http.upper(), path)
            for api in assembly.targets(method.stack, method.properties.get("RestApiId")):
                if api.type == "AWS::ApiGateway::RestApi":
                    index.setdefault(id(api), []).append(entry)
        return index

    def _path_of(self, ctx: RuleContext, stack: Stack, value: Any) -> str | None:
        """The encoded path of the resource ``value`` points at (a RestApi there means its root, ``/``).

        Each Resource is resolved once (memoized); one that is still being resolved when its
        ParentId chain leads back to it (a cycle) counts as unknown, so the recursion ends.
        """
        for target in ctx.assembly.targets(stack, value):
            if target.type == "AWS::ApiGateway::RestApi":
                return "/"
            if target.type == "AWS::ApiGateway::Resource":
                if id(target) not in self._paths:
                    self._paths[id(target)] = None  # a cycle resolves to "unknown"
                    parent = self._path_of(ctx, target.stack, target.properties.get("ParentId"))
                    part = text(ctx, target.stack, target.properties.get("PathPart"))
                    if parent is None or part is None:
                        self._paths[id(target)] = None
                    else:
                        self._paths[id(target)] = f"/~1{part}" if parent == "/" else f"{parent}~1{part}"
                return self._paths[id(target)]
        return None

    def _log_retentions(self, ctx: RuleContext) -> dict[int, Resource]:
        index: dict[int, Resource] = {}
        for retention in ctx.assembly.resources(LOG_RETENTION_TYPE):
            name = retention.properties.get("LogGroupName")
            literal = text(ctx, retention.stack, name)
            if literal is not None:
                owners = ctx.relations.resolve(retention.stack, literal.removeprefix(LAMBDA_LOG_PREFIX)) \
                    if literal.startswith(LAMBDA_LOG_PREFIX) else []
            else:
                owners = ctx.assembly.targets(retention.stack, name)
            for owner in owners:
                if owner.type == "AWS::Lambda::Function":
                    index.setdefault(id(owner), retention)
        return index


def _indexes(ctx: RuleContext) -> _Indexes:
    cached = _INDEXES.get(ctx.relations)
    if cached is None:
        cached = _INDEXES[ctx.relations] = _Indexes(ctx)
    return cached
