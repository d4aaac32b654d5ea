"""Engines behind one small interface: each grades a cloud assembly directory and returns findings.

An engine is a class with a ``name``, a :meth:`Engine.prepare` that imports or
locates its tool and returns the tool's version (raising :class:`EngineMissing`
when it is not there) and a :meth:`Engine.grade` that grades one assembly
(raising :class:`EngineFailure` with the tool's output when the run fails).
The orchestrator runs each engine in its own process, with a timeout, and
turns every exception into an engine error that fails the gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

from checks.config import StackgradeConfig
from checks.finding import Finding

# The order is the precedence when findings from several engines are merged into one.
ENGINE_NAMES: tuple[str, ...] = ("stackgrade", "cdk-nag", "checkov", "cfn-guard")
# The live step (checks/live) is an engine of the scorecard, not of the orchestrator: it runs after the static
# engines, against LocalStack, only when asked (grade --live), so it is not in ENGINE_NAMES (no worker, no --skip)
# and its findings rank after theirs when merged.
LIVE_ENGINE = "live"
DEFAULT_NAG_PACKS: tuple[str, ...] = ("AwsSolutions", "Serverless")
NAG_PACKS: tuple[str, ...] = ("AwsSolutions", "Serverless", "HIPAA.Security", "NIST.800.53.R4", "NIST.800.53.R5", "PCI.DSS.321")

# Written by stackgrade's synthesis into the assembly: the cdk-nag run and construct path -> source line.
SYNTH_RECORD = "stackgrade-synth.json"


class EngineMissing(Exception):
    """The engine's tool is not installed or not found; the message says how to get it or skip it."""


class EngineFailure(Exception):
    """The engine ran but failed; the message carries the tool's own output."""


@dataclass(frozen=True)
class EngineOptions:
    """What every engine may need besides the assembly (picklable: it crosses process boundaries)."""

    config: StackgradeConfig = field(default_factory=StackgradeConfig)
    nag_packs: tuple[str, ...] = DEFAULT_NAG_PACKS
    guard_control_tower: bool = False


@dataclass
class EngineResult:
    """One engine's verdict on one assembly.

    ``evaluated`` holds one ``(stack, logical_id, category)`` per resource a rule of the engine
    examined, passed or failed (``stack`` as in the fingerprint: the nested stack's own name), so
    scores can be normalized by how much was checked. ``unmapped`` lists the engine's rule ids that
    the mapping table (``rules/mapping/``) does not place yet.
    """

    findings: list[Finding] = field(default_factory=list)
    evaluated: set[tuple[str, str, str]] = field(default_factory=set)
    unmapped: set[str] = field(default_factory=set)
    skipped_reason: str | None = None
    # Set when the version is only known per assembly (cdk-nag runs in the app's own environment).
    version: str | None = None

    def to_dict(self) -> dict:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "evaluated": sorted(list(e) for e in self.evaluated),
            "unmapped": sorted(self.unmapped),
            "skipped_reason": self.skipped_reason,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: dict) -> EngineResult:
        return cls(
            findings=[Finding.from_dict(f) for f in data["findings"]],
            evaluated={tuple(e) for e in data["evaluated"]},  # type: ignore[misc]
            unmapped=set(data["unmapped"]),
            skipped_reason=data.get("skipped_reason"),
            version=data.get("version"),
        )


class Engine(Protocol):
    """The interface every engine implements."""

    name: ClassVar[str]

    def prepare(self) -> str:
        """Import or locate the tool (slow imports happen here, before the assembly exists); its version."""

    def grade(self, assembly: Path, options: EngineOptions) -> EngineResult:
        """Grade one cloud assembly directory (``manifest.json`` and templates)."""
