"""REST API facts the api and waf rules share: methods, their validators and paths, stages and WAF cover."""

from __future__ import annotations

import re
import weakref
from typing import Any

from checks.assembly import Assembly, Resource, Stack
from rules.rule import RuleContext

# Methods that carry a request body worth validating (ANY includes them all).
WRITE_METHODS = ("POST", "PUT", "PATCH", "ANY")
STAGE_WIDE = ("*", "/*")  # (HttpMethod, ResourcePath) of a MethodSettings entry covering the whole stage
_MAX_PATH_DEPTH = 30
_STAGE_SEGMENT = re.compile(r"/stages/([^/]+)")
_FUNCTION_NAME = re.compile(r":function:([^/:]+)")


def http_method(ctx: RuleContext, method: Resource) -> str | None:
    value = ctx.assembly.literal(method.stack, method.properties.get("HttpMethod"))
    return value.upper() if value else None


def integration_type(ctx: RuleContext, method: Resource) -> str | None:
    value = ctx.assembly.literal(method.stack, method.prop("Integration", "Type"))
    return value.upper() if value else None


def request_validators(ctx: RuleContext, method: Resource) -> list[Resource]:
    """The AWS::ApiGateway::RequestValidator(s) the method's RequestValidatorId refers to."""
    return [r for r in ctx.assembly.targets(method.stack, method.properties.get("RequestValidatorId"))
            if r.type == "AWS::ApiGateway::RequestValidator"]


def method_label(ctx: RuleContext, method: Resource) -> str:
    """``POST /orders/{id}``: the HTTP method and the resource path it is attached to."""
    return f"{http_method(ctx, method) or '?'} {resource_path(ctx, method)}"


def resource_path(ctx: RuleContext, method: Resource) -> str:
    """The method's path, walking AWS::ApiGateway::Resource parents up to the API root."""
    parts: list[str] = []
    value, stack = method.properties.get("ResourceId"), method.stack
    for _ in range(_MAX_PATH_DEPTH):
        found = [r for r in ctx.assembly.targets(stack, value) if r.type == "AWS::ApiGateway::Resource"]
        if not found:
            break
        resource = found[0]
        parts.append(ctx.assembly.literal(resource.stack, resource.properties.get("PathPart")) or "?")
        value, stack = resource.properties.get("ParentId"), resource.stack
    return "/" + "/".join(reversed(parts))


def integration_targets(ctx: RuleContext, method: Resource) -> list[Resource]:
    """The Lambda functions the method's integration invokes (for naming in messages).

    By reference, or by the literal name in ``...:function:<name>/invocations``.
    """
    uri = method.prop("Integration", "Uri")
    functions = ctx.relations.functions_in(method.stack, uri)
    if not functions:
        match = _FUNCTION_NAME.search(render(method.stack, uri))
        if match and not match.group(1).startswith("${"):
            functions = ctx.relations.functions_in(method.stack, match.group(1))
    return functions


def api_of(ctx: RuleContext, resource: Resource) -> Resource | None:
    found = [r for r in ctx.assembly.targets(resource.stack, resource.properties.get("RestApiId"))
             if r.type == "AWS::ApiGateway::RestApi"]
    return found[0] if found else None


def api_label(ctx: RuleContext, api: Resource) -> str:
    name = ctx.relations.physical_name(api)
    return f"{name} ({api.logical_id})" if name else api.logical_id


def stage_label(ctx: RuleContext, stage: Resource) -> str:
    name = ctx.assembly.literal(stage.stack, stage.properties.get("StageName"))
    return f"{name} ({stage.logical_id})" if name else stage.logical_id


def is_private(ctx: RuleContext, api: Resource) -> bool:
    types = api.prop("EndpointConfiguration", "Types")
    return isinstance(types, list) and any(ctx.assembly.literal(api.stack, t) == "PRIVATE" for t in types)


# --- WAF ---------------------------------------------------------------------------------------

_PROTECTED: "weakref.WeakKeyDictionary[Assembly, set[int]]" = weakref.WeakKeyDictionary()


def protected_stages(ctx: RuleContext) -> set[int]:
    """ids of the REST API stages a WAFv2 web ACL association covers, built once per assembly.

    A stage is covered when an association's ResourceArn refers to it (``relations.web_acl_protected``).
    An ARN that refers only to the API (``.../restapis/${Api}/stages/prod``) covers the API's stage
    named by the literal ``/stages/<name>`` segment, or every stage of the API when that segment
    cannot be read.
    """
    cached = _PROTECTED.get(ctx.assembly)
    if cached is not None:
        return cached
    protected = set(ctx.relations.web_acl_protected)
    for association in ctx.assembly.resources("AWS::WAFv2::WebACLAssociation"):
        arn = association.properties.get("ResourceArn")
        targets = ctx.assembly.targets(association.stack, arn)
        if any(t.type == "AWS::ApiGateway::Stage" for t in targets):
            continue  # the stage itself is named: relations already has it
        for api in (t for t in targets if t.type == "AWS::ApiGateway::RestApi"):
            stage_name = _stage_segment(render(association.stack, arn))
            for stage in ctx.relations.stages_of(api):
                name = ctx.assembly.literal(stage.stack, stage.properties.get("StageName"))
                if stage_name is None or stage_name == name:
                    protected.add(id(stage))
    _PROTECTED[ctx.assembly] = protected
    return protected


def _stage_segment(text: str) -> str | None:
    """The literal stage name in an ARN's ``/stages/<name>``; None when absent or a reference."""
    match = _STAGE_SEGMENT.search(text)
    if match is None or match.group(1).startswith("${"):
        return None
    return match.group(1)


def render(stack: Stack, value: Any) -> str:
    """A string-valued property as text, references shown as ``${Name}`` (Join, Sub, Ref, GetAtt)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref" and isinstance(arg, str):
            return "${" + arg + "}"
        if key == "Fn::GetAtt":
            return "${" + (".".join(arg) if isinstance(arg, list) else str(arg)) + "}"
        if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
            return str(arg[0]).join(render(stack, part) for part in arg[1])
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1]) if (
                isinstance(arg, list) and len(arg) == 2) else ("", {})
            if isinstance(variables, dict) and isinstance(text, str):
                for name, replacement in variables.items():
                    text = text.replace("${" + name + "}", render(stack, replacement))
            return text if isinstance(text, str) else "${?}"
    return "${?}"
