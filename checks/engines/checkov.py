"""The checkov engine: checkov's CloudFormation checks over every template of a cloud assembly.

checkov runs in-process (its import takes ~2.5 s, paid in :meth:`CheckovEngine.prepare`
while synthesis is still running) and only its CloudFormation runner is used: no
platform or Bridgecrew calls, no update check, no secrets or SCA frameworks, no
guideline downloads, and nothing written into the assembly. The run produces
checkov's own JSON report (what ``checkov -o json`` prints) and
:func:`parse_report` turns that report, from either source, into findings.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import ClassVar, Iterable, Iterator

from checks.assembly import Assembly, Resource, Stack
from checks.engines import EngineFailure, EngineMissing, EngineOptions, EngineResult
from checks.finding import Finding, fingerprint
from rules.mapping import Mapping, lookup

ENGINE = "checkov"
FRAMEWORK = "cloudformation"
# What checkov's CloudFormation context parser writes for a skip annotation that gives no comment.
NO_COMMENT = "No comment provided"
_STATUSES = ("failed_checks", "skipped_checks", "passed_checks")


class CheckovEngine:
    """checkov's CloudFormation framework, in-process, behind the Engine interface."""

    name: ClassVar[str] = ENGINE

    def prepare(self) -> str:
        return load_checkov().version

    def grade(self, assembly: Path, options: EngineOptions) -> EngineResult:
        model = Assembly.load(assembly)
        return parse_report(run_checkov(model), model)


@lru_cache(maxsize=None)
def load_checkov() -> SimpleNamespace:
    """Import checkov's CloudFormation runner once (the slow part) and keep its logging quiet."""
    try:
        with _quiet_root_logger():
            from checkov.cloudformation.runner import Runner
            from checkov.common.models.enums import ParallelizationType
            from checkov.common.parallelizer.parallel_runner import parallel_runner
            from checkov.common.util.json_utils import CustomJSONEncoder
            from checkov.runner_filter import RunnerFilter
            from checkov.version import version
    except ImportError as error:
        raise EngineMissing(
            f"checkov is not importable here ({error}); install it with `pip install checkov==3.3.30` "
            "or skip the engine with `--skip checkov`"
        ) from error
    logging.getLogger("checkov").setLevel(logging.ERROR)
    # checkov forks a process per CPU to parse templates: that fails in a daemonic worker process
    # ("daemonic processes are not allowed to have children") and, for an assembly's few templates,
    # is slower than parsing them in turn (2.3 s against 2.8 s over the ten reference assemblies).
    parallel_runner.type = ParallelizationType.NONE
    return SimpleNamespace(Runner=Runner, RunnerFilter=RunnerFilter, encoder=CustomJSONEncoder, version=version)


def run_checkov(assembly: Assembly) -> dict:
    """checkov's JSON report (the dict ``checkov -o json`` prints) on every template of ``assembly``.

    Only the stacks' own template files are scanned: top-level and nested
    ``*.template.json``, never asset folders, the manifest or the construct tree.
    """
    tool = load_checkov()
    files = [str(Path(stack.path).resolve()) for stack in assembly.stacks if stack.path is not None]
    with _quiet_root_logger():
        runner_filter = tool.RunnerFilter(framework=[FRAMEWORK], show_progress_bar=False)
        # No root folder: with one, checkov scans every file under it (asset folders too) instead of ``files``.
        report = tool.Runner().run(root_folder=None, files=files, runner_filter=runner_filter)
        # Through checkov's own encoder, so the dict is exactly the JSON its CLI prints.
        return json.loads(json.dumps(report.get_dict(), cls=tool.encoder))


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """checkov logs through the root logger; with no handler there, each call would add a stderr one.

    A NullHandler for the duration keeps ``logging.basicConfig`` from doing that (it only acts on a
    root logger without handlers) and leaves the process's own logging set-up as it was.
    """
    guard = logging.NullHandler()
    root = logging.getLogger()
    root.addHandler(guard)
    try:
        yield
    finally:
        root.removeHandler(guard)


def parse_report(report: dict | list, assembly: Assembly) -> EngineResult:
    """Findings from checkov's JSON report (``checkov -o json`` output or :func:`run_checkov`'s dict).

    Failed and skipped checks become findings (a skip annotation makes the
    finding suppressed, with its comment as the reason); every passed, failed
    and skipped check counts its resource as evaluated.
    """
    result = EngineResult()
    templates = _TemplateIndex(assembly)
    for section in _cloudformation_sections(report):
        results = section.get("results") or {}
        if results.get("parsing_errors"):
            raise EngineFailure(f"checkov could not parse {', '.join(results['parsing_errors'])}; fix the template")
        for status in _STATUSES:
            for record in results.get(status) or []:
                stack = templates.stack_of(record)
                resource_type, logical_id = _split_resource(record["resource"])
                mapping = lookup(ENGINE, record["check_id"], _native_severity(record))
                result.evaluated.add((stack.name, logical_id, mapping.category))
                if status == "passed_checks":
                    continue
                if not mapping.mapped:
                    result.unmapped.add(record["check_id"])
                resource = stack.resources.get(logical_id)
                result.findings.append(_finding(record, stack, resource, resource_type, logical_id, mapping))
    return result


def _cloudformation_sections(report: dict | list) -> Iterable[dict]:
    """The CloudFormation part of a report: one dict per framework, a list when several ran."""
    sections = report if isinstance(report, list) else [report]
    # With no results at all, the CLI prints a bare summary (no check_type): nothing to read.
    return [s for s in sections if isinstance(s, dict) and s.get("check_type") == FRAMEWORK]


def _split_resource(resource: str) -> tuple[str, str]:
    """``AWS::SQS::Queue.MyQueue`` -> (``AWS::SQS::Queue``, ``MyQueue``); logical IDs have no dots."""
    resource_type, _, logical_id = resource.rpartition(".")
    return resource_type, logical_id


def _native_severity(record: dict) -> str | None:
    """checkov's severity name (None offline: severities come from its platform)."""
    severity = record.get("severity")
    return severity.lower() if isinstance(severity, str) else None


def _finding(record: dict, stack: Stack, resource: Resource | None, resource_type: str, logical_id: str,
             mapping: Mapping) -> Finding:
    check_id, check_name = record["check_id"], record.get("check_name") or record["check_id"]
    check_result = record.get("check_result") or {}
    suppressed = check_result.get("result") == "SKIPPED"
    comment = check_result.get("suppress_comment") if suppressed else None
    return Finding(
        rule_id=check_id,
        title=check_name,
        severity=mapping.severity,
        category=mapping.category,
        concerns=mapping.concerns,
        engine=ENGINE,
        stack=stack.top_level.name,
        logical_id=logical_id,
        resource_type=resource.type if resource else resource_type,
        construct_path=resource.construct_path if resource else None,
        message=_message(check_id, check_name, logical_id, resource_type, check_result.get("evaluated_keys")),
        remediation=_remediation(check_id, check_name, record.get("guideline")),
        suppressed=suppressed,
        suppression_reason=None if not comment or comment == NO_COMMENT else comment,
        # The template's own stack name: two nested stacks may share a logical ID.
        fingerprint=fingerprint(check_id, stack.name, logical_id),
    )


def _message(check_id: str, check_name: str, logical_id: str, resource_type: str, keys: list | None) -> str:
    checked = f" (checked {', '.join(keys)})" if keys else ""
    return f"{resource_type} {logical_id} fails checkov {check_id}: {check_name.rstrip('.')}{checked}."


def _remediation(check_id: str, check_name: str, guideline: str | None) -> str:
    guidance = f"see {guideline}" if guideline else f"make the resource pass: {check_name.rstrip('.')}"
    return (f"For {check_id}, {guidance}; or, where it does not apply, skip it with a reason in the resource's "
            f"metadata: checkov: skip: [{{id: {check_id}, comment: <why>}}].")


class _TemplateIndex:
    """Which stack of the assembly a report's file path names (absolute, or relative to the scanned root)."""

    def __init__(self, assembly: Assembly) -> None:
        self.source = assembly.source
        self.paths = [(stack, Path(stack.path).resolve().parts) for stack in assembly.stacks if stack.path]

    def stack_of(self, record: dict) -> Stack:
        reported = [PurePosixPath(record.get("file_abs_path") or "").parts,
                    PurePosixPath(str(record.get("file_path") or "").lstrip("/")).parts]
        for parts in reported:
            matches = [stack for stack, path in self.paths if parts and path[-len(parts):] == parts]
            if len(matches) == 1:
                return matches[0]
        raise EngineFailure(
            f"checkov reported {record.get('check_id')} on {record.get('file_path')!r}, which is not one "
            f"template of the assembly {self.source}; run checkov on the assembly's own templates"
        )
