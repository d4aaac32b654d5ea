"""A model of a cloud assembly that rules can walk: stacks, nested stacks, resources and references.

Load a CDK cloud assembly directory (``manifest.json``, nested stacks and
nested assemblies included) or a single CloudFormation template (JSON or YAML
with short-form intrinsics). Every resource knows its stack, logical ID, type
and CDK construct path; :meth:`Assembly.targets` follows ``Ref``,
``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join`` (and any other intrinsic that wraps
references), nested-stack parameters and outputs, and ``Fn::ImportValue``
exports back to the resources a value points at.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Iterator

NESTED_STACK_TYPE = "AWS::CloudFormation::Stack"
CDK_PATH = "aws:cdk:path"
NESTED_TEMPLATE_KEY = "aws:asset:path"
_SUB_REFERENCE = re.compile(r"\$\{(?!!)([^}]+)\}")
_SUB_TOKEN = re.compile(r"\$\{([^}]+)\}")
_MAX_DEPTH = 12


class AssemblyError(Exception):
    """The input is not a cloud assembly or template we can read; the message says why."""


@dataclass(eq=False)
class Resource:
    """One resource of one stack."""

    stack: Stack
    logical_id: str
    type: str
    properties: dict
    definition: dict = field(repr=False)

    @property
    def construct_path(self) -> str | None:
        metadata = self.definition.get("Metadata")
        return metadata.get(CDK_PATH) if isinstance(metadata, dict) else None

    @property
    def deletion_policy(self) -> str | None:
        return self.definition.get("DeletionPolicy")

    def prop(self, *path: str, default: Any = None) -> Any:
        """A nested property, ``default`` when any step is missing."""
        value: Any = self.properties
        for step in path:
            if not isinstance(value, dict) or step not in value:
                return default
            value = value[step]
        return value

    def __repr__(self) -> str:
        return f"<{self.type} {self.stack.name}/{self.logical_id}>"


@dataclass(eq=False)
class Stack:
    """One template: a top-level stack, or a nested stack under ``parent``."""

    name: str
    template: dict = field(repr=False)
    path: Path | None = None
    parent: Stack | None = None
    parent_resource_id: str | None = None
    resources: dict[str, Resource] = field(default_factory=dict, repr=False)

    @property
    def parameters(self) -> dict:
        return self.template.get("Parameters") or {}

    @property
    def conditions(self) -> dict:
        return self.template.get("Conditions") or {}

    @property
    def outputs(self) -> dict:
        return self.template.get("Outputs") or {}

    @property
    def top_level(self) -> Stack:
        return self if self.parent is None else self.parent.top_level

    @property
    def nested(self) -> bool:
        return self.parent is not None


class Assembly:
    """Every stack of an assembly, with type indexes and reference resolution."""

    def __init__(self, stacks: list[Stack], source: Path | None = None) -> None:
        self.stacks = stacks
        self.source = source
        self._by_type: dict[str, list[Resource]] = {}
        self._position: dict[int, int] = {}
        for stack in stacks:
            for resource in stack.resources.values():
                self._by_type.setdefault(resource.type, []).append(resource)
                self._position[id(resource)] = len(self._position)
        # Keyed by the parent Stack object, not its name: two stages may deploy stacks of the same name.
        self._nested_by_resource = {
            (id(stack.parent), stack.parent_resource_id): stack for stack in stacks if stack.parent
        }

    # --- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Assembly:
        """A cloud assembly directory or a single template file."""
        path = Path(path)
        if not path.exists():
            raise AssemblyError(f"{path} does not exist; give a cloud assembly directory (cdk.out) or a template")
        if path.is_dir():
            stacks = _load_assembly_dir(path)
            if not stacks:
                raise AssemblyError(f"{path} holds no CloudFormation stacks (is the app empty?)")
        else:
            template = load_template(path)
            stacks = [_build_stack(path.stem.removesuffix(".template"), template, path)]
            stacks.extend(_load_nested(stacks[0], path.parent, (path.resolve(),)))
        return cls(stacks, path)

    @classmethod
    def from_templates(cls, templates: dict[str, dict]) -> Assembly:
        """An assembly of already-parsed top-level templates, by stack name (no nested stacks)."""
        return cls([_build_stack(name, _check_template(template, name), None) for name, template in templates.items()])

    # --- queries -------------------------------------------------------------------------------

    def resources(self, *types: str) -> list[Resource]:
        """Every resource of the given types (all resources when none is given), in stack order."""
        if not types:
            return [r for stack in self.stacks for r in stack.resources.values()]
        if len(types) == 1:
            return list(self._by_type.get(types[0], []))
        found = [r for t in dict.fromkeys(types) for r in self._by_type.get(t, [])]
        return sorted(found, key=lambda r: self._position[id(r)])

    def nested_stack(self, parent: Stack, logical_id: str) -> Stack | None:
        return self._nested_by_resource.get((id(parent), logical_id))

    @cached_property
    def exports(self) -> dict[str, tuple[Stack, Any]]:
        """Export name -> (stack, output value), for ``Fn::ImportValue``; literal names only."""
        exports: dict[str, tuple[Stack, Any]] = {}
        for stack in self.stacks:
            for output in stack.outputs.values():
                export = output.get("Export")
                name = export.get("Name") if isinstance(export, dict) else None
                literal = self.literal(stack, name)
                if literal is not None:
                    exports[literal] = (stack, output.get("Value"))
        return exports

    def targets(self, stack: Stack, value: Any, _depth: int = 0) -> list[Resource]:
        """The resources ``value`` refers to, following parameters, outputs and imports."""
        found: list[Resource] = []
        self._collect(stack, value, found, _depth)
        unique: dict[int, Resource] = {id(r): r for r in found}
        return list(unique.values())

    def refers_to(self, stack: Stack, value: Any, resource: Resource) -> bool:
        return any(r is resource for r in self.targets(stack, value))

    def literal(self, stack: Stack, value: Any) -> str | None:
        """``value`` as a plain string where it is one (or a Join/Sub of plain strings), else None.

        A ``Ref`` to a parameter is its default (a nested stack's: the value its parent passes).
        """
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) \
                    and isinstance(arg[1], list):
                parts = [self.literal(stack, part) for part in arg[1]]
                if all(p is not None for p in parts):
                    return arg[0].join(parts)  # type: ignore[arg-type]
            if key == "Fn::Sub":
                return self._sub_literal(stack, arg)
            if key == "Ref" and isinstance(arg, str):
                return self._parameter_literal(stack, arg)
        return None

    def _sub_literal(self, stack: Stack, arg: Any) -> str | None:
        text, variables = _sub_parts(arg)
        if not isinstance(text, str):
            return None
        values: dict[str, str] = {}
        for reference in set(_SUB_REFERENCE.findall(text)):
            if reference in variables:
                value = self.literal(stack, variables[reference])
            elif "." not in reference:
                value = self._parameter_literal(stack, reference)
            else:
                value = None
            if value is None:
                return None
            values[reference] = value
        # ${!Name} is the escape for a literal "${Name}".
        return _SUB_TOKEN.sub(lambda m: "${" + m.group(1)[1:] + "}" if m.group(1).startswith("!")
                              else values[m.group(1)], text)

    def _parameter_literal(self, stack: Stack, name: str) -> str | None:
        parameter = stack.parameters.get(name)
        if not isinstance(parameter, dict):
            return None
        if stack.parent is not None:
            passed = stack.parent.resources.get(stack.parent_resource_id or "")
            given = passed.prop("Parameters", name) if passed is not None else None
            if given is not None:
                return self.literal(stack.parent, given)
        return self.literal(stack, parameter["Default"]) if "Default" in parameter else None

    # --- resolution ----------------------------------------------------------------------------

    def _collect(self, stack: Stack, value: Any, found: list[Resource], depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        if isinstance(value, list):
            for item in value:
                self._collect(stack, item, found, depth)
            return
        if not isinstance(value, dict):
            return
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                self._ref(stack, arg, found, depth)
                return
            if key == "Fn::GetAtt":
                logical_id, attribute = _split_getatt(arg)
                self._getatt(stack, logical_id, attribute, found, depth)
                return
            if key == "Fn::Sub":
                self._sub(stack, arg, found, depth)
                return
            if key == "Fn::ImportValue":
                name = self.literal(stack, arg)
                if name in self.exports:
                    export_stack, export_value = self.exports[name]
                    self._collect(export_stack, export_value, found, depth + 1)
                return
        for item in value.values():
            self._collect(stack, item, found, depth)

    def _ref(self, stack: Stack, name: Any, found: list[Resource], depth: int) -> None:
        if not isinstance(name, str):
            return
        if name in stack.resources:
            found.append(stack.resources[name])
        elif name in stack.parameters and stack.parent is not None:
            passed = stack.parent.resources.get(stack.parent_resource_id or "")
            if passed is not None:
                self._collect(stack.parent, passed.prop("Parameters", name), found, depth + 1)

    def _getatt(self, stack: Stack, logical_id: str, attribute: str, found: list[Resource], depth: int) -> None:
        resource = stack.resources.get(logical_id)
        if resource is None:
            return
        if resource.type == NESTED_STACK_TYPE and attribute.startswith("Outputs."):
            nested = self.nested_stack(stack, logical_id)
            if nested is not None:
                output = nested.outputs.get(attribute.removeprefix("Outputs."), {})
                self._collect(nested, output.get("Value"), found, depth + 1)
            return
        found.append(resource)

    def _sub(self, stack: Stack, arg: Any, found: list[Resource], depth: int) -> None:
        text, variables = _sub_parts(arg)
        for reference in _SUB_REFERENCE.findall(text if isinstance(text, str) else ""):
            name, _, attribute = reference.partition(".")
            if reference in variables:
                self._collect(stack, variables[reference], found, depth + 1)
            elif attribute:
                self._getatt(stack, name, attribute, found, depth)
            else:
                self._ref(stack, name, found, depth)


# --- parsing -----------------------------------------------------------------------------------


def load_template(path: Path) -> dict:
    """A template file as a dict: JSON directly, YAML (short-form intrinsics too) via cfn-lint's decoder."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise AssemblyError(f"cannot read template {path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise AssemblyError(f"{path} is not a text file (not UTF-8): {error.reason}") from error
    if path.suffix == ".json" or text.lstrip().startswith("{"):
        try:
            template = json.loads(text)
        except json.JSONDecodeError as error:
            raise AssemblyError(f"{path} is not valid JSON: {error.msg} (line {error.lineno})") from error
    else:
        # cfn-lint is slow to import (~2 s); CDK assemblies are JSON and never pay for it.
        from cfnlint.decode import cfn_yaml

        try:
            template = _plain(cfn_yaml.loads(text, str(path)))
        except Exception as error:  # noqa: BLE001 - the decoder raises several YAML error types
            raise AssemblyError(f"{path} is not valid CloudFormation YAML: {error}") from error
    return _check_template(template, path)


def _check_template(template: Any, where: Path | str) -> dict:
    """``template`` when it has the shape of a CloudFormation template, else an AssemblyError."""
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise AssemblyError(f"{where} is not a CloudFormation template (no Resources mapping)")
    for section in ("Parameters", "Outputs"):
        entries = template.get(section)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            raise AssemblyError(f"{where}: {section} is not a mapping")
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                raise AssemblyError(f"{where}: {section[:-1].lower()} {name} is not a mapping")
    return template


def _plain(value: Any) -> Any:
    """cfn-lint's node types (dict_node, str_node, ...) as plain Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime.date):  # a datetime too
        # YAML reads an unquoted 2010-09-09 as a date; CloudFormation reads it as the string.
        return value.isoformat()
    return value


def _build_stack(name: str, template: dict, path: Path | None, parent: Stack | None = None,
                 parent_resource_id: str | None = None) -> Stack:
    stack = Stack(name, template, path, parent, parent_resource_id)
    for logical_id, definition in (template.get("Resources") or {}).items():
        if not isinstance(definition, dict) or not isinstance(definition.get("Type"), str):
            raise AssemblyError(f"resource {logical_id} in {path or name} has no Type")
        properties = definition.get("Properties") or {}
        if not isinstance(properties, dict):
            raise AssemblyError(f"resource {logical_id} in {path or name}: Properties is not a mapping")
        stack.resources[logical_id] = Resource(stack, logical_id, definition["Type"], properties, definition)
    return stack


def _load_assembly_dir(directory: Path, _seen: tuple[Path, ...] = ()) -> list[Stack]:
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise AssemblyError(f"{directory} has no manifest.json; is it a cloud assembly (cdk.out)?")
    if directory.resolve() in _seen:
        raise AssemblyError(f"{manifest_path} includes itself as a nested cloud assembly")
    _seen = (*_seen, directory.resolve())
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise AssemblyError(f"cannot read {manifest_path}: {error}") from error
    except json.JSONDecodeError as error:
        raise AssemblyError(f"{manifest_path} is not valid JSON: {error.msg} (line {error.lineno})") from error
    if not isinstance(manifest, dict):
        raise AssemblyError(f"{manifest_path}: not a cloud assembly manifest (not a JSON object)")
    artifacts = manifest.get("artifacts")
    if not isinstance(artifacts, (dict, type(None))):
        raise AssemblyError(f"{manifest_path}: artifacts is not a mapping")
    stacks: list[Stack] = []
    for artifact_id, artifact in (artifacts or {}).items():
        if not isinstance(artifact, dict):
            raise AssemblyError(f"{manifest_path}: artifact {artifact_id} is not a mapping")
        kind = artifact.get("type")
        properties = artifact.get("properties") or {}
        if kind == "aws:cloudformation:stack":
            template_path = directory / properties.get("templateFile", f"{artifact_id}.template.json")
            name = properties.get("stackName") or artifact.get("displayName") or artifact_id
            stack = _build_stack(name, load_template(template_path), template_path)
            stacks.append(stack)
            stacks.extend(_load_nested(stack, directory, (template_path.resolve(),)))
        elif kind == "cdk:cloud-assembly":
            if not isinstance(properties.get("directoryName"), str):
                raise AssemblyError(f"{manifest_path}: nested assembly {artifact_id} has no directoryName")
            stacks.extend(_load_assembly_dir(directory / properties["directoryName"], _seen))
    return stacks


def _load_nested(parent: Stack, directory: Path, ancestors: tuple[Path, ...]) -> Iterator[Stack]:
    for logical_id, resource in list(parent.resources.items()):
        if resource.type != NESTED_STACK_TYPE:
            continue
        path = _nested_template_path(resource, directory)
        if path is None:
            continue  # a nested stack from a URL we cannot see: its resources stay unknown
        if path.resolve() in ancestors:
            raise AssemblyError(
                f"nested stack {logical_id} in {parent.path or parent.name} includes its own template {path}"
            )
        nested = _build_stack(f"{parent.name}/{logical_id}", load_template(path), path, parent, logical_id)
        yield nested
        yield from _load_nested(nested, directory, (*ancestors, path.resolve()))


def _nested_template_path(resource: Resource, directory: Path) -> Path | None:
    """The nested template's file: from asset metadata, else from the asset hash in TemplateURL."""
    asset = (resource.definition.get("Metadata") or {}).get(NESTED_TEMPLATE_KEY)
    if asset and (directory / asset).is_file():
        return directory / asset
    url_parts = json.dumps(resource.properties.get("TemplateURL"))
    for match in re.finditer(r"([0-9a-f]{64})\.json", url_parts):
        for candidate in sorted(directory.glob("*.assets.json")):
            try:
                manifest = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
                raise AssemblyError(f"cannot read asset manifest {candidate}: {error}") from error
            files = manifest.get("files") if isinstance(manifest, dict) else None
            entry = files.get(match.group(1)) if isinstance(files, dict) else None
            source = entry.get("source") if isinstance(entry, dict) else None
            source_path = source.get("path") if isinstance(source, dict) else None
            if isinstance(source_path, str) and (directory / source_path).is_file():
                return directory / source_path
    return None


def _sub_parts(arg: Any) -> tuple[Any, dict]:
    """``Fn::Sub``'s text and variables map, from either of its forms."""
    if isinstance(arg, list) and len(arg) == 2:
        return arg[0], arg[1] if isinstance(arg[1], dict) else {}
    return arg, {}


def _split_getatt(arg: Any) -> tuple[str, str]:
    if isinstance(arg, str):
        logical_id, _, attribute = arg.partition(".")
        return logical_id, attribute
    if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
        return arg[0], arg[1] if isinstance(arg[1], str) else ""
    return "", ""


def iter_statements(document: Any) -> Iterable[dict]:
    """The statements of an IAM policy document (a single statement object too)."""
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    return [s for s in (statements if isinstance(statements, list) else [statements]) if isinstance(s, dict)]
