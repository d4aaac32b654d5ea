"""Does a name carry the environment suffix? Shared by the naming and outputs rules.

A name is often an intrinsic (``!Sub "orders-${AWS::StackName}"``,
``/aws/lambda/${Fn}``). :func:`render` turns it into the text it will have at
deploy time as far as the template tells: literal parts as they are, a
reference to a named resource as that resource's (rendered) name, a reference
to an unnamed one as the ``<stack name>-<logical id>`` CloudFormation generates,
``AWS::StackName`` as the stack name, and everything unknowable (a parameter
without a default, ``AWS::Region``, ...) as ``{?}``. The suffix must appear in
that text.
"""

from __future__ import annotations

import re
from typing import Any

from checks.assembly import NESTED_STACK_TYPE, Assembly, Stack
from checks.relations import NAME_PROPERTY

UNKNOWN = "{?}"
NO_SUFFIX_HINT = (
    "set [tool.stackgrade] environment_suffix (or end the top-level stack name with -<suffix>)"
)
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_MAX_DEPTH = 8


def carries_suffix(assembly: Assembly, stack: Stack, value: Any, suffix: str) -> bool:
    """Whether the (rendered) name contains ``suffix``, ignoring case."""
    return suffix.lower() in render(assembly, stack, value).lower()


def no_suffix_message(stack: Stack, what: str) -> str:
    """The failure message when no suffix can be determined for ``stack``."""
    return (
        f"{what}, but no environment suffix can be determined for stack {stack.top_level.name!r} "
        f"to check it against: {NO_SUFFIX_HINT}"
    )


def shown(assembly: Assembly, stack: Stack, value: Any) -> str:
    """A name for a message: the literal, or the rendered intrinsic."""
    literal = assembly.literal(stack, value)
    return literal if literal is not None else render(assembly, stack, value)


def render(assembly: Assembly, stack: Stack, value: Any, _depth: int = 0) -> str:
    """The deploy-time text of ``value`` as far as the template tells; unknown parts are ``{?}``."""
    result = _render(assembly, stack, value, _depth)
    return " ".join(result) if isinstance(result, list) else result


def _render(assembly: Assembly, stack: Stack, value: Any, depth: int) -> str | list[str]:
    if depth > _MAX_DEPTH:  # a name built from itself (a circular reference) or absurdly deep nesting
        return UNKNOWN
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, list):
        return [render(assembly, stack, item, depth + 1) for item in value]
    (key, arg), = value.items()
    if key == "Ref":
        return _ref(assembly, stack, arg, depth)
    if key == "Fn::GetAtt":
        logical_id, _, attribute = (".".join(arg) if isinstance(arg, list) else str(arg)).partition(".")
        return _getatt(assembly, stack, logical_id, attribute, depth)
    if key == "Fn::Sub":
        return _sub(assembly, stack, arg, depth)
    if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
        parts = _render(assembly, stack, arg[1], depth + 1)
        return str(arg[0]).join(parts) if isinstance(parts, list) else parts
    if key == "Fn::Split" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and arg[0]:
        return render(assembly, stack, arg[1], depth + 1).split(arg[0])
    if key == "Fn::Select" and isinstance(arg, list) and len(arg) == 2:
        items = _render(assembly, stack, arg[1], depth + 1)
        index = assembly.literal(stack, arg[0])
        if isinstance(items, list) and index is not None and index.isdigit() and int(index) < len(items):
            return items[int(index)]
        return UNKNOWN
    if key == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
        # Conditions usually pick per-environment names: the suffix may sit in either branch.
        first, second = (render(assembly, stack, branch, depth + 1) for branch in arg[1:])
        return first if first == second else f"{first} | {second}"
    if key == "Fn::ImportValue":
        name = assembly.literal(stack, arg)
        if name in assembly.exports:
            export_stack, export_value = assembly.exports[name]
            return render(assembly, export_stack, export_value, depth + 1)
        return UNKNOWN
    return UNKNOWN


def _ref(assembly: Assembly, stack: Stack, name: str, depth: int) -> str:
    if name == "AWS::StackName":
        return stack.top_level.name
    if name in stack.resources:
        return _resource_name(assembly, stack, name, depth)
    if name in stack.parameters:
        if stack.parent is not None:
            passed = stack.parent.resources.get(stack.parent_resource_id or "")
            if passed is not None and name in (passed.properties.get("Parameters") or {}):
                return render(assembly, stack.parent, passed.properties["Parameters"][name], depth + 1)
        # a top-level parameter, or a nested one its parent does not pass: CloudFormation uses the default
        default = stack.parameters[name].get("Default")
        return UNKNOWN if default is None else str(default)
    return UNKNOWN


def _getatt(assembly: Assembly, stack: Stack, logical_id: str, attribute: str, depth: int) -> str:
    resource = stack.resources[logical_id]
    if resource.type == NESTED_STACK_TYPE and attribute.startswith("Outputs."):
        nested = assembly.nested_stack(stack, logical_id)
        output = (nested.outputs.get(attribute.removeprefix("Outputs.")) or {}) if nested else {}
        return render(assembly, nested, output.get("Value"), depth + 1) if nested and output else UNKNOWN
    return _resource_name(assembly, stack, logical_id, depth)


def _resource_name(assembly: Assembly, stack: Stack, logical_id: str, depth: int) -> str:
    """A resource's explicit name, else the ``<stack>-<logical id>-<random>`` CloudFormation generates.

    Its Ref or ARN contains that name, so the name is what a reference contributes.
    """
    resource = stack.resources[logical_id]
    name_property = NAME_PROPERTY.get(resource.type)
    if name_property and resource.properties.get(name_property) is not None:
        return render(assembly, stack, resource.properties[name_property], depth + 1)
    return f"{stack.top_level.name}-{logical_id}"


def _sub(assembly: Assembly, stack: Stack, arg: Any, depth: int) -> str:
    if isinstance(arg, str):
        text, variables = arg, {}
    else:  # [text, {Name: value}]
        text, variables = arg

    def substitute(match: re.Match) -> str:
        reference = match.group(1)
        if reference.startswith("!"):
            return "${" + reference[1:] + "}"
        if reference in variables:
            return render(assembly, stack, variables[reference], depth + 1)
        name, _, attribute = reference.partition(".")
        if attribute:
            return _getatt(assembly, stack, name, attribute, depth)
        return _ref(assembly, stack, name, depth)

    return _SUB_VARIABLE.sub(substitute, text)
