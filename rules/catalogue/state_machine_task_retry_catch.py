"""Step Functions Task states retry transient errors and catch the rest."""

from __future__ import annotations

import json
import re
from typing import Any

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.event_sources import render
from rules.support.values import joined

# What an intrinsic (a Ref to a function ARN, a queue URL) becomes before parsing: first a string
# token, which keeps a string valid; then a number, which also fits where a value was expected.
_PLACEHOLDERS = ("__stackgrade_intrinsic__", "0")
_SUBSTITUTION = re.compile(r"\$\{[^}]*\}")


class DefinitionError(ValueError):
    """A state machine definition we cannot read; the message says why."""


def definition_of(machine: Resource) -> dict:
    """The state machine's definition as a dict: Definition, or DefinitionString parsed."""
    props = machine.properties
    if isinstance(props.get("Definition"), dict):
        return props["Definition"]
    if "DefinitionString" in props:
        return _parse(props["DefinitionString"])
    if props.get("DefinitionS3Location") is not None:
        raise DefinitionError("its definition is in S3 (DefinitionS3Location), so its Task states cannot be checked")
    raise DefinitionError("it has no Definition or DefinitionString")


def _parse(value: Any) -> dict:
    error = "it is not a string or an Fn::Join / Fn::Sub of strings"
    for placeholder in _PLACEHOLDERS:
        text = render(value, placeholder)
        if text is None:
            break
        if placeholder != _PLACEHOLDERS[0]:
            text = _SUBSTITUTION.sub(placeholder, text)  # DefinitionSubstitutions used as a value
        try:
            definition = json.loads(text)
        except json.JSONDecodeError as exc:
            error = f"it is not valid JSON ({exc.msg} at character {exc.pos})"
            continue
        if not isinstance(definition, dict):
            raise DefinitionError("it is not a JSON object")
        return definition
    raise DefinitionError(error)


def task_states(graph: Any, prefix: str = "") -> list[tuple[str, dict]]:
    """(name, state) of every Task state, inside Parallel branches and Map iterators too."""
    if not isinstance(graph, dict) or not isinstance(graph.get("States"), dict):
        raise DefinitionError(f"{prefix.rstrip('/') or 'the definition'} has no States object")
    found = []
    for name, state in graph["States"].items():
        if not isinstance(state, dict):
            raise DefinitionError(f"state {prefix}{name} is not an object")
        kind = state.get("Type")
        if kind == "Task":
            found.append((f"{prefix}{name}", state))
        elif kind == "Parallel":
            for branch in state.get("Branches") or []:
                found.extend(task_states(branch, f"{prefix}{name}/"))
        elif kind == "Map":
            inner = state.get("ItemProcessor", state.get("Iterator"))
            if inner is not None:
                found.extend(task_states(inner, f"{prefix}{name}/"))
    return found


def check(machine: Resource, ctx: RuleContext) -> Verdict:
    try:
        tasks = task_states(definition_of(machine))
    except DefinitionError as error:
        return f"state machine definition cannot be read: {error}"
    if not tasks:
        return NOT_APPLICABLE
    no_retry = [name for name, state in tasks if not state.get("Retry")]
    no_catch = [name for name, state in tasks if not state.get("Catch")]
    problems = []
    if no_retry:
        problems.append(f"without Retry, so a transient error fails the execution: {joined(no_retry)}")
    if no_catch:
        problems.append(f"without Catch, so a failure reaches no fallback state: {joined(no_catch)}")
    if problems:
        return "Task states " + "; ".join(problems)
    return None


RULE = Rule(
    id="SG-SFN-001",
    title="Step Functions Task states have Retry and Catch",
    severity="medium",
    concerns=("retries",),
    applies_to=("AWS::StepFunctions::StateMachine",),
    check=check,
    rationale=(
        "A Task state calls another service, and calls fail: Lambda throttles, SDK calls time out. "
        "Without `Retry` a transient error fails the whole execution; without `Catch` a permanent one "
        "ends it with no compensation, notification or fallback state. Every Task state, including those "
        "inside Parallel branches and Map iterations, needs both. A definition that cannot be read "
        "(kept in S3, or not JSON) is reported rather than passed."
    ),
    remediation=(
        "On each task: `task.add_retry(errors=[\"States.ALL\"], interval=Duration.seconds(2), "
        "max_attempts=3, backoff_rate=2)` and `task.add_catch(fallback_state, result_path=\"$.error\")` "
        "(`tasks.LambdaInvoke`, `tasks.SqsSendMessage`, `tasks.CallAwsService`, ...)."
    ),
    seeds=("004 #3 Missing Advanced Service Configurations",),
)
