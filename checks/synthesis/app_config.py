"""Read a CDK app directory the way the CDK CLI does: ``cdk.json``'s app command and context.

The CLI looks a context key up on the command line first, then in
``cdk.json``, then in ``cdk.context.json``; it passes the result to the app in
``CDK_CONTEXT_JSON``. A Python app command (``python app.py``, ``python3 -m
pkg.app``, ``.venv/bin/python app.py --flag``) is split into interpreter flags,
the script or module, and its arguments, so stackgrade's runner can run it.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# What the CDK CLI passes by default; path metadata is forced on because every finding points
# at its resource by construct path.
DEFAULT_CONTEXT: dict[str, Any] = {"aws:cdk:enable-asset-metadata": True}
FORCED_CONTEXT: dict[str, Any] = {"aws:cdk:enable-path-metadata": True}
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
# Interpreter options that take a value (python -W ignore app.py).
_OPTIONS_WITH_VALUE = {"-W", "-X", "-Q"}


class AppInputError(Exception):
    """The app directory cannot be synthesized as given; the message says what to do."""


@dataclass(frozen=True)
class PythonCommand:
    """A Python app command: which interpreter, its flags, and the script or module with arguments."""

    interpreter: str
    flags: tuple[str, ...]
    target: str
    module: bool
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class AppConfig:
    """What ``cdk.json`` says: the app command, the context (``cdk.context.json`` merged) and output."""

    app_dir: Path
    command: str
    context: dict[str, Any] = field(default_factory=dict)
    output: str | None = None


def read_app_config(app_dir: Path, context: dict[str, str] | None = None) -> AppConfig:
    """The app's command and full context (``context`` wins over ``cdk.json`` over ``cdk.context.json``)."""
    app_dir = Path(app_dir)
    if not app_dir.exists():
        raise AppInputError(f"{app_dir} does not exist; give the directory of a CDK app (the one with cdk.json)")
    if not app_dir.is_dir():
        raise AppInputError(f"{app_dir} is not a directory; give the directory of a CDK app (the one with cdk.json)")
    settings = _read_json(app_dir / "cdk.json", required=True)
    command = settings.get("app")
    if not isinstance(command, str) or not command.strip():
        raise AppInputError(
            f"{app_dir / 'cdk.json'} has no \"app\" command; add one, e.g. \"app\": \"python3 app.py\""
        )
    if (app_dir / command.strip()).is_dir():
        raise AppInputError(
            f"{app_dir / 'cdk.json'}'s app is the cloud assembly {command!r}; grade that directory instead"
        )
    cdk_json_context = settings.get("context", {})
    if not isinstance(cdk_json_context, dict):
        raise AppInputError(f"{app_dir / 'cdk.json'}: \"context\" must be a JSON object")
    saved = _read_json(app_dir / "cdk.context.json", required=False)
    merged = {**DEFAULT_CONTEXT, **saved, **cdk_json_context, **(context or {}), **FORCED_CONTEXT}
    output = settings.get("output") if isinstance(settings.get("output"), str) else None
    return AppConfig(app_dir, command.strip(), merged, output)


def _read_json(path: Path, *, required: bool) -> dict:
    if not path.is_file():
        if required:
            raise AppInputError(
                f"no {path.name} in {path.parent}; give the directory of a CDK app (the one with cdk.json), "
                "or an existing cloud assembly (cdk.out) to grade it without synthesis"
            )
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise AppInputError(f"cannot read {path}: {error}") from error
    except json.JSONDecodeError as error:
        raise AppInputError(f"{path} is not valid JSON: {error.msg} (line {error.lineno}); fix it") from error
    if not isinstance(data, dict):
        raise AppInputError(f"{path} must hold a JSON object")
    return data


def python_command(config: AppConfig, python: str | None = None) -> PythonCommand | None:
    """The app command as a :class:`PythonCommand`, or None when it does not start with a Python interpreter.

    The interpreter is ``python`` when given, else the app's own ``.venv/bin/python``, else the
    one the command names (resolved against the app dir, or on PATH).
    """
    try:
        words = shlex.split(config.command)
    except ValueError as error:
        raise AppInputError(f"cdk.json's app command {config.command!r} cannot be parsed: {error}") from error
    if not words or not _PYTHON.match(Path(words[0]).name):
        return None
    interpreter = python or _default_interpreter(config.app_dir, words[0])
    flags: list[str] = []
    rest = words[1:]
    while rest and rest[0].startswith("-") and rest[0] != "-m":
        flag = rest.pop(0)
        if flag == "-c" or flag.startswith("-c"):
            raise AppInputError(f"cdk.json's app command {config.command!r} runs inline code (-c); "
                                "put the app in a file (app.py) so stackgrade can run it")
        flags.append(flag)
        if flag in _OPTIONS_WITH_VALUE and rest:
            flags.append(rest.pop(0))
    if rest[:1] == ["-m"]:
        if len(rest) < 2:
            raise AppInputError(f"cdk.json's app command {config.command!r} names no module after -m")
        return PythonCommand(interpreter, tuple(flags), rest[1], True, tuple(rest[2:]))
    if not rest:
        raise AppInputError(f"cdk.json's app command {config.command!r} names no script; e.g. python3 app.py")
    if not (config.app_dir / rest[0]).is_file():
        raise AppInputError(f"cdk.json's app command runs {rest[0]}, which is not a file in {config.app_dir}")
    return PythonCommand(interpreter, tuple(flags), rest[0], False, tuple(rest[1:]))


def _default_interpreter(app_dir: Path, named: str) -> str:
    local_venv = app_dir / ".venv" / "bin" / "python"
    if local_venv.exists():
        return str(local_venv)
    if "/" in named:
        candidate = (app_dir / named) if not Path(named).is_absolute() else Path(named)
        if candidate.exists():
            return str(candidate)
        raise AppInputError(f"the app command's interpreter {named} does not exist; create it or pass --python")
    found = shutil.which(named)
    if not found:
        raise AppInputError(f"the app command's interpreter {named!r} is not on PATH; pass --python")
    return found
