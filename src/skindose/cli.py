"""The ``skindose`` command line.

Commands
--------
``skindose demo``
    Build a synthetic cardiac procedure (bundled, no files needed), compute its skin dose map
    and write a report folder.
``skindose inspect FILE...``
    What an RDSR says: device, patient, reference point, totals, events, notes. No Numba.
``skindose compute FILE...``
    Skin dose map of one patient's RDSRs (several files are accumulated on one phantom).
``skindose phantoms``
    List the built-in phantoms, or export one as a mesh file.

Exit codes
----------
0 success; 2 bad input or bad settings (one line on stderr, checked before any long
computation, including that ``--out`` can be written); 3 computed and the peak skin dose is at or
above the 3 Gy substantial radiation dose level (SRDL, NCRP Report 168), so that scripts can
alert; 4 computed (or read, for ``inspect``), but a ``critical`` note says the result may be
incomplete or wrong (3 wins over 4; the output explains both); 130 / 143 interrupted by SIGINT /
SIGTERM (one line on stderr, no partial output left; ``batch`` says which finished rows are on
disk); 1 an internal error (a bug: one line, the
traceback with ``SKINDOSE_DEBUG=1``).

Output folders are written to a hidden temporary folder beside the target and moved into place
only when complete, so an interrupted or failed run never leaves a half-written report.

Subcommands of other modules
----------------------------
A module adds a subcommand with ``def register(subparsers) -> None`` that calls
``subparsers.add_parser(...)`` and ``parser.set_defaults(func=handler)`` where
``handler(args) -> int`` returns the exit code. Its one hook line goes into
:func:`_register_subcommands`.
"""

from __future__ import annotations

import argparse
import codecs
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from skindose.dicom_out.cli import add_compute_arguments, after_compute, inspect_prdsr
from skindose.errors import ConfigurationError, SkinDoseError
from skindose.settings import CLINICAL_LEVELS

__all__ = ["main"]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_ABOVE_SRDL = 3
EXIT_CRITICAL = 4
EXIT_SIGINT = 128 + signal.SIGINT  # 130
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143
NO_PARTIAL_OUTPUT = "no partial output left"
SRDL_GY = CLINICAL_LEVELS.psd_gy  # NCRP Report 168 substantial radiation dose level (PSD)

#: Plausible option ranges (inclusive). Height and mass: the range the adult phantom scales to
#: (skindose.phantoms.adult refuses anything outside it).
HEIGHT_RANGE_M = (0.3, 2.8)
MASS_RANGE_KG = (1.0, 500.0)
EVENTS_RANGE = (1, 100_000)
#: Mesh formats ``phantoms --export`` writes (trimesh exporters that need no extra package and
#: write one file) and ``--phantom FILE`` reads.
EXPORT_FORMATS = ("stl", "ply", "obj", "off", "glb")
LOAD_FORMATS = ("stl", "ply", "obj", "off", "glb", "gltf")

_EXIT_HELP = ("exit codes: 0 ok, 2 bad input or settings, 3 peak skin dose >= 3 Gy (NCRP 168 "
              "SRDL), 4 a critical note: the result may be incomplete, 130/143 interrupted")

_EPILOG = f"""\
examples:
  skindose demo                              run the bundled example, write ./skindose-demo/
  skindose inspect exam.dcm                  what the RDSR contains (add --json for machines)
  skindose compute exam.dcm --out report/    skin dose map, figures, HTML report
  skindose compute day1.dcm day2.dcm         staged procedure: doses accumulated on one phantom
  skindose phantoms --export adult adult.stl

{_EXIT_HELP}
"""


# --- argument parsing -------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of a usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _ranged(kind: type, lo: float, hi: float, what: str, unit: str = "") -> Callable[[str], Any]:
    """An argparse ``type`` that accepts only finite numbers of ``kind`` within [lo, hi]."""
    u = f" {unit}" if unit else ""

    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        if not (math.isfinite(v) and lo <= v <= hi):
            raise argparse.ArgumentTypeError(
                f"{text} is not a plausible {what}: give {lo:g}–{hi:g}{u}")
        return v

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def _cell_area(text: str) -> float:
    from skindose.settings import CELL_AREA_RANGE_CM2

    lo, hi = CELL_AREA_RANGE_CM2
    return _ranged(float, lo, hi, "cell area", "cm²")(text)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="skindose",
        description="Peak skin dose maps from DICOM X-Ray Radiation Dose SRs (RDSR).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from skindose import __version__

    p.add_argument("--version", action="version", version=f"skindose {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("demo", help="run the bundled synthetic example end to end",
                       description="Build a synthetic 200-event cardiac procedure, compute its "
                       "skin dose on the default adult phantom and write a report folder.",
                       epilog=_EXIT_HELP)
    d.add_argument("--out", type=Path, default=Path("skindose-demo"),
                   help="report folder (default: ./skindose-demo)")
    d.add_argument("--events", type=_ranged(int, *EVENTS_RANGE, "number of events"), default=200,
                   help="number of synthetic events")
    d.set_defaults(func=_demo)

    i = sub.add_parser("inspect", help="show what an RDSR contains (fast, no dose computation)",
                       description="Device, patient, reference point, totals per plane (reported "
                       "vs sum of events), a table of events and every note.",
                       epilog="exit codes: 0 ok, 2 bad input, 4 a critical note (the file may be "
                       "incomplete), 130/143 interrupted")
    i.add_argument("files", nargs="+", type=Path, metavar="FILE")
    i.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    i.set_defaults(func=_inspect)

    c = sub.add_parser("compute", help="compute the skin dose map of one patient's RDSRs",
                       description="Compute the skin dose map. Several files of one patient are "
                       "accumulated on one phantom (staged procedures).",
                       epilog=_EXIT_HELP)
    c.add_argument("files", nargs="+", type=Path, metavar="FILE")
    c.add_argument("--phantom", default="adult",
                   help="adult | cylinder | plane | path to a mesh file (default: adult, "
                   "scaled to the patient's height and mass when the RDSR gives them)")
    c.add_argument("--height-m", type=_ranged(float, *HEIGHT_RANGE_M, "height", "m"),
                   help="patient height in m (overrides the RDSR)")
    c.add_argument("--mass-kg", type=_ranged(float, *MASS_RANGE_KG, "mass", "kg"),
                   help="patient mass in kg (overrides the RDSR)")
    c.add_argument("--settings", type=Path, metavar="FILE.toml",
                   help="settings file (see skindose.Settings for the keys)")
    c.add_argument("--out", type=Path, help="write summary.json, dose map (.ply, .npz), "
                   "figures and report.html into this folder")
    c.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    c.add_argument("--same-patient", action="store_true",
                   help="add the files even though their patient identities differ (you vouch "
                   "that they are one patient); without it different patients exit 2")
    c.add_argument("--uncertainty", action="store_true",
                   help="also compute the PSD's 95 %% interval (skindose.uncertainty; about 7 "
                   "computes)")
    c.add_argument("--pdf", action="store_true", help="also print report.html to report.pdf "
                   "with headless Chromium (needs --out)")
    c.add_argument("--anonymize", action="store_true", help="remove patient identifiers, "
                   "institution, UIDs, dates and file names from every output")
    add_compute_arguments(c)  # --dicom-out, --send (skindose.dicom_out)
    c.set_defaults(func=_compute)

    ph = sub.add_parser("phantoms", help="list the built-in phantoms or export one")
    ph.add_argument("--export", nargs=2, metavar=("NAME", "FILE"),
                    help="write phantom NAME as a mesh file (format from the extension: "
                    f"{', '.join(EXPORT_FORMATS)})")
    ph.add_argument("--cell-area-cm2", type=_cell_area, default=1.0)
    ph.set_defaults(func=_phantoms)

    _register_subcommands(sub)
    return p


def _register_subcommands(sub: Any) -> None:
    """Subcommands that live in other modules: ONE import + call line each, e.g.
    ``from skindose.node import register as _r; _r(sub)``."""
    # --- subcommand hooks (keep one line each) ---
    __import__("skindose.node.cli", fromlist=["register"]).register(sub)  # serve, registry
    __import__("skindose.batch.cli", fromlist=["register"]).register(sub)  # skindose batch


# --- the run: signals, broken pipes, terminals that cannot print Unicode ------------------------


class _Run:
    """Process-wide state of one CLI run: temporary folders to remove when interrupted."""

    def __init__(self) -> None:
        self.temp_dirs: list[Path] = []
        #: held while finished outputs are moved into place; a signal waits for it
        self.commit_lock = threading.Lock()
        self.rc: int | None = None  # the exit code, once known (kept when stdout is closed)
        #: what an interrupt leaves behind, said in its one line (a command that writes as it
        #: goes, like ``batch``, says what is on disk)
        self.interrupt_note = NO_PARTIAL_OUTPUT


_RUN = _Run()

#: the last words of an interrupt's one line, per command that writes as it goes (default:
#: :data:`NO_PARTIAL_OUTPUT`). ``batch`` appends one row per finished file to results.csv and
#: writes results.parquet only at the end; a worker may be half-way through a report folder.
_INTERRUPT_NOTES = {
    "batch": ("the rows of the files finished so far (if any) are in {out}/results.csv "
              "(results.parquet is not updated; with --reports, a report of a file without a row "
              "may be incomplete); run again with --resume to compute the rest"),
}

_ASCII = {"≥": ">=", "≤": "<=", "Σ": "sum", "·": "*", "²": "2", "–": "-", "—": "-",
          "→": "->", "×": "x", "±": "+/-", "μ": "u", "°": " deg", "’": "'"}


def _ascii_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(_ASCII.get(ch, "?") for ch in bad), exc.end


codecs.register_error("skindose-ascii", _ascii_fallback)


def _robust_streams() -> None:
    """Text on a terminal that cannot encode it: spell it in ASCII, never raise."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        try:
            reconfigure(errors="skindose-ascii")
        except (ValueError, OSError):  # pragma: no cover - detached or closed stream
            pass


def _die(signum: int) -> None:
    """Remove what is half written, say one line and leave at once (exit 128 + signum).

    ``os._exit`` leaves without unwinding Python or joining Numba's worker threads, which is
    what makes an interrupt inside a parallel kernel end cleanly instead of in a segfault.
    """
    _remove_temp_dirs()
    name = signal.Signals(signum).name
    try:
        os.write(2, f"skindose: interrupted by {name}; {_RUN.interrupt_note}\n".encode())
    except OSError:
        pass
    os._exit(128 + signum)


def _remove_temp_dirs() -> None:
    for d in list(_RUN.temp_dirs):
        for _ in range(2):  # twice: a worker thread may have re-created it meanwhile
            if d.is_file() or d.is_symlink():
                d.unlink(missing_ok=True)
                continue
            trash = d.with_name(d.name + ".del")
            try:
                os.replace(d, trash)
            except OSError:
                trash = d
            shutil.rmtree(trash, ignore_errors=True)


def _on_signal(signum: int, frame: Any) -> None:
    _RUN.commit_lock.acquire()  # outputs being moved into place: let that finish first
    _die(signum)


def _install_signal_handlers() -> dict[int, Any] | None:
    if threading.current_thread() is not threading.main_thread():
        return None  # embedded in a thread: signals are the host's business
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is signal.SIG_IGN:
            continue  # ignored by whoever started us (nohup, a background job): keep it so
        old[sig] = signal.signal(sig, _on_signal)
    return old


def _restore_signal_handlers(old: dict[int, Any] | None) -> None:
    for sig, handler in (old or {}).items():
        signal.signal(sig, handler)


def _in_worker(fn: Callable[[], int]) -> int:
    """Run ``fn`` in a worker thread while the main thread stays free to handle signals.

    Python runs signal handlers in the main thread only, between bytecodes; a Numba kernel or a
    long NumPy call in the main thread would delay Ctrl-C until it returns.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["rc"] = fn()
        except BaseException as exc:  # handed to the main thread
            box["exc"] = exc

    t = threading.Thread(target=target, name="skindose-run", daemon=True)
    t.start()
    while t.is_alive():
        t.join(0.1)
    if "exc" in box:
        raise box["exc"]
    return int(box["rc"])


def _silence_stdout() -> None:
    """After the reader of stdout has gone (``| head``): drop further output quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # pragma: no cover - no file descriptor (captured stdout)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    As the program (``argv`` None, on the main thread: the ``skindose`` command, see
    :mod:`_skindose_launch`) it does not return: it ends the process with the exit code.
    """
    old = _install_signal_handlers()
    program = argv is None and old is not None
    _RUN.rc = None
    _RUN.interrupt_note = NO_PARTIAL_OUTPUT
    try:
        _robust_streams()
        rc = _main(argv, threaded=old is not None)
    except KeyboardInterrupt:  # before the handlers were installed, or embedded in a thread
        _remove_temp_dirs()
        print(f"skindose: interrupted by SIGINT; {_RUN.interrupt_note}", file=sys.stderr)
        rc = EXIT_SIGINT
    except BrokenPipeError:
        _silence_stdout()
        rc = _RUN.rc if _RUN.rc is not None else EXIT_OK
    finally:
        if argv is not None:  # called in-process (tests, embedding): give the handlers back;
            _restore_signal_handlers(old)  # as the program, keep them until the process ends
    if program:  # leave now, see _leave
        _leave(rc)
    return rc


def _leave(rc: int) -> None:
    """Flush and end the process at once with ``rc``.

    Python's shutdown puts the default signal dispositions back and then tears down Numba's
    threads; a Ctrl-C in that last moment would kill the process by the signal (or worse)
    after a complete run. Every output file is closed by now; only the streams need flushing.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):  # nothing left to clean up: just leave
        if signal.getsignal(sig) is _on_signal:
            signal.signal(sig, _die_quietly)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # the reader of stdout has gone: nothing to flush to
            pass
    os._exit(rc)


def _die_quietly(signum: int, frame: Any) -> None:
    _die(signum)  # without waiting for the commit lock: no commit can be running now


def _main(argv: Sequence[str] | None, *, threaded: bool) -> int:
    import warnings

    from skindose.errors import SkinDoseWarning

    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors (already printed)
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_BAD_INPUT
    # every warning is printed in the command's own output (or JSON); no Python warning noise
    warnings.simplefilter("ignore", SkinDoseWarning)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_OK
    if args.command in _INTERRUPT_NOTES:
        _RUN.interrupt_note = _INTERRUPT_NOTES[args.command].format(**vars(args))
    if args.command == "batch":
        _quiet_resource_tracker()
    main_thread = threading.current_thread() is threading.main_thread()
    if getattr(args, "own_signals", False) and main_thread:
        # a long-running command that handles SIGINT/SIGTERM itself (skindose serve finishes
        # its current writes): hand the signals back and run it on the main thread
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        threaded = False
    try:
        return _in_worker(lambda: func(args)) if threaded else func(args)
    except SkinDoseError as exc:
        _error_line(str(exc))
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        raise
    except OSError as exc:  # an output that cannot be written (disk full, permissions)
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        _error_line(f"cannot write {where}{exc.strerror or exc}")
        return EXIT_BAD_INPUT
    except Exception as exc:
        if os.environ.get("SKINDOSE_DEBUG"):
            raise
        _error_line(f"internal error ({type(exc).__name__}: {exc}); this is a bug in skindose, "
                    "please report it (SKINDOSE_DEBUG=1 shows the traceback)", prefix="")
        return EXIT_INTERNAL


def _quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with its stderr on /dev/null.

    ``batch`` starts worker processes; when an interrupt ends the process at once
    (``os._exit``), the tracker removes the semaphores they shared and warns about "leaked
    semaphore objects" on stderr: two lines of noise after the interrupt's one line. Started
    here first, with file descriptor 2 pointing at /dev/null for that moment, it still cleans up,
    silently.
    """
    try:
        from multiprocessing import resource_tracker

        saved = os.dup(2)
    except (ImportError, OSError):  # pragma: no cover - no multiprocessing or no stderr
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            resource_tracker.ensure_running()
        finally:
            os.dup2(saved, 2)
            os.close(devnull)
    except OSError:  # pragma: no cover - then the tracker starts later, as it would anyway
        pass
    finally:
        os.close(saved)


def _error_line(message: str, *, prefix: str = "error: ") -> None:
    text = " ".join(str(message).split())  # always one line
    print(f"skindose: {prefix}{text}", file=sys.stderr)


def _set_rc(rc: int) -> int:
    _RUN.rc = rc
    return rc


# --- notes and exit codes -----------------------------------------------------------------------


def _notes_of(obj: Any) -> list[Any]:
    """The typed notes of a procedure or result, most important first.

    Objects that carry only warning texts (before typed notes) give one warning note each.
    """
    from skindose.notes import Note, NoteCode, sort_notes

    notes = getattr(obj, "notes", None)
    if notes is None:
        notes = [Note(code=NoteCode.OTHER, text=str(w)) for w in getattr(obj, "warnings", ())]
    return sort_notes(notes)


def _is_critical(note: Any) -> bool:
    from skindose.notes import Severity

    return note.severity is Severity.CRITICAL


def _notes_text(notes: Iterable[Any], *, include_info: bool = False) -> list[str]:
    from skindose.notes import Severity

    lines: list[str] = []
    groups = [(Severity.CRITICAL, "CRITICAL: the result may be incomplete or wrong"),
              (Severity.WARNING, "warnings")]
    if include_info:
        groups.append((Severity.INFO, "notes"))
    notes = list(notes)
    for sev, title in groups:
        sel = [n for n in notes if n.severity is sev]
        if sel:
            lines.append(f"{title} ({len(sel)}):")
            lines.extend(f"  - {n}" for n in sel)
    return lines


def _exit_code(psd_gy: float | None, notes: Iterable[Any]) -> int:
    if psd_gy is not None and psd_gy >= SRDL_GY:
        return EXIT_ABOVE_SRDL
    if any(_is_critical(n) for n in notes):
        return EXIT_CRITICAL
    return EXIT_OK


def _exit_explanation(rc: int, notes: Iterable[Any]) -> str:
    n_crit = sum(1 for n in notes if _is_critical(n))
    crit = (f"; also {n_crit} critical note(s) say the result may be incomplete or wrong"
            if n_crit else "")
    if rc == EXIT_ABOVE_SRDL:
        return (f"exit 3: peak skin dose ≥ {SRDL_GY:g} Gy (NCRP 168 substantial radiation dose "
                f"level){crit}")
    if rc == EXIT_CRITICAL:
        return f"exit 4: {n_crit} critical note(s) say the result may be incomplete or wrong"
    return ""


# --- inspect ------------------------------------------------------------------------------------


def _fmt(v: Any, spec: str = "{:.4g}", none: str = "–") -> str:
    if v is None:
        return none
    if isinstance(v, float):
        return spec.format(v)
    return str(v)


def _totals_rows(proc) -> list[dict[str, Any]]:
    from skindose.rdsr import Plane

    rows = []
    single = len(proc.accumulated) <= 1
    for acc in proc.accumulated or ():
        plane = None if single else acc.plane
        rows.append({
            "plane": acc.plane.value,
            "kerma_rp_reported_gy": acc.kerma_rp_total_gy,
            "kerma_rp_events_gy": proc.event_sum("kerma_rp_gy", plane),
            "kap_reported_gym2": acc.kap_total_gym2,
            "kap_events_gym2": proc.event_sum("kap_gym2", plane),
            "n_events": sum(1 for e in proc.events if plane is None or e.plane is plane),
        })
    if not rows:
        rows.append({"plane": Plane.SINGLE.value, "kerma_rp_reported_gy": None,
                     "kerma_rp_events_gy": proc.event_sum("kerma_rp_gy"),
                     "kap_reported_gym2": None, "kap_events_gym2": proc.event_sum("kap_gym2"),
                     "n_events": proc.n_events})
    return rows


def _inspect(args) -> int:
    from skindose.rdsr import read_rdsr

    prdsr: list[Any] = []  # Patient Radiation Dose SRs: printed as what they say (dicom_out)
    files = [f for f in args.files if not inspect_prdsr(f, args.json, prdsr)]
    procs = [read_rdsr(f) for f in files]  # every file read before anything is printed
    notes = [n for p in procs for n in _notes_of(p)]
    rc = _set_rc(_exit_code(None, notes))
    if args.json:
        out = list(prdsr)
        for proc in procs:
            d = proc.to_dict()
            d["totals"] = _totals_rows(proc)
            out.append(d)
        json.dump(out if len(out) > 1 else out[0], sys.stdout, indent=2, allow_nan=False)
        print()
        if rc:
            print(f"skindose: {_exit_explanation(rc, notes)}", file=sys.stderr)
    else:
        for proc in procs:
            print(_inspect_text(proc))
        if rc:
            print(_exit_explanation(rc, notes))
    return rc


def _inspect_text(proc) -> str:
    lines = []
    dev, pat = proc.device, proc.patient
    lines.append(f"== {proc.source}")
    lines.append(f"device   : {dev.manufacturer or '?'} {dev.model or '?'}"
                 f" (serial {dev.serial or '?'}, software {dev.software or '?'})"
                 + (f", station {dev.station}" if dev.station else ""))
    lines.append(f"study    : {proc.study.date or '?'}  {proc.study.description}")
    lines.append(
        f"patient  : sex {pat.sex or '?'}, age {_fmt(pat.age_years, '{:.0f}')} y, "
        f"height {_fmt(pat.height_m, '{:.2f}')} m, mass {_fmt(pat.mass_kg, '{:.1f}')} kg, "
        f"orientation {pat.orientation.value if pat.orientation else 'not reported'} "
        f"({pat.orientation_source})")
    rp = proc.reference_point
    if rp is not None:
        lines.append(f"ref point: {rp.text!r} → {rp.kind.value}"
                     + (f", {rp.distance_mm:g} mm" if rp.distance_mm is not None else ""))
    else:
        lines.append("ref point: not defined in the file")
    srps = sorted({e.srp_mm for e in proc.events if e.srp_mm is not None})
    if srps:
        lines.append("           source–RP distance used: " + ", ".join(f"{s:g}" for s in srps)
                     + " mm")
    lines.append("totals   : plane   K_RP reported / Σ events (mGy)   KAP reported / Σ events "
                 "(Gy·cm²)   events")
    for r in _totals_rows(proc):
        k1 = r["kerma_rp_reported_gy"]
        k2 = r["kerma_rp_events_gy"]
        a1 = r["kap_reported_gym2"]
        a2 = r["kap_events_gym2"]
        lines.append(
            f"           {r['plane']:<7} {_fmt(k1 and k1 * 1e3):>10} / {_fmt(k2 * 1e3):<10}"
            f"        {_fmt(a1 and a1 * 1e4):>10} / {_fmt(a2 * 1e4):<10}  {r['n_events']}")
    lines.append("")
    hdr = (f"{'#':>4} {'time':8} {'type':5} {'pl':2} {'kVp':>5} {'Cu':>4} {'Al':>4} "
           f"{'prim':>6} {'sec':>6} {'SOD':>5} {'SID':>5} {'SRP':>5} {'tLong':>7} {'tLat':>7} "
           f"{'tHgt':>6} {'field mm':>11} {'K_RP mGy':>9} {'KAP Gy·cm²':>10}  notes")
    lines.append(hdr)
    short = {"fluoroscopy": "fluor", "stationary acquisition": "acq",
             "stepping acquisition": "step", "rotational acquisition": "rot", "unknown": "?"}
    for e in proc.events:
        fld = e.field_at_detector_mm
        notes = []
        if e.unusable:
            notes.append(f"UNUSABLE: {e.unusable}")
        if e.assumed:
            notes.append("assumed: " + ",".join(sorted(e.assumed)))
        lines.append(
            f"{e.index + 1:>4} {e.started.strftime('%H:%M:%S') if e.started else '–':8} "
            f"{short.get(e.event_type.value, '?'):5} {e.plane.value[:2]:2} "
            f"{_fmt(e.kvp, '{:.0f}'):>5} "
            f"{e.cu_mm:>4.1f} {e.al_mm:>4.1f} {_fmt(e.primary_angle_deg, '{:.1f}'):>6} "
            f"{_fmt(e.secondary_angle_deg, '{:.1f}'):>6} {_fmt(e.sod_mm, '{:.0f}'):>5} "
            f"{_fmt(e.sid_mm, '{:.0f}'):>5} {_fmt(e.srp_mm, '{:.0f}'):>5} "
            f"{_fmt(e.table_longitudinal_mm, '{:.1f}'):>7} {_fmt(e.table_lateral_mm, '{:.1f}'):>7}"
            f" {_fmt(e.table_height_mm, '{:.0f}'):>6} "
            f"{(f'{fld[0]:.0f}x{fld[1]:.0f}' if fld else '–'):>11} "
            f"{_fmt(e.kerma_rp_gy and e.kerma_rp_gy * 1e3, '{:.3g}'):>9} "
            f"{_fmt(e.kap_gym2 and e.kap_gym2 * 1e4, '{:.3g}'):>10}  {'; '.join(notes)}")
    note_lines = _notes_text(_notes_of(proc), include_info=True)
    if note_lines:
        lines.append("")
        lines.extend(note_lines)
    return "\n".join(lines)


# --- output folders -----------------------------------------------------------------------------


class _OutputFolder:
    """A report folder written in a temporary folder beside ``target`` and moved into place whole.

    Created before any long work: that an output folder cannot be written is then known at once
    (exit 2), not after the computation. Files of an earlier report in ``target`` that the new
    run does not write are removed, so the folder never mixes two runs.
    """

    #: names skindose writes into a report folder (stale ones are removed on commit; never a
    #: .dcm: the input may live in the report folder)
    KNOWN = ("summary.json", "report.html", "dose_map.ply", "dose_map.npz")

    def __init__(self, target: Path, option: str = "--out") -> None:
        self.target = target
        if target.exists() and not target.is_dir():
            raise ConfigurationError(f"{option} {target}: exists and is not a folder")
        parent = target.absolute().parent
        ancestor = parent
        while not ancestor.exists():
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise ConfigurationError(f"{option} {target}: {ancestor} is not a folder")
        self._created: list[Path] = []
        try:
            missing = []
            p = parent
            while not p.exists():
                missing.append(p)
                p = p.parent
            for m in reversed(missing):
                m.mkdir()
                self._created.append(m)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{target.name or 'out'}.partial-",
                                             dir=parent))
        except OSError as exc:
            self._remove_created()
            raise ConfigurationError(
                f"{option} {target}: cannot write there ({exc.strerror or exc})") from None
        _RUN.temp_dirs.append(self.tmp)

    def _remove_created(self) -> None:
        for m in reversed(self._created):
            try:
                m.rmdir()
            except OSError:
                pass

    def commit(self) -> None:
        """Move the finished outputs into place (a signal waits until this is done)."""
        with _RUN.commit_lock:
            if not self.target.exists():
                os.replace(self.tmp, self.target)
            else:
                new = {p.name for p in self.tmp.iterdir()}
                for old in self.target.iterdir():
                    stale = old.name in self.KNOWN or (old.suffix == ".png" and old.is_file())
                    if stale and old.name not in new:
                        old.unlink()
                for name in sorted(new):
                    os.replace(self.tmp / name, self.target / name)
                self.tmp.rmdir()
            _RUN.temp_dirs.remove(self.tmp)

    def discard(self) -> None:
        if self.tmp in _RUN.temp_dirs:
            shutil.rmtree(self.tmp, ignore_errors=True)
            _RUN.temp_dirs.remove(self.tmp)
            self._remove_created()


def _with_output(target: Path | None, work: Callable[[Path | None], int],
                 option: str = "--out") -> int:
    if target is None:
        return work(None)
    out = _OutputFolder(target, option)
    try:
        rc = work(out.tmp)
        out.commit()
        return rc
    finally:
        out.discard()


# --- compute ------------------------------------------------------------------------------------


def _check_phantom_name(name: str) -> None:
    from skindose import phantoms

    builtin = [n for n, _ in phantoms.available()]
    if name in builtin:
        return
    p = Path(name)
    ext = p.suffix.lower().lstrip(".")
    if ext in LOAD_FORMATS:
        if not p.is_file():
            raise ConfigurationError(f"--phantom {name}: mesh file not found")
        return
    raise ConfigurationError(
        f"--phantom {name!r}: not a built-in phantom (use one of {', '.join(builtin)}) nor a "
        f"mesh file ({', '.join('.' + e for e in LOAD_FORMATS)})")


def _load_phantom(name: str, height_m, mass_kg, cell_area_cm2: float):
    from skindose import phantoms

    if name == "adult":
        return phantoms.adult(height_m=height_m, mass_kg=mass_kg, cell_area_cm2=cell_area_cm2)
    if name in ("cylinder", "plane"):
        return phantoms.by_name(name, cell_area_cm2=cell_area_cm2)
    return phantoms.load(name, cell_area_cm2=cell_area_cm2)


def _preload_for_compute(figures: bool = True) -> None:
    """Import everything a run needs before the long work starts (a missing package or a
    broken installation is then reported at once, and nothing is imported mid-run);
    ``figures``: the report and the DICOM image (matplotlib) too."""
    import skindose.compute
    import skindose.kernel
    import skindose.phantoms

    if figures:
        import skindose.plotting as plotting
        import skindose.report  # noqa: F401

        plotting._pyplot()


def _run_compute(procs, phantom_name, height_m, mass_kg, settings, progress, *,
                 same_patient=False):
    from skindose import compute
    from skindose._startup import announce_compilation

    announce_compilation()  # one line on stderr (a terminal) when the kernel compiles
    if phantom_name == "adult" and height_m is None and mass_kg is None:
        # compute picks the adult variant (arms, sex) and size from the RDSR, with notes
        return compute(procs, None, settings=settings, progress=progress,
                       same_patient=same_patient)
    height = height_m or next((p.patient.height_m for p in procs if p.patient.height_m), None)
    mass = mass_kg or next((p.patient.mass_kg for p in procs if p.patient.mass_kg), None)
    phantom = _load_phantom(phantom_name, height, mass, settings.cell_area_cm2)
    return compute(procs, phantom, settings=settings, progress=progress,
                   same_patient=same_patient)


def _headline(result) -> str:
    s = result.summary()
    loc = s["psd_location"]
    lines = []
    if result.is_reference_point_estimate:
        lines.append(f"reference-point estimate (no map: geometry not available): "
                     f"{_gy(result.psd_gy)} (Σ K_RP × BSF × f × C_cal, no table attenuation: "
                     "an upper bound)")
    else:
        lines.append(f"PSD {_gy(result.psd_gy)} (max cell); "
                     f"{_gy(s.get('psd_1cm2_gy'))} averaged over 1 cm², "
                     f"{_gy(s.get('psd_10cm2_gy'))} over 10 cm²")
        if loc:
            lines.append(f"  at {loc['label']}")
        for t, a in s["areas_above_m2"].items():
            lines.append(f"  area ≥ {t} Gy: {_fmt(a and a * 1e4, '{:.1f}')} cm²")
    tot = s["reference_totals"].get("total", {})
    if tot:
        k = tot.get("kerma_rp_gy")
        kap = tot.get("kap_gym2")
        lines.append(f"  Σ K_RP {_gy(k)}, Σ KAP {kap * 1e4:.4g} Gy·cm²" if k is not None and kap
                     is not None else "")
    if result.psd_gy is not None and result.psd_gy >= SRDL_GY:
        lines.append(f"  ALERT: peak skin dose ≥ {SRDL_GY:g} Gy (NCRP 168 substantial radiation "
                     "dose level): patient follow-up is indicated")
    return "\n".join(x for x in lines if x)


def _gy(v) -> str:
    if v is None:
        return "–"
    return f"{v:.3g} Gy" if v >= 0.1 else f"{v * 1e3:.3g} mGy"


def _load_settings(path: Path | None):
    from skindose.settings import Settings

    return Settings.from_toml(path) if path else Settings()


def _report_result(result, args, out_path: Path | None, *, json_out: bool) -> int:
    """Print the headline (or JSON), every critical and warning note; the exit code."""
    notes = _notes_of(result)
    rc = _set_rc(_exit_code(result.psd_gy, notes))
    explanation = _exit_explanation(rc, notes)
    if json_out:
        json.dump(result.summary(), sys.stdout, indent=2, allow_nan=False)
        print()
        if explanation:
            print(f"skindose: {explanation}", file=sys.stderr)
        return rc
    print(_headline(result))
    lines = _notes_text(notes)
    if lines:
        print()
        print("\n".join(lines))
    if out_path is not None:
        print(f"report: {(out_path / 'report.html').resolve()}")
    if explanation:
        print(explanation)
    return rc


def _compute(args) -> int:
    from skindose.rdsr import read_rdsr
    from skindose.rdsr.reader import progress_line

    # everything that can be wrong with the options is found before any long work
    settings = _load_settings(args.settings)
    if args.uncertainty:
        settings = settings.replace(uncertainty=True)
    _check_phantom_name(args.phantom)
    if args.pdf and args.out is None:
        raise ConfigurationError("--pdf needs --out (the folder the report is written to)")
    from skindose.report import apply_anonymize, pdf_for_cli  # --anonymize, --pdf (report)

    holder: dict[str, Any] = {}

    def work(tmp: Path | None) -> int:
        _preload_for_compute(figures=tmp is not None or bool(getattr(args, "dicom_out", None))
                             or bool(getattr(args, "send", None)))
        progress = (not args.json) and sys.stderr.isatty()
        procs = [read_rdsr(f, progress=progress_line(f) if progress else None)
                 for f in args.files]
        result = _run_compute(procs, args.phantom, args.height_m, args.mass_kg, settings,
                              progress, same_patient=args.same_patient)
        result = apply_anonymize(result, args.anonymize or None)
        if tmp is not None:
            result.save(tmp)
            pdf_for_cli(tmp, args.pdf)
        holder["result"], holder["procs"] = result, procs
        return _set_rc(_exit_code(result.psd_gy, _notes_of(result)))

    _with_output(args.out, work)
    after_compute(args, holder["result"], holder["procs"])  # --dicom-out / --send (dicom_out)
    # printed only once the report folder is in place
    return _report_result(holder["result"], args, args.out, json_out=args.json)


# --- demo ---------------------------------------------------------------------------------------


def _demo(args) -> int:
    from skindose.rdsr import read_rdsr
    from skindose.rdsr.synthetic import example_procedure, write_rdsr

    settings = _load_settings(None)
    out: Path = args.out
    holder: dict[str, Any] = {}

    def work(tmp: Path | None) -> int:
        assert tmp is not None
        _preload_for_compute()
        rdsr_path = write_rdsr(example_procedure(n_events=args.events), tmp / "demo_rdsr.dcm")
        proc = read_rdsr(rdsr_path)
        result = _run_compute([proc], "adult", None, None, settings, sys.stderr.isatty())
        result.save(tmp)
        holder["proc"], holder["result"] = proc, result
        return _set_rc(_exit_code(result.psd_gy, _notes_of(result)))

    _with_output(out, work)
    print(f"skindose demo: synthetic {args.events}-event cardiac RDSR written to "
          f"{out / 'demo_rdsr.dcm'}")
    import dataclasses

    shown = dataclasses.replace(holder["proc"], source=str(out / "demo_rdsr.dcm"))  # final path
    print(_inspect_text(shown).split("\n\n")[0])
    print()
    rc = _report_result(holder["result"], args, None, json_out=False)
    print(f"report folder: {out.resolve()}")
    print(f"open {(out / 'report.html').resolve()} in a browser")
    return rc


# --- phantoms -----------------------------------------------------------------------------------


def _phantoms(args) -> int:
    from skindose import phantoms

    if args.export:
        name, path_text = args.export
        path = Path(path_text)
        builtin = [n for n, _ in phantoms.available()]
        if name not in builtin:
            raise ConfigurationError(
                f"--export {name!r}: not a built-in phantom (use one of {', '.join(builtin)})")
        ext = path.suffix.lower().lstrip(".")
        if ext not in EXPORT_FORMATS:
            raise ConfigurationError(
                f"--export {path}: unknown mesh format {path.suffix or '(no extension)'!r}; "
                f"use one of {', '.join('.' + e for e in EXPORT_FORMATS)}")
        folder = path.absolute().parent
        if not folder.is_dir():
            raise ConfigurationError(f"--export {path}: folder {folder} does not exist")
        if path.is_dir():
            raise ConfigurationError(f"--export {path}: is a folder, not a file name")
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.partial-", suffix=path.suffix,
                                            dir=folder)
            os.close(fd)
        except OSError as exc:
            raise ConfigurationError(
                f"--export {path}: cannot write there ({exc.strerror or exc})") from None
        tmp = Path(tmp_name)
        _RUN.temp_dirs.append(tmp)
        try:
            ph = phantoms.by_name(name, cell_area_cm2=args.cell_area_cm2)
            ph.export(tmp, file_type=ext)
            with _RUN.commit_lock:
                os.replace(tmp, path)
                _RUN.temp_dirs.remove(tmp)
        finally:
            if tmp in _RUN.temp_dirs:
                tmp.unlink(missing_ok=True)
                _RUN.temp_dirs.remove(tmp)
        print(f"wrote {name} ({ph.n_cells} cells) to {path}")
        return EXIT_OK
    for name, desc in phantoms.available():
        print(f"{name:10} {desc}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
