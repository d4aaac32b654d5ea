"""IAM identity policies as the iam rules (SG-IAM-*) see them.

Identity policies are the documents attached to principals: ``AWS::IAM::Policy``,
``AWS::IAM::ManagedPolicy``, ``AWS::IAM::RolePolicy`` / ``UserPolicy`` /
``GroupPolicy`` and the inline ``Policies`` of ``AWS::IAM::Role`` / ``User`` /
``Group``. Resource-based policies (KMS key policies, queue, topic and bucket
policies) are deliberately not read here: their ``*`` principals and ``kms:*``
root statements mean something else and are other rules' business.

Only ``Effect: Allow`` statements are returned (a Deny narrows access, it never
widens it). Both branches of an ``Fn::If`` count: a policy, a statement list or a
statement under a condition is read as if either branch may deploy. Actions and
resources are kept as literal strings where the template spells them (``None``
where an intrinsic hides the value), so the rules can match IAM wildcards (``*``
and ``?``, case-insensitive) against them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from checks.assembly import Resource, Stack
from rules.rule import RuleContext
from rules.support.values import listing  # noqa: F401  (moved to values; ``iam.listing`` still names it)

PRINCIPAL_TYPES: tuple[str, ...] = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")
POLICY_TYPES: tuple[str, ...] = (
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::RolePolicy",
    "AWS::IAM::UserPolicy",
    "AWS::IAM::GroupPolicy",
)
# Every resource type that holds an identity policy document.
IDENTITY_POLICY_TYPES: tuple[str, ...] = POLICY_TYPES + PRINCIPAL_TYPES

# The properties that attach a standalone policy to principals, with the noun for each.
_ATTACHMENTS: tuple[tuple[str, str], ...] = (
    ("Roles", "role"), ("Users", "user"), ("Groups", "group"),
    ("RoleName", "role"), ("UserName", "user"), ("GroupName", "group"),
)
_KIND = {"AWS::IAM::Role": "role", "AWS::IAM::User": "user", "AWS::IAM::Group": "group"}
_SERVICE_WILDCARD = re.compile(r"^[a-z0-9][a-z0-9-]*:\*+$", re.IGNORECASE)


@dataclass(frozen=True)
class AllowStatement:
    """One ``Effect: Allow`` statement of an identity policy, with literal actions and resources."""

    label: str  # "Sid 'ReadOrders'" or "Statement[2]", prefixed with the inline policy's name
    actions: tuple[str | None, ...]  # Action, or NotAction when ``not_action``; None = not a literal
    not_action: bool
    resources: tuple[str | None, ...]  # Resource, or NotResource when ``not_resource``
    not_resource: bool

    def grants(self, action: str) -> bool:
        """Whether the statement allows ``action`` (a concrete action such as ``iam:PassRole``)."""
        matched = any(a is not None and matches(a, action) for a in self.actions)
        return not matched if self.not_action else matched


def matches(pattern: str, action: str) -> bool:
    """IAM wildcard matching (``*`` any run, ``?`` one character), case-insensitive."""
    return _compile(pattern).fullmatch(action) is not None


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


def is_every_action(action: str) -> bool:
    """``*`` (or ``*:*``): the action pattern that grants everything."""
    return bool(action) and set(action) <= {"*", ":"} and "*" in action


def is_service_wildcard(action: str) -> bool:
    """``s3:*``: every action of one service."""
    return bool(_SERVICE_WILDCARD.match(action))


def allow_listed(action: str | None, allow_list: Iterable[str]) -> bool:
    """Whether an action may be granted on ``*``.

    Covered when it equals an allow-list entry (case-insensitive), or when it is a
    concrete action (no wildcard) that an allow-list entry's own wildcard matches
    (an entry ``xray:Put*`` covers ``xray:PutTraceSegments``). A wildcard action in
    the policy is only covered by the identical entry: ``xray:Put*`` in a policy is
    NOT covered by listing ``xray:PutTraceSegments`` and ``xray:PutTelemetryRecords``,
    because the pattern also grants whatever ``Put`` actions AWS adds later.
    """
    if action is None:
        return False
    concrete = "*" not in action and "?" not in action
    for entry in allow_list:
        if entry.lower() == action.lower():
            return True
        if concrete and ("*" in entry or "?" in entry) and matches(entry, action):
            return True
    return False


# --- reading the documents -------------------------------------------------------------------


def alternatives(value: Any) -> list[Any]:
    """``value`` as a list of items, taking both branches of every ``Fn::If``.

    A list is flattened, an absent value or ``AWS::NoValue`` is no item, anything
    else is one item: ``[a, !If [C, b, !Ref AWS::NoValue]]`` gives ``[a, b]``.
    """
    if isinstance(value, list):
        return [item for element in value for item in alternatives(element)]
    if isinstance(value, dict) and list(value) == ["Fn::If"] and isinstance(value["Fn::If"], list):
        return [item for branch in value["Fn::If"][1:] for item in alternatives(branch)]
    if value is None or value == {"Ref": "AWS::NoValue"}:
        return []
    return [value]


def policy_documents(resource: Resource, ctx: RuleContext) -> list[tuple[str | None, Any]]:
    """(inline policy label or None, document) for each identity policy document the resource holds.

    ``resource`` is one of :data:`IDENTITY_POLICY_TYPES`.
    """
    if resource.type in PRINCIPAL_TYPES:
        documents = []
        for position, policy in enumerate(alternatives(resource.properties.get("Policies"))):
            name = ctx.assembly.literal(resource.stack, policy.get("PolicyName"))
            label = f"inline policy '{name}'" if name is not None else f"inline policy #{position}"
            documents.extend((label, document) for document in alternatives(policy.get("PolicyDocument")))
        return documents
    return [(None, document) for document in alternatives(resource.properties.get("PolicyDocument"))]


def holds_policies(resource: Resource) -> bool:
    """Whether the resource holds an identity policy document (a role without inline policies does not)."""
    return resource.type in POLICY_TYPES or bool(resource.properties.get("Policies"))


def allow_statements(resource: Resource, ctx: RuleContext) -> list[AllowStatement]:
    """Every ``Effect: Allow`` statement of every identity policy document the resource holds."""
    found = []
    for prefix, document in policy_documents(resource, ctx):
        for index, statement in enumerate(alternatives(document.get("Statement"))):
            if ctx.assembly.literal(resource.stack, statement.get("Effect")) != "Allow":
                continue
            sid = ctx.assembly.literal(resource.stack, statement.get("Sid"))
            label = f"Sid '{sid}'" if sid else f"Statement[{index}]"
            not_action = "NotAction" in statement and "Action" not in statement
            not_resource = "NotResource" in statement and "Resource" not in statement
            found.append(AllowStatement(
                label=f"{prefix} {label}" if prefix else label,
                actions=_literals(ctx, resource.stack, statement.get("NotAction" if not_action else "Action")),
                not_action=not_action,
                resources=_literals(ctx, resource.stack, statement.get("NotResource" if not_resource else "Resource")),
                not_resource=not_resource,
            ))
    return found


def _literals(ctx: RuleContext, stack: Stack, value: Any) -> tuple[str | None, ...]:
    values = value if isinstance(value, list) else [] if value is None else [value]
    return tuple(ctx.assembly.literal(stack, v) for v in values)


# --- wording ---------------------------------------------------------------------------------


def attached_to(resource: Resource, ctx: RuleContext) -> str:
    """`` (attached to role A, user B)`` for a standalone policy, ``""`` otherwise."""
    names = []
    for prop, noun in _ATTACHMENTS:
        value = resource.properties.get(prop)
        for item in value if isinstance(value, list) else [] if value is None else [value]:
            targets = ctx.assembly.targets(resource.stack, item)
            if targets:
                names.extend(f"{noun} {t.logical_id}" for t in targets)
            else:
                literal = ctx.assembly.literal(resource.stack, item)
                if literal is not None:
                    names.append(f"{noun} '{literal}'")
    return f" (attached to {', '.join(dict.fromkeys(names))})" if names else ""


def owner_noun(resource: Resource) -> str:
    """How a message names its subject: ``role``, ``user``, ``group`` or ``policy``."""
    return _KIND.get(resource.type, "policy")


def action_text(actions: Iterable[str | None]) -> str:
    return ", ".join(a if a is not None else "(an expression)" for a in actions)


# --- managed policy ARNs ---------------------------------------------------------------------


def render(ctx: RuleContext, stack: Stack, value: Any) -> str | None:
    """A string value with intrinsics spelled out: ``arn:${AWS::Partition}:iam::aws:policy/X``.

    ``Ref`` to a pseudo parameter or a parameter without default becomes ``${Name}``;
    a parameter with a default becomes the default; ``Fn::Join`` and ``Fn::Sub`` are
    expanded (a part or Sub variable that is something else becomes ``${?}`` or stays
    ``${Name}``). None when the value is something else (``Fn::GetAtt``,
    ``Fn::ImportValue``, ``Fn::If``, ...).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref" and isinstance(arg, str):
            literal = ctx.assembly.literal(stack, value)
            return literal if literal is not None else "${" + arg + "}"
        if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
            parts = [render(ctx, stack, part) for part in arg[1]]
            return str(arg[0]).join(p if p is not None else "${?}" for p in parts)
        if key == "Fn::Sub":
            if isinstance(arg, str):
                text, variables = arg, {}
            else:  # [text, {Name: value}]
                text, variables = arg
            for name, variable in variables.items():
                rendered = render(ctx, stack, variable)
                if rendered is not None:
                    text = text.replace("${" + name + "}", rendered)
            return text
    return None


def trusted_principals(role: Resource, ctx: RuleContext) -> list[str]:
    """The literal principals (services, accounts) a role's trust policy lets assume it."""
    principals: list[str] = []
    document = role.properties.get("AssumeRolePolicyDocument") or {}
    for statement in alternatives(document.get("Statement")):
        principal = statement.get("Principal")
        if principal == "*":
            principals.append("*")
            continue
        for values in principal.values() if isinstance(principal, dict) else ():
            for value in values if isinstance(values, list) else [values]:
                rendered = render(ctx, role.stack, value)
                if rendered is not None:
                    principals.append(rendered)
    return list(dict.fromkeys(principals))
