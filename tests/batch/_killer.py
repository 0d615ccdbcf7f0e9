"""Per-file functions that kill the worker process computing a given file (for the worker-death
tests). Pickled by value, so spawned worker processes need not import the tests package."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any


def kill_on(task: Any, cfg: Any, *, victim_once: str, victim_always: str, marker: str
            ) -> dict[str, Any]:
    """SIGKILL this worker on ``victim_always`` every time, on ``victim_once`` the first time
    only (``marker`` records that it happened); compute every other file normally."""
    from skindose.batch import process_file

    name = Path(task.path).name
    if name == victim_always:
        os.kill(os.getpid(), signal.SIGKILL)
    if name == victim_once:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass
        else:
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)
    return process_file(task, cfg)
