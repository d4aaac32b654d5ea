"""Grade targets: get each cloud assembly (synthesis with cdk-nag, or the cache), run the engines in parallel.

Each engine runs in its own worker process. Workers start first and call
``prepare()`` (checkov's slow import, cfn-guard's extraction) while the
assemblies are still being synthesized; each assembly is handed to every
worker the moment it exists, so engines grade one assembly while the next is
being synthesized. Every job has a timeout; a worker that hangs is killed, one
that dies or raises becomes an engine error with the engine named, and the
remaining jobs go to a fresh worker. Results are cached by the content hash of
what produced them, so an unchanged app is graded from the cache.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import subprocess
import threading
import time
import traceback
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Callable, Iterator, Protocol, Sequence

from checks.assembly import Assembly, AssemblyError
from checks.cache import Cache, assembly_files, digest, files_digest, source_files
from checks.engines import (
    ENGINE_NAMES,
    EngineFailure,
    EngineMissing,
    EngineOptions,
    EngineResult,
)
from checks.scorecard import EngineRun

ENGINE_CLASSES: dict[str, str] = {
    "stackgrade": "checks.engines.own:OwnRulesEngine",
    "cdk-nag": "checks.engines.cdk_nag:CdkNagEngine",
    "checkov": "checks.engines.checkov:CheckovEngine",
    "cfn-guard": "checks.engines.cfn_guard:CfnGuardEngine",
}
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# The code whose change must invalidate cached engine results (rules, mapping tables, adapters).
RESULT_CODE = ("checks", "rules")
# The code whose change must invalidate cached reference assemblies.
REFERENCE_CODE = ("reference_stacks", "checks/synthesis")
_POLL_SECONDS = 0.05
# Workers start by fork while this process has one thread: a forked worker inherits the imported modules
# (much cheaper than a fresh interpreter on 2 cores). Once the synthesis thread runs, a fork could copy the
# half-made pipes of a subprocess it is starting (the subprocess would then wait for the worker forever), so
# any worker started later gets a clean interpreter (spawn).
FORK, SPAWN = "fork", "spawn"
WORKER_NICENESS = 5


class InputError(Exception):
    """A target cannot be graded (missing, not an app, fails to synthesize, empty); the message says why."""


@dataclass(frozen=True)
class Target:
    """Something to grade: a reference system variant, a CDK app directory, or an existing cloud assembly."""

    kind: str  # "reference" | "app" | "assembly"
    name: str
    path: Path | None = None
    system: str | None = None
    variant: str | None = None

    def describe(self) -> dict:
        data: dict = {"kind": self.kind, "name": self.name}
        if self.path is not None:
            data["path"] = str(self.path)
        if self.kind == "reference":
            data.update(system=self.system, variant=self.variant)
        return data


@dataclass(frozen=True)
class GradeOptions:
    """How to grade: engines, timeouts, caching, and where outputs go."""

    build_dir: Path = Path("build")
    engine_options: EngineOptions = field(default_factory=EngineOptions)
    skip: frozenset[str] = frozenset()
    timeout: float = 300.0
    cache_dir: Path | None = None
    python: str | None = None
    context: tuple[tuple[str, str], ...] = ()
    jobs: int = 2
    suffix: str = "dev"
    engines: tuple[tuple[str, str], ...] = tuple(ENGINE_CLASSES.items())

    @property
    def active_engines(self) -> list[str]:
        return [name for name, _ in self.engines if name not in self.skip]


@dataclass
class Graded:
    """One target's assembly and every engine's run on it."""

    target: Target
    assembly: Path
    runs: list[EngineRun]
    synth_record: dict | None
    synth_seconds: float
    synth_cached: bool = False


class Progress(Protocol):
    """What the orchestrator reports while it works (the CLI renders it)."""

    def synthesized(self, target: Target, seconds: float, cached: bool) -> None: ...

    def engine_done(self, target: Target, run: EngineRun) -> None: ...


class _Silent:
    def synthesized(self, target: Target, seconds: float, cached: bool) -> None:
        pass

    def engine_done(self, target: Target, run: EngineRun) -> None:
        pass


# --- the worker process -------------------------------------------------------------------------------------------


def _worker_main(spec: str, conn: Connection) -> None:  # pragma: no cover - runs in the spawned worker process
    """Prepare the engine, then grade each assembly sent until told to stop (``None``)."""
    # The synthesis is the critical path and shares the machine's cores with these start-ups: yield to it.
    os.nice(WORKER_NICENESS)
    try:
        module_name, _, class_name = spec.partition(":")
        engine = getattr(import_module(module_name), class_name)()
        conn.send(("ready", engine.prepare()))
    except EngineMissing as error:
        conn.send(("missing", f"not available: {error}"))
        return
    except BaseException as error:  # noqa: BLE001 - any failure to start is reported, never swallowed
        conn.send(("failed", _describe(error)))
        return
    while True:
        message = conn.recv()
        if message is None:
            return
        job, assembly, options = message
        started = time.perf_counter()
        try:
            result = engine.grade(Path(assembly), options)
            conn.send(("result", job, time.perf_counter() - started, result.to_dict()))
        except EngineMissing as error:
            conn.send(("error", job, time.perf_counter() - started, f"not available: {error}"))
        except EngineFailure as error:
            conn.send(("error", job, time.perf_counter() - started, f"failed: {error}"))
        except BaseException as error:  # noqa: BLE001 - a crash is an engine error, reported with its cause
            conn.send(("error", job, time.perf_counter() - started, f"crashed: {_describe(error)}"))


def _describe(error: BaseException) -> str:
    last = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f" (at {Path(last[0].filename).name}:{last[0].lineno})" if last else ""
    return f"{type(error).__name__}: {error}{where}"


@dataclass
class _Job:
    id: int
    target: Target
    assembly: Path
    key: str | None


class _Worker:
    """The parent's handle on one engine's worker process and its queue of jobs."""

    def __init__(self, name: str, spec: str, timeout: float) -> None:
        self.name, self.spec, self.timeout = name, spec, timeout
        self.jobs: list[_Job] = []
        self.current: _Job | None = None
        self.version: str | None = None
        self.fatal: str | None = None  # set when the engine cannot start at all: every job fails with it
        self.process: multiprocessing.process.BaseProcess | None = None  # started on demand

    def start(self, method: str) -> None:
        context = multiprocessing.get_context(method)
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(self.spec, child), daemon=True,
                                            name=f"stackgrade-{self.name}")
        self.process.start()
        child.close()
        self.ready = False
        self.deadline = time.monotonic() + self.timeout
        self.started = time.perf_counter()

    def ensure_started(self, method: str) -> None:
        if self.process is None:
            self.start(method)

    def stop(self) -> None:
        """End the worker: politely when it is idle, else (still starting, or grading) at once."""
        assert self.process is not None
        if self.process.is_alive() and self.ready and self.current is None:
            try:
                self.conn.send(None)
            except OSError:  # pragma: no cover - it died between the check and the send; killed below
                pass
            self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()

    @property
    def busy(self) -> bool:
        if self.process is None:
            return False
        return bool(self.jobs) or self.current is not None or (not self.ready and self.fatal is None)


class _Pool:
    """Every engine's worker, driven by one loop that dispatches, collects and enforces timeouts."""

    def __init__(self, options: GradeOptions, cache: Cache | None, record: Callable[[_Job, EngineRun], None]) -> None:
        self.options, self.cache, self.record = options, cache, record
        self.workers = {
            name: _Worker(name, spec, options.timeout)
            for name, spec in options.engines
            if name not in options.skip
        }
        self._next_id = 0
        self.start_method = FORK  # until other threads run

    def warm_up(self) -> None:
        """Start every engine's worker now, so slow start-ups (checkov's import) overlap the synthesis."""
        for worker in self.workers.values():
            worker.ensure_started(self.start_method)

    def submit(self, name: str, target: Target, assembly: Path, key: str | None) -> None:
        self._next_id += 1
        worker = self.workers[name]
        worker.ensure_started(self.start_method)
        worker.jobs.append(_Job(self._next_id, target, assembly, key))
        self._dispatch(worker)

    def _dispatch(self, worker: _Worker) -> None:
        if worker.fatal is not None:
            while worker.jobs:
                self._fail(worker, worker.jobs.pop(0), worker.fatal, 0.0)
            return
        if worker.ready and worker.current is None and worker.jobs:
            worker.current = worker.jobs.pop(0)
            worker.deadline = time.monotonic() + self.options.timeout
            worker.conn.send((worker.current.id, str(worker.current.assembly), self.options.engine_options))

    def _fail(self, worker: _Worker, job: _Job, error: str, seconds: float) -> None:
        self.record(job, EngineRun(worker.name, worker.version, "error", round(seconds, 3), f"{worker.name} {error}"))

    def poll(self, timeout: float) -> None:
        """Handle whatever the workers sent within ``timeout`` seconds, then enforce deadlines."""
        live = {w.conn: w for w in self.workers.values() if w.busy and not w.conn.closed}
        for conn in wait(list(live), timeout=timeout) if live else []:
            worker = live[conn]  # type: ignore[index]
            try:
                message = conn.recv()  # type: ignore[union-attr]
            except (EOFError, OSError):
                self._died(worker)
                continue
            self._handle(worker, message)
        now = time.monotonic()
        for worker in self.workers.values():
            if worker.busy and worker.fatal is None and now > worker.deadline:
                self._timed_out(worker)
        if not live:
            time.sleep(timeout)

    def _handle(self, worker: _Worker, message: tuple) -> None:
        kind = message[0]
        if kind == "ready":
            worker.ready, worker.version = True, message[1]
        elif kind in ("missing", "failed"):
            worker.fatal = message[1]
            worker.kill()
        else:
            job, seconds = worker.current, message[2]
            worker.current = None
            assert job is not None and job.id == message[1]
            if kind == "result":
                result = EngineResult.from_dict(message[3])
                run = _run_from_result(worker.name, worker.version, seconds, result)
                if self.cache is not None and job.key is not None and run.status != "error":
                    self.cache.put_json("engine", job.key, {"version": run.version, "seconds": seconds,
                                                            "result": message[3]})
                self.record(job, run)
            else:
                self._fail(worker, job, message[3], seconds)
        self._dispatch(worker)

    def _died(self, worker: _Worker) -> None:
        code = worker.process.exitcode if not worker.process.is_alive() else None
        worker.process.join(timeout=1)
        code = worker.process.exitcode if code is None else code
        self._restart_after(worker, f"worker process died (exit code {code})")

    def _timed_out(self, worker: _Worker) -> None:
        worker.kill()
        phase = "grading" if worker.current else "starting"
        self._restart_after(worker, f"timed out after {self.options.timeout:g} s while {phase}")

    def _restart_after(self, worker: _Worker, error: str) -> None:
        seconds = time.perf_counter() - worker.started
        if worker.current is None:  # it never became ready: it will not on a second try either
            worker.fatal = error
            self._dispatch(worker)
            return
        self._fail(worker, worker.current, error, seconds)
        worker.current = None
        if worker.jobs:
            worker.start(SPAWN)

    def close(self) -> None:
        for worker in self.workers.values():
            if worker.process is not None and not worker.conn.closed:
                worker.stop()


def _run_from_result(name: str, engine_version: str | None, seconds: float, result: EngineResult,
                     cached: bool = False) -> EngineRun:
    version_text = result.version or engine_version
    if result.skipped_reason:
        return EngineRun(name, version_text, "skipped", round(seconds, 3), result.skipped_reason, cached, None)
    return EngineRun(name, version_text, "ok", round(seconds, 3), None, cached, result)


# --- assemblies -----------------------------------------------------------------------------------------------


@dataclass
class _Ready:
    target: Target
    assembly: Path
    seconds: float
    cached: bool
    error: str | None = None


def _code_digest(folders: Sequence[str]) -> str:
    files = [f for folder in folders for f in source_files(PACKAGE_ROOT / folder)]
    return files_digest(files, PACKAGE_ROOT)


def _versions() -> dict[str, str]:
    found = {}
    for package in ("aws-cdk-lib", "cdk-nag", "constructs"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:  # pragma: no cover - all three are dependencies of stackgrade
            found[package] = "absent"
    return found


def _nag_packs(options: GradeOptions) -> tuple[str, ...] | None:
    return None if "cdk-nag" in options.skip else options.engine_options.nag_packs


def _python_identity(python: str) -> list:
    """The interpreter and what is installed in it: a synthesis depends on both."""
    script = ("import sys, json, importlib.metadata as m; print(json.dumps([sys.executable, sys.version, "
              "sorted(f'{d.metadata[\"Name\"]}=={d.version}' for d in m.distributions())]))")
    try:
        done = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=60)
        return json.loads(done.stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return [python]  # the synthesis itself will report a broken interpreter


def _assembly_keys(targets: Sequence[Target], options: GradeOptions) -> dict[str, str | None]:
    """The cache key of each target's assembly: everything its synthesis depends on (None: not cacheable)."""
    from checks.synthesis import AppInputError
    from checks.synthesis.app_config import python_command, read_app_config

    keys: dict[str, str | None] = {}
    packs = _nag_packs(options)
    context = dict(options.context)
    if any(t.kind == "reference" for t in targets):
        code, versions = _code_digest(REFERENCE_CODE), _versions()
    if any(t.kind == "app" for t in targets):
        synthesis_code = _code_digest(("checks/synthesis",))
    for target in targets:
        if target.kind == "reference":
            keys[target.name] = digest("reference", target.system, target.variant, options.suffix, packs, code,
                                       versions, context)
        elif target.kind == "app":
            assert target.path is not None
            try:
                config = read_app_config(target.path, context)
                command = python_command(config, options.python)
            except AppInputError:
                keys[target.name] = None  # the synthesis reports it, with the whole story
                continue
            # A non-Python app: its toolchain is unknown to us, so its identity is the command alone.
            identity = _python_identity(command.interpreter) if command is not None else [config.command]
            sources = files_digest(source_files(target.path), target.path)
            keys[target.name] = digest("app", sources, identity, config.command, context, packs, synthesis_code)
    return keys


def _materialize(targets: Sequence[Target], options: GradeOptions, cache: Cache | None,
                 keys: dict[str, str | None], out: "queue.Queue[_Ready | None]") -> None:
    """Put each target's assembly on ``out`` as it becomes ready (runs in a thread); ``None`` at the end."""
    try:
        references = [t for t in targets if t.kind == "reference"]
        if references:
            _materialize_references(references, options, cache, keys, out)
        for target in targets:
            if target.kind == "app":
                out.put(_materialize_app(target, options, cache, keys[target.name]))
            elif target.kind == "assembly":
                out.put(_materialize_assembly(target, options))
    finally:
        out.put(None)


def _outdir(options: GradeOptions, target: Target) -> Path:
    return options.build_dir / "cdk.out" / target.name


def _materialize_references(references: Sequence[Target], options: GradeOptions, cache: Cache | None,
                            keys: dict[str, str | None], out: "queue.Queue[_Ready | None]") -> None:
    from checks.synthesis import synthesize_references

    packs = _nag_packs(options)
    to_build = []
    for target in references:
        key = keys[target.name]
        if cache is not None and key is not None and cache.get_tree("assembly", key, _outdir(options, target)):
            out.put(_Ready(target, _outdir(options, target), 0.0, True))
        else:
            to_build.append((target, key))
    if not to_build:
        return
    by_name = {t.name: (t, key) for t, key in to_build}
    for synthesized in synthesize_references(
        [(t.system, t.variant) for t, _ in to_build], options.build_dir / "cdk.out", suffix=options.suffix,
        nag_packs=packs, jobs=options.jobs, timeout=options.timeout, context=dict(options.context) or None,
    ):
        target, key = by_name[synthesized.name]
        if synthesized.error is None and cache is not None and key is not None:
            cache.put_tree("assembly", key, synthesized.assembly)
        out.put(_Ready(target, Path(synthesized.assembly), synthesized.seconds, False, synthesized.error))


def _materialize_app(target: Target, options: GradeOptions, cache: Cache | None, key: str | None) -> _Ready:
    from checks.synthesis import AppInputError, SynthError, synthesize_app

    assert target.path is not None
    outdir = _outdir(options, target)
    packs = _nag_packs(options)
    context = dict(options.context)
    try:
        if cache is not None and key is not None and cache.get_tree("assembly", key, outdir):
            return _Ready(target, outdir, 0.0, True)
        synthesized = synthesize_app(target.path, outdir, python=options.python, context=context, nag_packs=packs,
                                     timeout=options.timeout)
        if cache is not None and key is not None:
            cache.put_tree("assembly", key, synthesized.assembly)
        return _Ready(target, Path(synthesized.assembly), synthesized.seconds, False)
    except (AppInputError, SynthError) as error:
        return _Ready(target, outdir, 0.0, False, str(error))


def _materialize_assembly(target: Target, options: GradeOptions) -> _Ready:
    assert target.path is not None
    try:
        if target.path.is_file():  # a lone template: give the engines an assembly around it
            assembly = Assembly.load(target.path)
            outdir = _outdir(options, target)
            _write_single_template_assembly(assembly, outdir)
            return _Ready(target, outdir, 0.0, False)
        Assembly.load(target.path)
        return _Ready(target, target.path, 0.0, False)
    except AssemblyError as error:
        return _Ready(target, target.path, 0.0, False, str(error))


def _write_single_template_assembly(assembly: Assembly, outdir: Path) -> None:
    stack = assembly.stacks[0]
    outdir.mkdir(parents=True, exist_ok=True)
    template_file = f"{stack.name}.template.json"
    (outdir / template_file).write_text(json.dumps(stack.template, indent=1, default=str), encoding="utf-8")
    manifest = {"version": "48.0.0", "artifacts": {stack.name: {
        "type": "aws:cloudformation:stack", "environment": "aws://unknown-account/unknown-region",
        "properties": {"templateFile": template_file}}}}
    (outdir / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")


# --- the run ----------------------------------------------------------------------------------------------------


def grade(targets: Sequence[Target], options: GradeOptions, progress: Progress | None = None) -> Iterator[Graded]:
    """Grade every target; yields each target's :class:`Graded` once all its engines are done.

    Raises :class:`InputError` (after stopping every worker) for a target that cannot be graded at all.
    """
    progress = progress or _Silent()
    cache = Cache(options.cache_dir) if options.cache_dir is not None else None
    # Everything an engine result depends on besides the engine and the templates, hashed once per run.
    engine_inputs = digest(options.engine_options.nag_packs, options.engine_options.guard_control_tower,
                           options.engine_options.config.model_dump(mode="json"),
                           _code_digest(RESULT_CODE)) if cache is not None else ""
    ready: queue.Queue[_Ready | None] = queue.Queue()
    pending: dict[str, tuple[_Ready, dict[str, EngineRun]]] = {}
    finished: list[Graded] = []
    active = options.active_engines

    def record(job: _Job, run: EngineRun) -> None:
        entry = pending[job.target.name]
        if run.name == "cdk-nag" and run.status != "error":
            run.seconds = round(run.seconds + entry[0].seconds, 3)  # cdk-nag runs inside the synthesis
        entry[1][run.name] = run
        progress.engine_done(job.target, run)
        _maybe_finish(job.target.name)

    def _maybe_finish(name: str) -> None:
        item, runs = pending[name]
        if len(runs) == len(options.engines):
            del pending[name]
            order = [n for n, _ in options.engines]
            finished.append(Graded(item.target, item.assembly, sorted(runs.values(), key=lambda r: order.index(r.name)),
                                   _synth_record(item.assembly), item.seconds, item.cached))

    keys = _assembly_keys(targets, options) if cache is not None else {t.name: None for t in targets}
    pool = _Pool(options, cache, record) if active else None
    needs_synthesis = any(
        t.kind != "assembly" and not (cache is not None and keys[t.name] and cache.has_tree("assembly", keys[t.name]))
        for t in targets
    )
    if pool is not None and needs_synthesis:
        pool.warm_up()  # now, by fork, before the synthesis thread exists
        pool.start_method = SPAWN  # only the synthesis starts subprocesses in the thread
    thread = threading.Thread(target=_materialize, args=(targets, options, cache, keys, ready), daemon=True)
    thread.start()
    done_materializing = False
    try:
        while not done_materializing or pending:
            # With no engine to poll, wait on the assemblies themselves instead of spinning.
            wait_for_assembly = pool is None
            while True:
                try:
                    item = ready.get(timeout=_POLL_SECONDS) if wait_for_assembly else ready.get_nowait()
                except queue.Empty:
                    break
                wait_for_assembly = False
                if item is None:
                    done_materializing = True
                    break
                if item.error is not None:
                    raise InputError(f"{item.target.name}: {item.error}")
                progress.synthesized(item.target, item.seconds, item.cached)
                pending[item.target.name] = (item, {})
                for name in (n for n, _ in options.engines if n in options.skip):
                    run = EngineRun(name, None, "skipped", 0.0, "skipped on request (--skip)")
                    pending[item.target.name][1][name] = run
                    progress.engine_done(item.target, run)
                # The assembly's templates are hashed once per target, not once per engine.
                templates = files_digest(assembly_files(item.assembly), item.assembly) if cache is not None else ""
                for name in active:
                    key = None
                    if cache is not None:
                        key = digest("engine", name, engine_inputs, templates)
                        hit = cache.get_json("engine", key)
                        if hit is not None:
                            job = _Job(0, item.target, item.assembly, key)
                            record(job, _run_from_result(name, hit["version"], 0.0, EngineResult.from_dict(
                                hit["result"]), cached=True))
                            continue
                    assert pool is not None
                    pool.submit(name, item.target, item.assembly, key)
                if not active:
                    _maybe_finish(item.target.name)
            while finished:
                yield finished.pop(0)
            if pool is not None and (pending or not done_materializing):
                pool.poll(_POLL_SECONDS)
        while finished:
            yield finished.pop(0)
    finally:
        if pool is not None:
            pool.close()
        thread.join(timeout=0 if done_materializing else None)


def _synth_record(assembly: Path) -> dict | None:
    """The synthesis record, for source lines; a broken one is the cdk-nag engine's error to report, not ours."""
    from checks.synthesis.record import RecordError, read_record

    try:
        return read_record(assembly)
    except RecordError:
        return None


__all__ = ["ENGINE_CLASSES", "ENGINE_NAMES", "GradeOptions", "Graded", "InputError", "Target", "grade"]
