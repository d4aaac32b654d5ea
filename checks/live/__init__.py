"""Live verification: deploy assemblies to LocalStack and prove their behaviour with probes.

LocalStack runs embedded by default (``localstack``: a Python 3.13 environment built from the lock file
in this folder by ``environment``, plus the plugins in ``plugins/``: DynamoDB served by moto and a
local-process Lambda executor), or an existing endpoint is used (a container in CI). Every call goes
through ``localstack.client``: fake credentials, loopback only unless allowed, never the user's AWS
profile. This module holds the small types the live modules share.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

Progress = Callable[[str], None]
"""Receives one human-readable line per step (installing, starting ...); the CLI shows them."""


class LiveError(Exception):
    """A live-step failure with a message that says what to do next."""


class EnvironmentBuildError(LiveError):
    """The embedded LocalStack's Python environment cannot be found or built."""


class LocalStackStartError(LiveError):
    """The embedded LocalStack did not start or did not become healthy."""


class LocalStackDied(LiveError):
    """LocalStack (embedded or external) stopped answering during the run."""


class EndpointRefused(LiveError):
    """An endpoint that is not loopback, without ``allow_remote``."""


@dataclass(frozen=True)
class Endpoint:
    """Where LocalStack answers, and how it came to be there."""

    url: str
    kind: Literal["embedded", "external"]
    log_path: Path | None = None
    start_seconds: float | None = None
    region: str = "us-east-1"
    version: str | None = None  # an external LocalStack's, from the health document it answered with
