"""Dask worker preload of the embedded cluster: workers leave Ctrl-C to the driver.

A terminal's Ctrl-C reaches every process of the foreground group, the worker processes
included; the driver decides what happens (finished rows stay on disk, the cluster is closed),
so the workers ignore SIGINT instead of dying with a traceback each.
"""

from __future__ import annotations

import signal
from typing import Any


def dask_setup(worker: Any) -> None:  # called by distributed when the worker starts
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread of the process: nothing to do
        pass
