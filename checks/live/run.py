"""The live step: one LocalStack for all targets; each target deployed, probed and torn down.

:func:`run_live` starts ONE embedded LocalStack (or checks the external endpoint given by
``--endpoint`` or ``$LOCALSTACK_ENDPOINT``), then for every target deploys its assembly
(:mod:`checks.live.deploy`), runs the probes (:mod:`checks.live.probes`) and tears it down, and
stops LocalStack on the way out whatever happens (failure, Ctrl-C, SIGTERM). Each target's
:class:`LiveResult` becomes the ``live`` engine's run and the scorecard's ``live`` section, and is
written to ``<build dir>/<target>/live.json`` beside ``cfn-outputs/flat-outputs.json``.

A resource the app cannot create is a judgement on the app, not on the engine: each failing
resource of a failed deploy becomes a failed ``deploy`` probe (SG-LIVE-011) on its own (nested)
stack and logical id, the target stays ``ok`` for the gate to judge, and no other probe runs. A
deploy that fails without naming a resource (a timeout, LocalStack refusing requests) is that
target's error (the others still run); a LocalStack that dies ends the run: the target it happened
in and every later one get that error. A failed probe is a finding of the live rule it proves; a
probe that does not finish in time is a failed probe saying so.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Literal, Sequence

from checks.assembly import Assembly, Stack
from checks.engines import EngineResult
from checks.finding import Finding, fingerprint
from checks.live import Endpoint, LiveError, LocalStackDied, Progress
from checks.live.deploy import (STACK_TIMEOUT, DeployedStack, DeployError, ResourceFailure, TeardownError,
                                deploy_assembly, teardown)
from checks.live.environment import LOCALSTACK_VERSION
from checks.live.not_emulated import why_not_emulated

ENGINE = "live"
DEFAULT_BUILD_DIR = Path("build") / "live"
DEFAULT_PROBE_TIMEOUT = 60.0
LIVE_FILE = "live.json"
STACK_SUBJECT = "(stack)"  # the resource key of a finding on a whole stack (as checks.merge names it)
DEPLOY_KIND = "deploy"  # the probe kind of a resource that did not deploy (SG-LIVE-011)
NOT_PROBED = "the app did not deploy, so no other probe ran"
Status = Literal["ok", "error"]


@dataclass(frozen=True)
class LiveOptions:
    """How the live step runs (the CLI's flags)."""

    endpoint: str | None = None  # an existing LocalStack; None: $LOCALSTACK_ENDPOINT, else the embedded one
    allow_remote: bool = False
    keep: bool = False  # leave the stacks deployed (an embedded LocalStack still stops at the end)
    build_dir: Path = DEFAULT_BUILD_DIR
    probe_timeout: float = DEFAULT_PROBE_TIMEOUT
    stack_timeout: float = STACK_TIMEOUT
    cache_dir: Path | None = None  # where the embedded LocalStack's environment lives


@dataclass(frozen=True)
class LiveTarget:
    """One assembly to verify; its files go to ``<build dir>/<name>/``."""

    name: str
    assembly: Path


@dataclass
class LiveResult:
    """One target's live run: its stacks, its probes, its timings, or the error that stopped it."""

    target: LiveTarget
    endpoint: Endpoint | None = None
    status: Status = "ok"
    error: str | None = None
    assembly: Assembly | None = None
    stacks: list[DeployedStack] = field(default_factory=list)
    probes: list = field(default_factory=list)  # ProbeResult
    timings: dict[str, float | None] = field(default_factory=dict)
    outputs_path: Path | None = None
    localstack_version: str | None = None
    deployed: bool = False  # every stack deployed (False too when an error stopped the target first)

    @property
    def failed_probes(self) -> list:
        return [p for p in self.probes if p.result == "fail"]

    @property
    def seconds(self) -> float:
        return sum(v for k, v in self.timings.items() if v is not None and k not in ("environment", "start"))

    def engine_result(self) -> EngineResult:
        """The probes as the ``live`` engine's result: failures as findings, every probed resource examined."""
        return probe_findings(self.probes, self.assembly) if self.assembly is not None else EngineResult()

    def engine_run(self):
        """The ``live`` engine's run for the scorecard (status error when the target could not be verified)."""
        from checks.scorecard import EngineRun

        version = f"localstack {self.localstack_version or 'unknown'}"
        if self.status == "error":
            return EngineRun(ENGINE, version, "error", self.seconds, error=self.error)
        return EngineRun(ENGINE, version, "ok", self.seconds, result=self.engine_result())

    def section(self) -> dict:
        """The scorecard's ``live`` section (docs/scoring.md documents it)."""
        counts = {result: sum(p.result == result for p in self.probes) for result in ("pass", "fail", "not-emulated")}
        return {
            "status": self.status,
            "error": self.error,
            "deployed": self.deployed,
            "endpoint": {
                "kind": self.endpoint.kind if self.endpoint else None,
                "url": self.endpoint.url if self.endpoint else None,
                "localstack_version": self.localstack_version,
            },
            "timings": {key: _rounded(value) for key, value in self.timings.items()},
            "stacks": [_stack_section(stack) for stack in self.stacks],
            "probes": [_probe_section(probe) for probe in self.probes],
            "summary": counts,
            "outputs": str(self.outputs_path) if self.outputs_path else None,
        }

    def write(self, directory: Path) -> Path:
        """``<directory>/live.json``: the target and its live section."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / LIVE_FILE
        document = {"target": self.target.name, "assembly": str(self.target.assembly), **self.section()}
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        return path


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _stack_section(stack: DeployedStack) -> dict:
    return {
        "name": stack.name,
        "deployed_name": stack.deployed_name,
        "deploy_seconds": _rounded(stack.seconds),
        "resources": len(stack.resources),
        "not_emulated": [{"resource": path, "type": resource_type, "reason": why_not_emulated(resource_type)}
                         for path, resource_type in stack.not_emulated],
        "notes": list(stack.notes),
        "outputs": dict(stack.outputs),
    }


def _probe_section(probe) -> dict:
    return {
        "kind": probe.kind, "stack": probe.stack, "resource": probe.logical_id, "resource_type": probe.resource_type,
        "result": probe.result, "detail": probe.detail, "seconds": _rounded(probe.seconds), "rule_id": probe.rule_id,
    }


# Findings


def probe_findings(probes: Sequence, assembly: Assembly) -> EngineResult:
    """Failed probes as findings of their live rules; passed and failed ones as examined resources.

    A probe names its stack as the assembly does (a nested stack's own name) and its resource by logical
    id; an output probe names the output key, which becomes a finding on the whole stack. ``not-emulated``
    results prove nothing either way: neither a finding nor examined.
    """
    from rules.live import live_rule

    stacks = {stack.name: stack for stack in assembly.stacks}
    result = EngineResult()
    for probe in probes:
        if probe.rule_id is None or probe.result not in ("pass", "fail"):
            continue
        rule = live_rule(probe.rule_id)
        stack: Stack | None = stacks.get(probe.stack)
        own = stack.name if stack is not None else probe.stack
        resource = stack.resources.get(probe.logical_id or "") if stack is not None and probe.resource_type else None
        result.evaluated.add((own, resource.logical_id if resource else STACK_SUBJECT, rule.category))
        if probe.result == "pass":
            continue
        subject = resource.logical_id if resource else None
        # Without a resource of the template: an output by its key, anything else by the logical id it names.
        output = probe.kind == "output"
        named = f"Outputs.{probe.logical_id}" if output else probe.logical_id
        where = f"{'output ' if output else ''}{probe.logical_id}: " if probe.logical_id and not resource else ""
        result.findings.append(Finding(
            rule_id=rule.id, title=rule.title, severity=rule.severity, category=rule.category, concerns=rule.concerns,
            engine=ENGINE, stack=stack.top_level.name if stack is not None else probe.stack, logical_id=subject,
            resource_type=resource.type if resource else None,
            construct_path=resource.construct_path if resource else None,
            message=f"{where}{probe.detail}", remediation=rule.remediation,
            # The nested stack's own name, as the other engines; an output by its key (several per stack).
            fingerprint=fingerprint(rule.id, own, subject or (named if probe.logical_id else None)),
        ))
    return result


# The endpoint


@dataclass
class Session:
    """The LocalStack of a run: its endpoint, a liveness check, and how long it took to get."""

    endpoint: Endpoint
    alive: Callable[[], None] | None
    environment_seconds: float | None
    start_seconds: float | None
    version: str | None


@contextlib.contextmanager
def localstack_session(options: LiveOptions, progress: Progress) -> Iterator[Session]:
    """The external endpoint (checked, loopback unless allowed) or an embedded LocalStack, stopped on exit."""
    from checks.live import localstack

    endpoint = (localstack.external_endpoint(options.endpoint, options.allow_remote) if options.endpoint
                else localstack.endpoint_from_env(options.allow_remote))
    if endpoint is not None:
        progress(f"Using the LocalStack at {endpoint.url}")
        yield Session(endpoint, None, None, None, endpoint.version)
        return
    from checks.live.environment import ensure_environment

    started = time.perf_counter()
    python = ensure_environment(progress, options.cache_dir)
    environment_seconds = time.perf_counter() - started
    server = localstack.EmbeddedLocalStack(log_path=options.build_dir / "localstack.log", progress=progress,
                                           python=python, cache_dir=options.cache_dir)
    with server as endpoint:
        yield Session(endpoint, server.check, environment_seconds, endpoint.start_seconds, LOCALSTACK_VERSION)


# The run


def run_live(targets: Sequence[LiveTarget], options: LiveOptions = LiveOptions(), progress: Progress | None = None,
             on_kept: Callable[[Endpoint], None] | None = None) -> list[LiveResult]:
    """Deploy, probe and tear down every target against one LocalStack; see the module docstring.

    Raises ``LiveError`` when no LocalStack can be had (refused or unhealthy endpoint, start failure):
    then nothing ran. ``on_kept`` is called before an embedded LocalStack stops when ``keep`` is set
    (the CLI waits there, so the kept stacks can be looked at).
    """
    progress = progress or (lambda _message: None)
    results = [LiveResult(target) for target in targets]
    with localstack_session(options, progress) as session:
        died: LocalStackDied | None = None
        for result in results:
            result.endpoint = session.endpoint
            result.localstack_version = session.version
            result.timings.update(environment=session.environment_seconds, start=session.start_seconds)
            if died is not None:
                _fail(result, f"not verified: {died}")
                continue
            try:
                verify(result, session, options, progress)
            except LocalStackDied as exc:
                died = exc
                _fail(result, str(exc))
        if options.keep and on_kept is not None and died is None:
            on_kept(session.endpoint)
    for result in results:
        result.write(options.build_dir / result.target.name)
    return results


def _fail(result: LiveResult, message: str) -> None:
    result.status, result.error = "error", message


def verify(result: LiveResult, session: Session, options: LiveOptions, progress: Progress) -> None:
    """Deploy one target, probe it and tear it down.

    Resources that fail to deploy are failed ``deploy`` probes (the target is judged, not probed further); a
    deploy failure naming no resource, or a teardown failure, is the target's error.
    """
    from checks.live.probes import run_probes

    name = result.target.name
    say = lambda line: progress(f"{name}: {line}")  # noqa: E731 - a prefix, not a function worth a name
    outdir = options.build_dir / name
    started = time.perf_counter()
    try:
        deployment = deploy_assembly(result.target.assembly, session.endpoint, keep=options.keep, progress=say,
                                     outputs_dir=outdir, timeout=options.stack_timeout, alive=session.alive)
    except (DeployError, LiveError) as exc:
        if isinstance(exc, LocalStackDied):
            raise
        if isinstance(exc, DeployError) and exc.failures and exc.deployment is not None:
            _undeployed(result, exc, time.perf_counter() - started, say)
        else:
            _fail(result, str(exc))
        return
    result.deployed = True
    result.assembly = deployment.assembly
    result.stacks = list(deployment.stacks)
    result.outputs_path = deployment.outputs_path
    result.timings.update(assets=deployment.assets_seconds, deploy=sum(s.seconds for s in deployment.stacks))
    try:
        started = time.perf_counter()
        result.probes = run_probes(deployment, timeout=options.probe_timeout, progress=say)
        result.timings["probes"] = time.perf_counter() - started
    finally:
        if options.keep:
            say(f"kept {', '.join(s.deployed_name for s in deployment.stacks)} at {session.endpoint.url}")
            result.timings["teardown"] = None
        else:
            _teardown(result, deployment, say, options)


def _teardown(result: LiveResult, deployment, say: Progress, options: LiveOptions) -> None:
    try:
        result.timings["teardown"] = teardown(deployment, progress=say, timeout=options.stack_timeout)
    except TeardownError as exc:  # a LocalStack that died goes on up: it ends the run
        _fail(result, str(exc))


def _undeployed(result: LiveResult, error: DeployError, seconds: float, say: Progress) -> None:
    """A deploy that failed on the app's resources: one failed ``deploy`` probe each; nothing else is probed."""
    deployment = error.deployment
    result.assembly = deployment.assembly
    result.probes = deploy_failures(error.failures, error.stack or "", deployment.assembly)
    # deploy: from the first stack to the failure's clean-up, as the run spent it
    result.timings.update(assets=deployment.assets_seconds, deploy=seconds - deployment.assets_seconds)
    say(f"{len(result.probes)} resource(s) did not deploy; {NOT_PROBED}")
    if error.cleanup_error is not None:  # something the failed deploy created is still there: as a failed teardown
        _fail(result, f"Cleaning up after the failed deploy failed: {error.cleanup_error}")


def deploy_failures(failures: Sequence[ResourceFailure], stack: str, assembly: Assembly) -> list:
    """Each failing resource of top-level ``stack`` as a failed ``deploy`` probe on its own stack and logical id.

    A failure's path is ``<NestedLogicalId>/.../<LogicalId>``: the nested stacks are resolved through the
    assembly, so the probe names the nested stack as the other engines do (``Top/Nested``).
    """
    from checks.live.probes import ProbeResult
    from rules.live import rule_for_kind

    rule_id = rule_for_kind(DEPLOY_KIND).id
    probes = []
    for failure in failures:
        *nested, logical_id = failure.path.split("/")
        probes.append(ProbeResult(
            kind=DEPLOY_KIND, stack=_own_stack(assembly, stack, nested), logical_id=logical_id,
            resource_type=failure.resource_type, result="fail",
            detail=f"{failure.status}: {failure.reason or 'no reason given'} ({NOT_PROBED})", seconds=0.0,
            rule_id=rule_id))
    return probes


def _own_stack(assembly: Assembly, top: str, nested: Sequence[str]) -> str:
    """The assembly's name of the stack at ``nested`` logical ids under ``top``; by the path when unknown."""
    stack = next((s for s in assembly.stacks if s.name == top and not s.nested), None)
    for logical_id in nested:
        stack = assembly.nested_stack(stack, logical_id) if stack is not None else None
    return stack.name if stack is not None else "/".join((top, *nested))
