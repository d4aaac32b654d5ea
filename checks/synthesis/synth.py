"""Synthesize CDK apps into cloud assemblies the way ``cdk synth`` does, with cdk-nag added by the runner."""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Sequence

from checks.engines import DEFAULT_NAG_PACKS, NAG_PACKS, SYNTH_RECORD
from checks.synthesis import runner
from checks.synthesis.app_config import AppInputError, python_command, read_app_config

RUNNER = Path(runner.__file__).resolve()
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REGION = "us-east-1"
# LocalStack's default account: offline, the CLI knows no account; apps that read it still run.
DEFAULT_ACCOUNT = "000000000000"
TAIL_LINES = 40
NOT_PYTHON = "not a Python app: cdk-nag is added inside Python apps only; add its packs to the app itself"


class SynthError(Exception):
    """The app failed to synthesize; the message has the command, the exit status and its output's tail."""


@dataclass(frozen=True)
class Synthesized:
    """A cloud assembly written by a synthesis (``error`` set for a failed reference build)."""

    assembly: Path
    seconds: float
    nag: dict
    name: str = ""
    error: str | None = None


def synthesize_app(
    app_dir: Path,
    outdir: Path,
    *,
    python: str | None = None,
    context: dict[str, str] | None = None,
    nag_packs: tuple[str, ...] | None = DEFAULT_NAG_PACKS,
    timeout: float = 600,
) -> Synthesized:
    """Synthesize the CDK app in ``app_dir`` into ``outdir`` (cleared first), with the nag packs added.

    ``nag_packs=None`` (or empty) skips cdk-nag. Raises AppInputError for unusable input and
    SynthError when the app fails or runs past ``timeout`` seconds.
    """
    _check_packs(nag_packs)
    config = read_app_config(Path(app_dir), context)
    app_dir = config.app_dir.resolve()
    outdir = prepare_outdir(Path(outdir))
    command = python_command(config, python)
    env = synth_environment(outdir, config.context)
    started = time.perf_counter()
    if command is None:
        argv, shown = config.command, config.command  # the CLI runs non-Python commands through a shell
    else:
        job = {"mode": "app", "app_dir": str(app_dir), "outdir": str(outdir), "target": command.target,
               "module": command.module, "args": list(command.args), "packs": list(nag_packs or [])}
        argv = [command.interpreter, *command.flags, str(RUNNER), "--job", json.dumps(job)]
        shown = shlex.join([command.interpreter, *command.flags,
                            *(["-m"] if command.module else []), command.target, *command.args])
    status, output = run_process(argv, app_dir, env, timeout, shown)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SynthError(failure_message(shown, app_dir, status, output))
    if not has_stacks(outdir):
        raise AppInputError(f"the app synthesized no stacks into {outdir} (`{shown}` in {app_dir}); "
                            "does it add a Stack to its App, and leave the App's outdir to the CLI?")
    if command is None:
        record = _skipped_record(config.command)
        (outdir / SYNTH_RECORD).write_text(json.dumps(record, indent=1))
    else:
        record = json.loads((outdir / SYNTH_RECORD).read_text(encoding="utf-8"))
    return Synthesized(outdir, seconds, record["cdk_nag"], app_dir.name)


def synthesize_references(
    names: Sequence[tuple[str, str]],
    outdir_root: Path,
    *,
    suffix: str = "dev",
    nag_packs: tuple[str, ...] | None = DEFAULT_NAG_PACKS,
    jobs: int = 2,
    timeout: float = 600,
    context: dict[str, str] | None = None,
) -> Iterator[Synthesized]:
    """Synthesize reference systems into ``outdir_root/<system>-<variant>/``, yielding each as it completes.

    ``jobs`` worker processes each build a share of ``names`` in one interpreter (jsii starts once
    per worker). A failed build is yielded with ``error`` set; ``timeout`` bounds each build.
    """
    from reference_stacks.catalog import UnknownReferenceError, resolve

    _check_packs(nag_packs)
    if jobs < 1:
        raise AppInputError("jobs must be at least 1")
    try:
        for system, variant in names:
            resolve(system, variant, suffix)
    except UnknownReferenceError as error:
        raise AppInputError(str(error)) from error
    builds = [{"system": s, "variant": v, "suffix": suffix, "context": context or {},
               "outdir": str(prepare_outdir(Path(outdir_root) / f"{s}-{v}"))} for s, v in names]
    batches = [builds[i::jobs] for i in range(jobs) if builds[i::jobs]]
    env = synth_environment(None, None)
    workers = [_Worker(batch, nag_packs, env) for batch in batches]
    events: queue.Queue = queue.Queue()
    try:
        for worker in workers:
            worker.start(events)
        pending = len(builds)
        while pending:
            try:
                worker, done = events.get(timeout=1.0)
            except queue.Empty:
                for worker in workers:
                    for failed in worker.check_timeout(timeout):
                        pending -= 1
                        yield failed
                continue
            for result in worker.receive(done):
                pending -= 1
                yield result
    finally:
        for worker in workers:
            worker.stop()


class _Worker:
    """One runner process building a batch of reference systems, reporting each on its stdout."""

    def __init__(self, batch: list[dict], nag_packs: tuple[str, ...] | None, env: dict[str, str]) -> None:
        self.batch = batch
        self.remaining = list(batch)
        self.job = {"mode": "references", "app_dir": str(PROJECT_ROOT), "builds": batch,
                    "packs": list(nag_packs or [])}
        self.env = env
        self.process: subprocess.Popen | None = None
        self.errors: IO[str] | None = None
        self.since = time.perf_counter()

    def start(self, events: queue.Queue) -> None:
        self.errors = tempfile.TemporaryFile("w+", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, str(RUNNER), "--job", json.dumps(self.job)], cwd=PROJECT_ROOT, env=self.env,
            stdout=subprocess.PIPE, stderr=self.errors, text=True, start_new_session=True,
        )
        self.since = time.perf_counter()
        threading.Thread(target=self._read, args=(events,), daemon=True).start()

    def _read(self, events: queue.Queue) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(runner.DONE_MARK):
                events.put((self, json.loads(line[len(runner.DONE_MARK):])))
        self.process.wait()
        events.put((self, None))  # end of output: whatever is left did not get built

    def receive(self, done: dict | None) -> list[Synthesized]:
        """The results a DONE line (or the end of the process, ``None``) settles."""
        if done is None:
            if not self.remaining:
                return []
            status = self.process.returncode if self.process else None
            reason = f"the synthesis worker exited with status {status} before building it:\n{self._stderr_tail()}"
            return self._fail_remaining(reason)
        self.since = time.perf_counter()
        build = next(b for b in self.remaining if b["outdir"] == done["outdir"])
        self.remaining.remove(build)
        name = Path(build["outdir"]).name
        nag = _record_nag(Path(build["outdir"])) if not done["error"] else {}
        return [Synthesized(Path(build["outdir"]), done["seconds"], nag, name, done["error"])]

    def check_timeout(self, timeout: float) -> list[Synthesized]:
        if not self.remaining or time.perf_counter() - self.since <= timeout:
            return []
        self.stop()
        current = Path(self.remaining[0]["outdir"]).name
        return self._fail_remaining(f"the synthesis of {current} did not finish within {timeout:g} s; "
                                    "its worker was stopped")

    def _fail_remaining(self, reason: str) -> list[Synthesized]:
        failed = [Synthesized(Path(b["outdir"]), 0.0, {}, Path(b["outdir"]).name, reason) for b in self.remaining]
        self.remaining = []
        return failed

    def _stderr_tail(self) -> str:
        if self.errors is None:
            return ""
        self.errors.seek(0)
        return tail(self.errors.read())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            kill_group(self.process)
        if self.errors is not None and self.process is not None and self.process.poll() is not None:
            self.errors.close()
            self.errors = None


# --- helpers -------------------------------------------------------------------------------------


def _check_packs(packs: tuple[str, ...] | None) -> None:
    unknown = sorted(set(packs or ()) - set(NAG_PACKS))
    if unknown:
        raise AppInputError(f"unknown cdk-nag packs {unknown}; choose from {list(NAG_PACKS)}")


def prepare_outdir(outdir: Path) -> Path:
    """``outdir`` made empty (a stale report would be read as this run's); only assemblies are cleared."""
    outdir = outdir.resolve()
    if outdir.exists():
        if not outdir.is_dir() or (any(outdir.iterdir()) and not (outdir / "manifest.json").is_file()):
            raise AppInputError(f"{outdir} exists and is not a cloud assembly; choose an empty or new directory")
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    return outdir


def synth_environment(outdir: Path | None, context: dict | None) -> dict[str, str]:
    """The environment the CDK CLI gives an app, offline: outdir, context, default account and region."""
    env = dict(os.environ)
    if outdir is not None:
        env["CDK_OUTDIR"] = str(outdir)
    if context is not None:
        env["CDK_CONTEXT_JSON"] = json.dumps(context)
    env["CDK_DEFAULT_REGION"] = (os.environ.get("CDK_DEFAULT_REGION") or os.environ.get("AWS_REGION")
                                 or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION)
    env["CDK_DEFAULT_ACCOUNT"] = os.environ.get("CDK_DEFAULT_ACCOUNT") or DEFAULT_ACCOUNT
    # CDK's built-in template validator costs ~2.7 s per synth and leaves templates byte-identical.
    env["CDK_VALIDATION"] = "false"
    env.setdefault("PYTHONUNBUFFERED", "1")
    from reference_stacks.jsii_node import PROJECT_NODE

    if "JSII_NODE" not in env and PROJECT_NODE.exists():
        env["JSII_NODE"] = str(PROJECT_NODE)  # Node 22: no end-of-life banner from jsii
    return env


def run_process(argv: list[str] | str, cwd: Path, env: dict[str, str], timeout: float, shown: str) -> tuple[int, str]:
    """Run ``argv`` in its own process group; (exit status, combined output). Kills the group on timeout."""
    try:
        process = subprocess.Popen(argv, cwd=cwd, env=env, shell=isinstance(argv, str), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
    except OSError as error:
        raise AppInputError(f"cannot run `{shown}` in {cwd}: {error.strerror}; check the app command or --python") \
            from error
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(process)
        output, _ = process.communicate()
        raise SynthError(f"`{shown}` in {cwd} did not finish within {timeout:g} s; it was stopped "
                         f"(raise the timeout if the app is just slow). Last output:\n{tail(output)}") from None
    return process.returncode, output


def kill_group(process: subprocess.Popen) -> None:
    """Stop the process and everything it started (jsii's node runs as a child)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # pragma: no cover - it ended between the poll and the kill
        pass
    process.wait()


def tail(output: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(output.rstrip().splitlines()[-lines:])


def failure_message(shown: str, app_dir: Path, status: int, output: str) -> str:
    message = f"`{shown}` failed in {app_dir} (exit status {status}):\n{tail(output)}"
    if "cannot import name 'NagSuppressions'" in output:
        message += ("\nThis app is written for cdk-nag 2, but its environment has cdk-nag 3: "
                    "run it with --python of an environment that has `cdk-nag<3`.")
    return message


def has_stacks(assembly: Path) -> bool:
    """Whether the assembly (or a nested stage assembly) holds a CloudFormation stack."""
    try:
        manifest = json.loads((assembly / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    for artifact in (manifest.get("artifacts") or {}).values():
        if artifact.get("type") == "aws:cloudformation:stack":
            return True
        directory = (artifact.get("properties") or {}).get("directoryName")
        if artifact.get("type") == "cdk:cloud-assembly" and directory and has_stacks(assembly / directory):
            return True
    return False


def _skipped_record(command: str) -> dict:
    return {"cdk_nag": {"status": "skipped", "version": None, "major": None, "packs": [], "error": None,
                        "reason": f"{NOT_PYTHON} (app command: {command})"},
            "sources": {}, "app": {"command": command}}


def _record_nag(assembly: Path) -> dict:
    return json.loads((assembly / SYNTH_RECORD).read_text(encoding="utf-8"))["cdk_nag"]
