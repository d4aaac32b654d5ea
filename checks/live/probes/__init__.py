"""Probes derived from the template: prove on the deployed app what the template promises.

Each module here plans the probes of one kind from the assembly (``plan(live) -> [Probe]``) and
runs them against the deployment: ``dlq`` (a poison message reaches the DLQ), ``alarms`` (an alarm in
ALARM notifies its topic's subscribers), ``outputs`` (every output resolves to a live resource),
and the deployed configuration: ``functions`` (tracing, reserved concurrency), ``log_groups``
(retention), ``tables`` (PITR, streams), ``event_sources`` (batching, failure handling);
``emulation`` lists the resources LocalStack does not emulate. :func:`run_probes` runs a few at a time,
each in its own thread and bounded by a timeout: a probe that does not finish in time is a ``fail``
saying so, never a hang. A probe result names the live rule (``rules.live``) it proves.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal

from checks.assembly import Resource, Stack
from checks.live import LocalStackDied, Progress
from checks.live.not_emulated import is_emulated
from checks.relations import Relations
from rules.live import rule_for_kind

if TYPE_CHECKING:  # pragma: no cover - typing only
    from checks.live.deploy import Deployment, DeployedStack

Result = Literal["pass", "fail", "not-emulated"]
DEFAULT_TIMEOUT = 60.0
DEFAULT_WORKERS = 8
# The probe modules, in the order their probes run: cheap reads first, the ones that change state last.
MODULES = ("emulation", "outputs", "functions", "log_groups", "tables", "event_sources", "alarms", "dlq")
# How long past its own deadline a probe's thread may take to notice it before it is abandoned.
GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class ProbeResult:
    """One probe of one resource (or output): ``result`` with a one-line ``detail``."""

    kind: str
    stack: str
    logical_id: str | None
    resource_type: str | None
    result: Result
    detail: str
    seconds: float
    rule_id: str | None  # the live rule a failure reports; None for the ``emulation`` listing

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    result: Result
    detail: str


def passed(detail: str) -> Verdict:
    return Verdict("pass", detail)


def failed(detail: str) -> Verdict:
    return Verdict("fail", detail)


def not_emulated(detail: str) -> Verdict:
    return Verdict("not-emulated", detail)


class ProbeFailed(Exception):
    """Ends a probe early with a ``fail`` whose detail is the message."""


class ProbeTimeout(ProbeFailed):
    """The probe's time is up."""


class Budget:
    """A probe's deadline: loops ask it how long they may still wait."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def check(self, doing: str) -> None:
        """Raise ``ProbeTimeout`` when the time is up."""
        if time.monotonic() >= self.deadline:
            raise ProbeTimeout(f"timed out after {self.seconds:g} s while {doing}")

    def wait_seconds(self, cap: int) -> int:
        """Seconds a long poll may wait (0..cap), within the deadline."""
        return int(min(cap, self.remaining()))

    def sleep(self, seconds: float, doing: str) -> None:
        self.check(doing)
        time.sleep(min(seconds, self.remaining()))

    def until(self, condition: Callable[[], bool], doing: str, interval: float = 0.1) -> None:
        """Poll ``condition`` until it holds; ``ProbeTimeout`` when the time is up first."""
        while not condition():
            self.sleep(interval, doing)


@dataclass(frozen=True)
class Probe:
    """A planned probe: what it concerns and how to run it."""

    kind: str
    stack: str
    logical_id: str | None
    resource_type: str | None
    run: Callable[[Live, Budget], Verdict]

    @property
    def rule_id(self) -> str | None:
        return None if self.kind == "emulation" else rule_for_kind(self.kind).id


class Live:
    """The deployment as the probes see it: template model, physical ids, clients, clean-ups."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.assembly = deployment.assembly
        self.relations = Relations(deployment.assembly)
        self.run_tag = f"stackgrade-probe-{uuid.uuid4().hex[:8]}"
        self._cleanups: list[Callable[[], None]] = []
        self._shared: dict[Any, Any] = {}
        self._lock = threading.RLock()  # shared() makers take clients and register clean-ups

    def client(self, service: str):
        with self._lock:
            return self.deployment.client(service)

    @property
    def applies_all_settings(self) -> bool:
        """Whether the emulator applies every setting the probes compare. The embedded LocalStack does (our
        plugins add log retention and reserved concurrency to its CloudFormation); an external one may not."""
        return self.deployment.endpoint.kind == "embedded"

    def deployed_stacks(self) -> list[tuple[DeployedStack, Stack]]:
        """Each deployed top-level stack with its stack of the assembly."""
        by_name = {s.name: s for s in self.assembly.stacks if not s.nested}
        return [(d, by_name[d.name]) for d in self.deployment.stacks if d.name in by_name]

    def physical_id(self, resource: Resource) -> str | None:
        return self.deployment.physical_id(resource.stack.name, resource.logical_id)

    def require_physical_id(self, resource: Resource) -> str:
        physical = self.physical_id(resource)
        if not physical:
            raise ProbeFailed(f"{resource.logical_id} ({resource.type}) was not deployed: no physical resource")
        return physical

    def literal(self, resource: Resource, *path: str) -> Any:
        """A template property as a plain value (bool, number or string), None when unset or not literal."""
        value = resource.prop(*path)
        if isinstance(value, bool) or value is None:
            return value
        return self.assembly.literal(resource.stack, value)

    def shared(self, key: Any, make: Callable[[], Any]) -> Any:
        """One object per key for the whole run (e.g. a topic's temporary subscriber), made on first use."""
        with self._lock:
            if key not in self._shared:
                self._shared[key] = make()
            return self._shared[key]

    def on_close(self, cleanup: Callable[[], None]) -> None:
        with self._lock:
            self._cleanups.append(cleanup)

    def close(self) -> None:
        """Run the clean-ups (newest first); a clean-up that fails does not stop the others."""
        while self._cleanups:
            cleanup = self._cleanups.pop()
            try:
                cleanup()
            except Exception:  # noqa: BLE001 - best effort: the stacks are deleted afterwards anyway
                pass


def plan_probes(live: Live) -> list[Probe]:
    """Every probe the deployed assembly calls for, module by module."""
    probes: list[Probe] = []
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        probes.extend(module.plan(live))
    return probes


def run_probes(deployment: Deployment, *, timeout: float = DEFAULT_TIMEOUT, progress: Progress | None = None,
               workers: int = DEFAULT_WORKERS) -> list[ProbeResult]:
    """Plan and run every probe of the deployment, each bounded by ``timeout`` seconds; results in plan order.

    Up to ``workers`` probes run at once (they touch different resources; most of their time is spent
    waiting on LocalStack). Raises ``LocalStackDied`` when the endpoint stops answering; everything
    else a probe meets is its own ``fail`` with the reason in the detail.
    """
    progress = progress or (lambda _message: None)
    live = Live(deployment)
    try:
        probes = plan_probes(live)
        progress(f"Running {len(probes)} probes")
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers),
                                                   thread_name_prefix="stackgrade-probes") as pool:
            results = list(pool.map(lambda probe: execute(probe, live, timeout), probes))
    finally:
        live.close()
    failures = sum(r.result == "fail" for r in results)
    progress(f"Probes done: {len(results) - failures} without failure, {failures} failed "
             f"in {sum(r.seconds for r in results):.1f} s")
    return results


def execute(probe: Probe, live: Live, timeout: float) -> ProbeResult:
    """Run one probe in its own thread; a probe still running after its time is abandoned as a ``fail``."""
    started = time.perf_counter()
    if probe.resource_type and probe.kind != "emulation" and not is_emulated(probe.resource_type):
        verdict = not_emulated(f"{probe.resource_type} is not emulated; not probed")
    else:
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["verdict"] = probe.run(live, Budget(timeout))
            except BaseException as exc:  # noqa: BLE001 - reported below, in the caller's thread
                outcome["error"] = exc

        thread = threading.Thread(target=target, name=f"probe {probe.kind} {probe.logical_id}", daemon=True)
        thread.start()
        thread.join(timeout + GRACE_SECONDS)
        if thread.is_alive():
            verdict = failed(f"timed out after {timeout:g} s (a call to LocalStack did not return)")
        elif "error" in outcome:
            verdict = verdict_of_error(outcome["error"], live)
        else:
            verdict = outcome["verdict"]
    return ProbeResult(kind=probe.kind, stack=probe.stack, logical_id=probe.logical_id,
                       resource_type=probe.resource_type, result=verdict.result, detail=verdict.detail,
                       seconds=round(time.perf_counter() - started, 3), rule_id=probe.rule_id)


def verdict_of_error(error: BaseException, live: Live) -> Verdict:
    """A probe's exception as its ``fail``; a lost endpoint ends the whole run as ``LocalStackDied``."""
    import botocore.exceptions

    if isinstance(error, ProbeFailed):
        return failed(str(error))
    if isinstance(error, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        if live.deployment.alive is not None:
            live.deployment.alive()
        raise LocalStackDied(f"LocalStack at {live.deployment.endpoint.url} stopped answering during the probes "
                             f"({error}); the remaining probes cannot run.") from error
    if isinstance(error, botocore.exceptions.ClientError):
        details = error.response.get("Error", {})
        return failed(f"{error.operation_name} failed: {details.get('Code')}: {details.get('Message')}")
    if isinstance(error, Exception):
        return failed(f"the probe failed with {type(error).__name__}: {error}")
    raise error  # KeyboardInterrupt, SystemExit: not the probe's verdict to give


def is_sns_arn(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("arn:") and value.split(":")[2:3] == ["sns"]
