"""Ties an embedded LocalStack to the stackgrade run that started it.

- ``GET /_stackgrade/run`` answers the run's token, so the starter knows the LocalStack answering on its
  port is its own (not another process that took the port first).
- When the starting process is gone (killed outright, so it never stopped us), LocalStack shuts itself
  down as on SIGTERM, which also ends its Lambda handler processes and helpers.
- SIGUSR2 writes every thread's stack to the log (the starter sends it before killing a LocalStack that
  did not stop in time, so the log shows where it hung).
Both act only when started by stackgrade (``STACKGRADE_LOCALSTACK_RUN`` in the environment).
"""

from __future__ import annotations

import faulthandler
import os
import signal
import threading
import time

from localstack.runtime import hooks

PARENT_POLL_SECONDS = 0.5


class RunResource:
    def __init__(self, token: str) -> None:
        self.token = token

    def on_get(self, request):
        return {"run": self.token}


def shut_down_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


@hooks.on_infra_start()
def supervise_run() -> None:
    token = os.environ.get("STACKGRADE_LOCALSTACK_RUN")
    if not token:
        return
    from localstack.http import Resource
    from localstack.services.edge import ROUTER

    ROUTER.add(Resource("/_stackgrade/run", RunResource(token)))
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    threading.Thread(target=shut_down_when_orphaned, args=(os.getppid(),), name="stackgrade-parent-watch",
                     daemon=True).start()
