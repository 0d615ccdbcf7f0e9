"""The ``skindose`` command's entry point: Ctrl-C and SIGTERM are handled from its first line.

Python runs a package's ``__init__`` before any of its modules, and ``import skindose`` takes
about half a second (numpy, pydicom, the compute module; more on a loaded machine). A Ctrl-C in
that time would raise ``KeyboardInterrupt`` inside an import and print a traceback. This package
lives outside ``skindose`` and imports nothing but ``os``, ``signal`` and ``sys``: :func:`main`
first installs SIGINT / SIGTERM handlers that end the process with one line on stderr and exit
130 / 143 (nothing has been written yet), then imports :mod:`skindose.cli`, whose ``main``
installs its own handlers (they also remove half-written output) and ends the process.

``pyproject.toml`` names :func:`main` as the ``skindose`` console script;
``python -m _skindose_launch`` is the same (``python -m skindose`` works too, but its package
import comes before any code of ours; see ``docs/trust.md``, "Interrupts").
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["main"]

_NAMES = {int(signal.SIGINT): "SIGINT", int(signal.SIGTERM): "SIGTERM"}


def _starting(signum: int, frame: object) -> None:
    """A signal while skindose is still being imported: one line, exit 128 + signum."""
    name = _NAMES.get(signum, str(signum))
    try:
        os.write(2, f"skindose: interrupted by {name} while starting; nothing written\n"
                 .encode())
    except OSError:
        pass
    os._exit(128 + signum)


def _install() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is signal.SIG_IGN:
            continue  # ignored by whoever started us (nohup, a background job): keep it so
        signal.signal(sig, _starting)


def main() -> int:
    """Run ``skindose`` as a program: handlers first, then the command line; never returns."""
    _install()
    try:
        from skindose.cli import main as cli_main
    except Exception as exc:  # a broken installation: one line, like any internal error
        if os.environ.get("SKINDOSE_DEBUG"):
            raise
        try:
            os.write(2, f"skindose: cannot start ({type(exc).__name__}: {exc}); the "
                     "installation looks broken (SKINDOSE_DEBUG=1 shows the traceback)\n"
                     .encode(errors="replace"))
        except OSError:
            pass
        os._exit(1)
    rc = cli_main()  # as the program (no argv), it ends the process itself
    sys.exit(rc)  # pragma: no cover - only if it did return
