"""Run a CDK Python app with cdk-nag added and construct source lines recorded; stackgrade's synthesis runner.

Executed by path in the app's own Python environment (``python runner.py --job
'<json>'``), so it imports only the standard library, ``aws_cdk``, ``jsii``,
``constructs`` and ``cdk_nag`` (the user's environment has no stackgrade).
It installs three hooks, runs the app's script or module with ``runpy`` (or,
for stackgrade's reference systems, builds several apps in this one
interpreter) and writes ``stackgrade-synth.json`` into each assembly:

- every ``aws_cdk.App`` gets the nag packs: validation plugins with cdk-nag 3,
  report-writing Aspects with cdk-nag 2;
- ``jsii.create`` is wrapped to record, for each construct the Python code
  creates, the first stack frame in the user's code (file and line);
- cdk-nag 3 acknowledgements given with a bare rule id (``AwsSolutions-SQS3``)
  are re-addressed to the plugin (``AwsSolutions::AwsSolutions-SQS3``): cdk-nag
  drops bare-id acknowledged violations silently, while CDK lists plugin-addressed
  ones, with their reason, under ``suppressedViolations`` in the report.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import runpy
import site
import sys
import sysconfig
import time
import traceback
from typing import Any, Dict, List, Optional, Tuple

RECORD = "stackgrade-synth.json"  # checks.engines.SYNTH_RECORD; this file cannot import stackgrade
DONE_MARK = "@@stackgrade-synth@@ "
PACK_CLASSES = {
    "AwsSolutions": "AwsSolutionsChecks",
    "Serverless": "ServerlessChecks",
    "HIPAA.Security": "HIPAASecurityChecks",
    "NIST.800.53.R4": "NIST80053R4Checks",
    "NIST.800.53.R5": "NIST80053R5Checks",
    "PCI.DSS.321": "PCIDSS321Checks",
}
MISSING_HINT = "pip install cdk-nag into that environment, or skip the engine with --skip cdk-nag"
RUNNER_FILE = os.path.abspath(__file__)


class Nag:
    """The cdk-nag of this environment: status, version and the pack classes to add to every App."""

    def __init__(self, packs: Optional[List[str]]) -> None:
        self.packs = list(packs or [])
        self.status, self.version, self.major = "skipped", None, None  # type: Tuple[str, Optional[str], Optional[int]]
        self.error = None  # type: Optional[str]
        self.reason = None if packs else "cdk-nag was skipped"  # type: Optional[str]
        self.classes = []  # type: List[Any]
        self.module = None  # type: Any
        if packs:
            self._load()

    def _load(self) -> None:
        try:
            self.module = importlib.import_module("cdk_nag")
        except ImportError as error:
            self.status = "missing"
            self.error = f"cdk-nag is not installed for {sys.executable} ({error}); {MISSING_HINT}"
            return
        except Exception as error:  # noqa: BLE001 - a broken install: report it, synthesize anyway
            self.status, self.error = "error", f"cdk-nag failed to import: {type(error).__name__}: {error}"
            return
        from importlib import metadata

        self.version = metadata.version("cdk-nag")
        self.major = int(self.version.split(".")[0])
        unknown = [p for p in self.packs if p not in PACK_CLASSES or not hasattr(self.module, PACK_CLASSES[p])]
        if unknown:
            self.status = "error"
            self.error = f"cdk-nag {self.version} has no pack named {', '.join(unknown)}"
            return
        self.classes = [getattr(self.module, PACK_CLASSES[p]) for p in self.packs]
        self.status = "ok"

    def add_to(self, app: Any) -> None:
        """Add the packs to one App: plugins (cdk-nag 3) or Aspects writing JSON reports (cdk-nag 2)."""
        if self.status != "ok":
            return
        import aws_cdk

        if self.major >= 3:
            aws_cdk.Validations.of(app).add_plugins(*[cls() for cls in self.classes])
        else:  # pragma: no cover - runs in a cdk-nag 2 environment's process (test_synthesize_app, nag2)
            json_format = [self.module.NagReportFormat.JSON]
            for cls in self.classes:
                aws_cdk.Aspects.of(app).add(cls(reports=True, report_formats=json_format))

    def section(self) -> Dict[str, Any]:
        return {"status": self.status, "version": self.version, "major": self.major, "packs": self.packs,
                "error": self.error, "reason": self.reason}


def library_dirs() -> Tuple[str, ...]:
    """Directories whose frames are never the user's code: the stdlib and every site-packages."""
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if paths.get(k)}
    dirs.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    dirs.add(site.getusersitepackages() if hasattr(site, "getusersitepackages") else "")
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs if d)


class Hooks:
    """Patches that add nag packs to every App, record construct sources and re-address acknowledgements."""

    def __init__(self, nag: Nag, app_dir: str, outdir: Optional[str] = None) -> None:
        self.nag = nag
        self.outdir = outdir
        self.app_dir = os.path.join(os.path.realpath(app_dir), "")
        self.libraries = library_dirs()
        self.apps = []  # type: List[Any]
        self.synthesized = set()  # type: set
        self.created = []  # type: List[Tuple[Any, str, int]]
        self._saved = []  # type: List[Tuple[Any, str, Any]]
        self._user_files = {}  # type: Dict[str, bool]

    def __enter__(self) -> "Hooks":
        import aws_cdk
        import constructs
        import jsii

        self._patch(jsii, "create", self._create(jsii.create, aws_cdk.App, constructs.Construct))
        self._patch(aws_cdk.App, "synth", self._synth(aws_cdk.App.synth))
        if self.nag.status == "ok" and self.nag.major >= 3:
            self._patch(aws_cdk.Validations, "acknowledge", self._acknowledge(aws_cdk.Validations.acknowledge))
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()

    def reset(self) -> None:
        """Forget the previous app (several apps are built in one interpreter)."""
        self.apps, self.synthesized, self.created = [], set(), []

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        self._saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)

    def _create(self, original: Any, app_class: type, construct_class: type) -> Any:
        def create(cls: Any, obj: Any, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
            if self.outdir and isinstance(obj, app_class):
                args = self._with_outdir(args)
            result = original(cls, obj, args, *rest, **kwargs)
            if isinstance(obj, construct_class):
                where = self.user_frame(sys._getframe(1), obj)
                if where:
                    self.created.append((obj, where[0], where[1]))
                if isinstance(obj, app_class):
                    self.apps.append(obj)
                    self.nag.add_to(obj)
            return result

        return create

    def _with_outdir(self, args: Any) -> Any:
        """App props with the outdir the CLI gives in CDK_OUTDIR, unless the app chose one.

        Given explicitly, it also holds when jsii's node started before CDK_OUTDIR was set
        (the runner run inside an existing process, as the tests do).
        """
        import aws_cdk

        props = args[0] if args else None
        values = dict(getattr(props, "_values", None) or {})
        if values.get("outdir"):
            return args
        values["outdir"] = self.outdir
        return [aws_cdk.AppProps(**values), *list(args or [])[1:]]

    def _synth(self, original: Any) -> Any:
        hooks = self

        def synth(self: Any, *args: Any, **kwargs: Any) -> Any:
            hooks.synthesized.add(id(self))
            return original(self, *args, **kwargs)

        return synth

    def _acknowledge(self, original: Any) -> Any:
        import aws_cdk

        packs = self.nag.packs

        def acknowledge(self: Any, *rules: Any) -> Any:
            readdressed = []
            for rule in rules:
                pack = next((p for p in packs if rule.id.startswith(p + "-")), None)
                readdressed.append(aws_cdk.Acknowledgment(id=f"{pack}::{rule.id}", reason=rule.reason)
                                   if pack else rule)
            return original(self, *readdressed)

        return acknowledge

    def user_frame(self, frame: Any, obj: Any) -> Optional[Tuple[str, int]]:
        """File (relative to the app dir when inside it) and line of the first frame in the user's code."""
        while frame is not None:
            filename = frame.f_code.co_filename
            is_user = self._user_files.get(filename)
            if is_user is None:
                real = os.path.realpath(filename)
                is_user = not (filename.startswith("<") or real == RUNNER_FILE
                               or real.startswith(self.libraries) or os.sep + "site-packages" + os.sep in real)
                self._user_files[filename] = is_user
            # A construct class of the user's: its own __init__ calls super(); the line that matters made it.
            if is_user and not (frame.f_code.co_name == "__init__" and frame.f_locals.get("self") is obj):
                real = os.path.realpath(filename)
                shown = real[len(self.app_dir):] if real.startswith(self.app_dir) else real
                return shown, frame.f_lineno
            frame = frame.f_back
        return None

    def sources(self) -> Dict[str, Dict[str, Any]]:
        """Construct path -> {file, line}, for every construct the user's code created."""
        found = {}  # type: Dict[str, Dict[str, Any]]
        for obj, filename, line in self.created:
            path = obj.node.path
            if path and path not in found:
                found[path] = {"file": filename, "line": line}
        return found

    def finish(self) -> None:
        """Synthesize every App the code built but never synthesized (``cdk synth`` output needs it)."""
        for app in self.apps:
            if id(app) not in self.synthesized:
                synthesize(app)


def is_validation_failure(error: BaseException) -> bool:
    """cdk-nag 3 violations end synthesis with ValidationFailed after the report is written: normal here."""
    # Not "ValidationFailedWithErrors": a construct's own validation failing is the app's error.
    return str(error).lstrip().startswith("ValidationFailed:")


def synthesize(app: Any) -> None:
    try:
        app.synth()
    except Exception as error:  # noqa: BLE001 - jsii raises RuntimeError for the JavaScript error
        if not is_validation_failure(error):
            raise


def write_record(outdir: str, nag: Nag, hooks: Hooks, app: Dict[str, Any]) -> None:
    record = {"cdk_nag": nag.section(), "sources": hooks.sources(), "app": app}
    with open(os.path.join(outdir, RECORD), "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1, sort_keys=True)


def app_info(started: float, **extra: Any) -> Dict[str, Any]:
    from importlib import metadata

    return {"python": sys.executable, "python_version": sys.version.split()[0],
            "aws_cdk_version": metadata.version("aws-cdk-lib"),
            "seconds": round(time.perf_counter() - started, 3), **extra}


def user_traceback(error: BaseException) -> str:
    """The traceback without the runner's and runpy's own frames."""
    tb = error.__traceback__
    while tb is not None and os.path.realpath(tb.tb_frame.f_code.co_filename) in (RUNNER_FILE, runpy.__file__):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb))


def run_app(job: Dict[str, Any]) -> int:
    """Run one app the way ``cdk synth`` would, hooks installed; the exit status of the app."""
    started = time.perf_counter()
    app_dir, outdir = job["app_dir"], job["outdir"]
    target, args, as_module = job["target"], job.get("args", []), job.get("module", False)
    nag = Nag(job.get("packs"))
    with Hooks(nag, app_dir, outdir) as hooks:
        # `python app.py` puts the script's folder first on sys.path, `python -m` the working directory.
        sys.path[0] = app_dir if as_module else os.path.dirname(os.path.join(app_dir, target))
        sys.argv = [target if as_module else os.path.join(app_dir, target), *args]
        try:
            if as_module:
                runpy.run_module(target, run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(os.path.join(app_dir, target), run_name="__main__")
            hooks.finish()
        except SystemExit as stop:
            if stop.code not in (None, 0):
                print(f"the app exited with status {stop.code}", file=sys.stderr)
                return stop.code if isinstance(stop.code, int) else 1
            hooks.finish()
        except Exception as error:  # noqa: BLE001 - the app's own error: show it as Python would
            if not is_validation_failure(error):
                sys.stderr.write(user_traceback(error))
                return 1
        if os.path.isdir(outdir):
            write_record(outdir, nag, hooks, app_info(started, target=target, module=as_module, args=args))
    return 0


def run_references(job: Dict[str, Any]) -> int:
    """Build several reference systems in this interpreter, one DONE line on stdout per assembly."""
    from reference_stacks.app import build_app

    nag = Nag(job.get("packs"))
    with Hooks(nag, job["app_dir"]) as hooks:
        for build in job["builds"]:
            started = time.perf_counter()
            hooks.reset()
            error = None
            try:
                app = build_app(build["system"], build["variant"], build["suffix"],
                                outdir=build["outdir"], context=build.get("context") or {})
                synthesize(app)
                write_record(build["outdir"], nag, hooks,
                             app_info(started, system=build["system"], variant=build["variant"]))
            except Exception as failure:  # noqa: BLE001 - reported per assembly, the batch goes on
                error = user_traceback(failure)
            done = {"outdir": build["outdir"], "seconds": time.perf_counter() - started, "error": error}
            print(DONE_MARK + json.dumps(done), flush=True)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", required=True, help="the job as JSON")
    job = json.loads(parser.parse_args(argv).job)
    # Run by path, this folder is sys.path[0]; the app must not import its modules by accident.
    if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.dirname(RUNNER_FILE):
        sys.path[0] = job["app_dir"]
    try:
        importlib.import_module("aws_cdk")
    except ImportError as error:
        print(f"aws-cdk-lib cannot be imported by {sys.executable} ({error}); run with --python naming "
              "the app's environment (the interpreter that has its dependencies)", file=sys.stderr)
        return 3
    return run_references(job) if job.get("mode") == "references" else run_app(job)


if __name__ == "__main__":
    sys.exit(main())
