"""Start-up messages: one line when Numba compiles skindose's kernel for the first time.

The first ``skindose compute`` after an install (or an upgrade, or with an empty Numba cache)
compiles the dose kernel, which takes 15–20 s on a 2-core machine and is silent otherwise.
:func:`announce_compilation` registers a Numba event listener (``numba.core.event``, the
``"numba:compile"`` event, emitted only on a cache miss) that prints one line, once, when the
first skindose function starts compiling. It imports Numba, so only the compute path calls it
(``import skindose`` and ``skindose inspect`` stay Numba-free).
"""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["announce_compilation"]

MESSAGE = ("skindose: compiling the dose kernel for this machine (first run after install; "
           "about 15-20 s, once: the result is cached) ...")

_installed: list[object] = []


def announce_compilation(stream: TextIO | None = None, *, prefix: str = "skindose",
                         force: bool = False) -> bool:
    """Print :data:`MESSAGE` once when a Numba function of ``prefix`` starts compiling.

    Parameters
    ----------
    stream
        Where to write (default ``sys.stderr``).
    prefix
        Module-name prefix of the functions that count (``"skindose"``).
    force
        Install even when ``stream`` is not a terminal (default: only for terminals, like the
        progress bar, so that logs and JSON pipelines stay clean).

    Returns
    -------
    bool
        Whether a listener was installed (at most one per process and prefix).
    """
    out = stream if stream is not None else sys.stderr
    if not force and not (hasattr(out, "isatty") and out.isatty()):
        return False
    if any(p == prefix for p in _installed):
        return False
    from numba.core import event

    class _Once(event.Listener):
        def __init__(self) -> None:
            self.done = False

        def on_start(self, ev) -> None:
            if self.done:
                return
            disp = (ev.data or {}).get("dispatcher")
            module = getattr(getattr(disp, "py_func", None), "__module__", "") or ""
            if module.startswith(prefix):
                self.done = True
                print(MESSAGE, file=out, flush=True)

        def on_end(self, ev) -> None:
            pass

    event.register("numba:compile", _Once())
    _installed.append(prefix)
    return True
