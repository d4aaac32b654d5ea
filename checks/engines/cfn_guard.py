"""The cfn-guard engine: our ``.guard`` rules (and, opt-in, AWS Control Tower's) over every template.

The cfn-guard binary and the Control Tower proactive-control rules (each with a
JSON metadata file: control id, title, severity, resource types, remediation)
ship inside the jsii tarball of the PyPI package ``cdklabs.cdk-validator-cfnguard``.
The package is located without importing it (importing starts jsii) and the
build for this OS and CPU is extracted once, atomically, to
``<cache>/cfn-guard/<package version>/``. One ``cfn-guard validate`` run grades
all templates of an assembly (nested stacks included) with our enabled rules and,
with ``guard_control_tower``, the Control Tower rules for the resource types the
assembly has; its structured JSON output is turned into findings. cfn-guard
names the rules that passed a template but not the resources, so ``evaluated``
holds every resource of the types a rule applies to in each template it ran on.

Suppression: cfn-guard itself has none; by the convention of the AWS Guard
rules registry a resource lists rule names under ``Metadata: guard:
SuppressedRules:``. Findings of those rules on that resource are returned
suppressed, without a reason (the convention has no field for one).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from checks.assembly import Assembly, Resource, Stack
from checks.engines import EngineFailure, EngineMissing, EngineOptions, EngineResult
from checks.finding import Finding, fingerprint
from rules.guard import GuardRule, guard_rules, named_rules
from rules.mapping import lookup

ENGINE = "cfn-guard"
PACKAGE_MODULE = "cdklabs.cdk_validator_cfnguard"
PACKAGE_DIST = "cdklabs.cdk-validator-cfnguard"
INSTALL_HINT = (f"install the Python package {PACKAGE_DIST} (a stackgrade dependency: "
                f"`pip install {PACKAGE_DIST}==0.0.62`), or skip the cfn-guard engine")
BINARY = "cfn-guard"
# Holds cfn-guard/<service>/<control>.guard and metadata/<service>/<control>.metadata.json.
CONTROL_TOWER = "control-tower"
_TAR_ROOT = "package/"
_TAR_CONTROL_TOWER = "package/rules/control-tower/"
_CONTROL_TOWER_FILES = (".guard", ".metadata.json")
# cfn-guard validate: 0 = every rule passed or skipped, 19 = some rule failed; anything else is an error.
EXIT_OK, EXIT_VIOLATIONS = 0, 19
SUPPRESSION_KEYS = ("guard", "SuppressedRules")
_CT_CONTROL = re.compile(r"^\[(CT\.[A-Z0-9.]+)\]:\s*(.*)$")
_CT_FIX = re.compile(r"^\[FIX\]:\s*(.*)$")
_MAX_DETAILS = 3


@dataclass(frozen=True)
class GuardInstall:
    """An extracted cfn-guard: the binary, the Control Tower folder, the package version."""

    binary: Path
    control_tower: Path
    package_version: str

    @property
    def control_tower_rules(self) -> Path:
        return self.control_tower / "cfn-guard"

    @property
    def control_tower_metadata(self) -> Path:
        return self.control_tower / "metadata"


@dataclass(frozen=True)
class ControlTowerRule:
    """A Control Tower rule: its Guard rule name and what its metadata file says about it."""

    name: str
    path: Path | None = None
    control_id: str | None = None
    title: str | None = None
    severity: str | None = None  # Control Tower's own: CRITICAL, HIGH, MEDIUM or LOW
    applies_to: tuple[str, ...] = ()
    remediation: str | None = None


# --- locating and extracting the binary ---------------------------------------------------------


def cache_root() -> Path:
    """``$STACKGRADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/stackgrade``, else ``~/.cache/stackgrade``."""
    if os.environ.get("STACKGRADE_CACHE_DIR"):
        return Path(os.environ["STACKGRADE_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "stackgrade"
    return Path.home() / ".cache" / "stackgrade"


def package_tarball() -> tuple[Path, str]:
    """The jsii tarball inside the installed package and the package's version (the package is not imported)."""
    try:
        spec = importlib.util.find_spec(PACKAGE_MODULE)
    except ModuleNotFoundError:  # the ``cdklabs`` namespace itself is absent
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise EngineMissing(f"cfn-guard ships inside the package {PACKAGE_DIST}, which is not installed: "
                            f"{INSTALL_HINT}")
    jsii_dir = Path(list(spec.submodule_search_locations)[0]) / "_jsii"
    tarballs = sorted(jsii_dir.glob("*.jsii.tgz"))
    if not tarballs:
        raise EngineMissing(f"{jsii_dir} holds no *.jsii.tgz with the cfn-guard binary; reinstall {PACKAGE_DIST}")
    try:
        version = importlib.metadata.version(PACKAGE_DIST)
    except importlib.metadata.PackageNotFoundError:  # installed without metadata: the tarball names it
        version = tarballs[0].name.split("@")[-1].removesuffix(".jsii.tgz")
    return tarballs[0], version


def platform_build(system: str | None = None, machine: str | None = None) -> str:
    """The tarball's folder of the cfn-guard build for this OS and CPU, e.g. ``ubuntu/x86_64``."""
    system = (system or platform.system()).lower()
    machine = (machine or platform.machine()).lower()
    os_dir = {"linux": "ubuntu", "darwin": "macos"}.get(system)
    arch_dir = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(machine)
    if os_dir is None or arch_dir is None:
        raise EngineMissing(f"{PACKAGE_DIST} ships cfn-guard for Linux and macOS on x86_64 and aarch64 only, "
                            f"not for {system}/{machine}; skip the cfn-guard engine")
    return f"{os_dir}/{arch_dir}"


def install(cache_dir: Path | None = None, build: str | None = None) -> GuardInstall:
    """cfn-guard and the Control Tower rules under ``<cache>/cfn-guard/<version>/``, extracted on first use.

    Extraction goes to a temporary sibling directory that is renamed into place, so a
    concurrent process either sees the complete directory or none; the loser of the race
    discards its copy.
    """
    tarball, version = package_tarball()
    build = build or platform_build()
    target = (cache_dir or cache_root()) / "cfn-guard" / version
    result = GuardInstall(target / BINARY, target / CONTROL_TOWER, version)
    if _complete(result):
        return result
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # left incomplete by hand or by a crash before the rename existed
        shutil.rmtree(target, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
    try:
        _extract(tarball, build, staging)
        publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def publish(staging: Path, target: Path) -> None:
    """Rename the extracted ``staging`` to ``target``; a complete ``target`` another process made first wins."""
    try:
        staging.rename(target)
    except OSError:
        if not _complete(GuardInstall(target / BINARY, target / CONTROL_TOWER, target.name)):
            raise


def _complete(found: GuardInstall) -> bool:
    return found.binary.is_file() and found.control_tower_rules.is_dir() and found.control_tower_metadata.is_dir()


def _extract(tarball: Path, build: str, destination: Path) -> None:
    """Only the binary of ``build`` and the Control Tower rules and metadata, under ``destination``."""
    binary_member = f"{_TAR_ROOT}bin/{build}/{BINARY}"
    found_binary = False
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                if member.name == binary_member:
                    relative = BINARY
                    found_binary = True
                elif member.name.startswith(_TAR_CONTROL_TOWER) and member.name.endswith(_CONTROL_TOWER_FILES):
                    relative = f"{CONTROL_TOWER}/{member.name.removeprefix(_TAR_CONTROL_TOWER)}"
                else:
                    continue
                if ".." in Path(relative).parts:
                    continue  # never write outside the destination
                path = destination / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                with archive.extractfile(member) as source, path.open("wb") as sink:  # type: ignore[union-attr]
                    shutil.copyfileobj(source, sink)
    except (OSError, tarfile.TarError) as error:
        raise EngineMissing(f"cannot read the cfn-guard build from {tarball} ({error}); reinstall {PACKAGE_DIST}") \
            from error
    if not found_binary:
        raise EngineMissing(f"{tarball} holds no {binary_member}; {PACKAGE_DIST} has no cfn-guard for this platform, "
                            "skip the cfn-guard engine")
    (destination / BINARY).chmod(0o755)
    for folder in ("cfn-guard", "metadata"):
        (destination / CONTROL_TOWER / folder).mkdir(parents=True, exist_ok=True)


def guard_version(binary: Path) -> str:
    """``cfn-guard --version``'s version number."""
    try:
        run = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
    except OSError as error:
        raise EngineMissing(f"cannot run {binary} ({error.strerror}); delete {binary.parent} to extract it again")\
            from error
    if run.returncode != 0:
        raise EngineFailure(f"{binary} --version exited with {run.returncode}: {run.stderr.strip() or run.stdout}")
    return run.stdout.strip().split()[-1]


@lru_cache(maxsize=None)
def control_tower_rules(folder: Path) -> dict[str, ControlTowerRule]:
    """Guard rule name -> its Control Tower metadata, for every rule under ``folder`` (an install's ``control-tower``).

    Each ``cfn-guard/<service>/<control>.guard`` names its rule in Guard syntax; the metadata sits at
    ``metadata/<service>/<control>.metadata.json``.
    """
    found = {}
    rules_dir, metadata_dir = folder / "cfn-guard", folder / "metadata"
    for path in sorted(rules_dir.rglob("*.guard")):
        names = named_rules(path.read_text(encoding="utf-8"))
        if not names:
            continue
        metadata_path = metadata_dir / path.relative_to(rules_dir).with_suffix(".metadata.json")
        try:
            metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # a rule without readable metadata still runs; it is just less described
            metadata = {}
        found[names[0]] = ControlTowerRule(
            name=names[0],
            path=path,
            control_id=metadata.get("Id"),
            title=metadata.get("DisplayName"),
            severity=metadata.get("Severity"),
            applies_to=tuple(metadata.get("EvaluatedResourceTypes") or ()),
            remediation=metadata.get("RemediationMessage"),
        )
    return found


def control_tower_files(rules: dict[str, ControlTowerRule], resource_types: set[str]) -> list[Path]:
    """The rule files that can apply to an assembly with these resource types.

    A Control Tower rule skips templates without the resource types its metadata lists, so
    leaving it out changes no result; passing 20-30 files instead of all of them makes the run
    several times faster. A rule whose metadata names no types is always passed.
    """
    return [rule.path for rule in rules.values()
            if rule.path is not None and (not rule.applies_to or set(rule.applies_to) & resource_types)]


# --- the engine ---------------------------------------------------------------------------------


class CfnGuardEngine:
    """cfn-guard over every template of an assembly with our rules, plus Control Tower's when asked."""

    name = ENGINE

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self._install: GuardInstall | None = None

    def prepare(self) -> str:
        """Locate and extract cfn-guard (once per cache); its version."""
        self._install = install(self.cache_dir)
        return guard_version(self._install.binary)

    def grade(self, assembly: Path, options: EngineOptions) -> EngineResult:
        if self._install is None:
            self.prepare()
        assert self._install is not None
        model = Assembly.load(assembly)
        stacks = {stack.path.resolve(): stack for stack in model.stacks if stack.path is not None}
        ours = {rule.name: rule for rule in guard_rules() if options.config.enabled(rule.id)}
        rule_paths = [rule.path for rule in ours.values()]
        control_tower: dict[str, ControlTowerRule] = {}
        if options.guard_control_tower:
            control_tower = control_tower_rules(self._install.control_tower)
            rule_paths += control_tower_files(control_tower, {resource.type for resource in model.resources()})
        if not rule_paths or not stacks:
            return EngineResult()
        records = validate(self._install.binary, rule_paths, list(stacks))
        return interpret(records, stacks, ours, control_tower)


def validate(binary: Path, rules: list[Path], templates: list[Path]) -> Any:
    """One ``cfn-guard validate`` run; its structured JSON output (a list of records, one per template)."""
    command = [str(binary), "validate", *(arg for rule in rules for arg in ("--rules", str(rule))),
               *(arg for template in templates for arg in ("--data", str(template))),
               "--output-format", "json", "--show-summary", "none", "--structured"]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    if run.returncode not in (EXIT_OK, EXIT_VIOLATIONS):
        raise EngineFailure(f"cfn-guard validate exited with {run.returncode}: "
                            f"{(run.stderr or run.stdout).strip()[:4000]}")
    try:
        return json.loads(run.stdout)
    except json.JSONDecodeError as error:
        raise EngineFailure(f"cfn-guard printed output stackgrade cannot read ({error.msg}): {run.stdout[:2000]}") \
            from error


# --- reading its output -------------------------------------------------------------------------


@dataclass
class _Violation:
    """Everything one rule said about one resource (or the template when ``logical_id`` is None)."""

    rule: str
    stack: Stack
    logical_id: str | None
    details: list[str]
    custom_message: str | None


def interpret(records: Any, stacks: dict[Path, Stack], ours: dict[str, GuardRule],
              control_tower: dict[str, ControlTowerRule]) -> EngineResult:
    """Findings, evaluated resources and unmapped ids from cfn-guard's records."""
    if not isinstance(records, list):
        raise EngineFailure(f"cfn-guard printed {type(records).__name__} instead of a list of results")
    result = EngineResult()
    for record in records:
        stack = stacks.get(Path(str(record.get("name", ""))).resolve())
        if stack is None:
            raise EngineFailure(f"cfn-guard reported on {record.get('name')!r}, which is not a template it was given")
        failed = [entry.get("Rule") or {} for entry in _listed(record.get("not_compliant"))]
        violations: dict[tuple[str, str | None], _Violation] = {}
        for rule in failed:
            for logical_id, detail, message in _failed_checks(rule.get("checks"), _custom(rule)):
                violation = violations.setdefault(
                    (rule.get("name", ""), logical_id),
                    _Violation(rule.get("name", ""), stack, logical_id, [], message))
                if detail and detail not in violation.details:
                    violation.details.append(detail)
        located = {rule for rule, logical_id in violations if logical_id is not None}
        for (rule_name, logical_id), violation in list(violations.items()):
            # Helper rules compare literals at no path; the rule's located checks already name the resource.
            if logical_id is None and rule_name in located:
                del violations[(rule_name, logical_id)]
        for violation in violations.values():
            finding = _finding(violation, ours, control_tower, result)
            result.findings.append(finding)
            if violation.logical_id in stack.resources:
                result.evaluated.add((stack.name, violation.logical_id, finding.category))
        examined = {str(name) for name in _listed(record.get("compliant"))} | {str(r.get("name")) for r in failed}
        _add_evaluated(result, stack, examined, ours, control_tower)
    return result


def _listed(value: Any) -> list:
    # cfn-guard prints an empty object instead of an empty list in some versions.
    if isinstance(value, dict):
        return list(value.values())
    return value if isinstance(value, list) else []


def _custom(node: dict) -> str | None:
    message = ((node.get("messages") or {}).get("custom_message") or "").strip()
    return message or None


def _failed_checks(node: Any, message: str | None) -> Iterator[tuple[str | None, str | None, str | None]]:
    """``(logical id, detail, custom message)`` of every failed leaf check under ``node``.

    The result tree nests Rule, Disjunctions, Block and Clause nodes as deep as the rule
    does; each leaf names the value it looked at (``from``) or how far its query got
    (``traversed_to``), by a path ``/Resources/<logical id>/...``.
    """
    if isinstance(node, list):
        for item in node:
            yield from _failed_checks(item, message)
        return
    if not isinstance(node, dict):
        return
    message = _custom(node) or message
    if isinstance(node.get("from"), dict):
        yield _located(node["from"].get("path"), f"is {_shown(node['from'].get('value'))}", message)
        return
    if isinstance(node.get("traversed_to"), dict):
        missing = node.get("remaining_query")
        yield _located(node["traversed_to"].get("path"), None, message, missing=missing)
        return
    for key, value in node.items():
        if key != "messages":
            yield from _failed_checks(value, message)


def _located(path: Any, state: str | None, message: str | None,
             missing: str | None = None) -> tuple[str | None, str | None, str | None]:
    parts = [p for p in str(path or "").split("/") if p]
    if len(parts) < 2 or parts[0] != "Resources":
        return None, None, message
    where = ".".join(parts[2:] + ([missing] if missing else []))
    where = where.removeprefix("Properties.").removeprefix("Properties")
    if not where:
        return parts[1], None, message
    return parts[1], f"{where} is missing" if missing else f"{where} {state}", message


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _finding(violation: _Violation, ours: dict[str, GuardRule], control_tower: dict[str, ControlTowerRule],
             result: EngineResult) -> Finding:
    stack, logical_id = violation.stack, violation.logical_id
    resource = stack.resources.get(logical_id) if logical_id else None
    rule = ours.get(violation.rule)
    if rule is not None:
        # Our header message says exactly what is wrong. The failed checks' values would not: a failed
        # `some` names every non-matching list item, and a failed `or` the missing half of one branch.
        rule_id, title, severity, category, concerns = rule.id, rule.title, rule.severity, rule.category, rule.concerns
        message, remediation = f"{_capitalized(rule.message)}.", rule.remediation
    else:
        details = violation.details[:_MAX_DETAILS] + (["..."] if len(violation.details) > _MAX_DETAILS else [])
        detail = f" ({'; '.join(details)})" if details else ""
        rule_id = violation.rule
        known = control_tower.get(rule_id) or ControlTowerRule(rule_id)
        control, description, fix = _control_tower_text(violation.custom_message)
        control, description = known.control_id or control, known.title or description
        mapping = lookup(ENGINE, rule_id, known.severity)
        if not mapping.mapped:
            result.unmapped.add(rule_id)
        severity, category, concerns = mapping.severity, mapping.category, mapping.concerns
        title = description or rule_id
        message = (f"Fails Control Tower control {control}: {description}{detail}." if control else
                   f"Fails the cfn-guard rule {rule_id}{detail}.")
        remediation = known.remediation or fix or (f"See the Control Tower control {control}." if control else
                                                    f"See the documentation of the cfn-guard rule {rule_id}.")
    suppressed = resource is not None and _suppressed(resource, violation.rule, rule_id)
    return Finding(
        rule_id=rule_id,
        title=title,
        severity=severity,
        category=category,
        concerns=concerns,
        engine=ENGINE,
        stack=stack.top_level.name,
        logical_id=logical_id,
        resource_type=resource.type if resource else None,
        construct_path=resource.construct_path if resource else None,
        message=message,
        remediation=remediation,
        suppressed=suppressed,
        suppression_reason=None,
        # The nested stack's own name, as the own rules do: two nested stacks may share a logical ID.
        fingerprint=fingerprint(rule_id, stack.name, logical_id),
    )


def _control_tower_text(custom: str | None) -> tuple[str | None, str | None, str | None]:
    """``(control id, description, fix)`` from a Control Tower rule's ``[CT.X.PR.n]: ...`` / ``[FIX]: ...`` text."""
    control = description = fix = None
    for line in (custom or "").splitlines():
        line = line.strip()
        if (match := _CT_FIX.match(line)) is not None:
            fix = match.group(1)
        elif (match := _CT_CONTROL.match(line)) is not None:
            control, description = match.group(1), match.group(2)
    return control, description, fix


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _suppressed(resource: Resource, rule_name: str, rule_id: str) -> bool:
    """The resource lists the rule (its Guard name or, for ours, its id) under ``Metadata.guard.SuppressedRules``."""
    metadata: Any = resource.definition.get("Metadata")
    for key in SUPPRESSION_KEYS:
        metadata = metadata.get(key) if isinstance(metadata, dict) else None
    listed = metadata if isinstance(metadata, list) else [metadata]
    return any(isinstance(entry, str) and entry in (rule_name, rule_id) for entry in listed)


def _add_evaluated(result: EngineResult, stack: Stack, examined: set[str], ours: dict[str, GuardRule],
                   control_tower: dict[str, ControlTowerRule]) -> None:
    """Every resource of the types each applicable rule reports on (cfn-guard names no passing resources)."""
    for name in examined:
        if name in ours:
            types, category = ours[name].applies_to, ours[name].category
        elif name in control_tower:
            known = control_tower[name]
            types, category = known.applies_to, lookup(ENGINE, name, known.severity).category
        else:
            continue
        for resource in stack.resources.values():
            if resource.type in types:
                result.evaluated.add((stack.name, resource.logical_id, category))
