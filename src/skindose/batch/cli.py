"""The ``skindose batch`` subcommand (registered by :func:`register`)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

__all__ = ["main", "register"]

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_ABOVE_SRDL = 3
EXIT_CRITICAL = 4
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

_EPILOG = """\
examples:
  skindose batch /archive/2025 --out audit/                 every file, one row each
  skindose batch '/archive/**/*.dcm' --out audit/ --workers 4
  skindose batch /archive --out audit/ --resume             after Ctrl-C: only what is missing
  skindose batch /archive --out audit/ --scheduler tcp://10.0.0.5:8786
  skindose batch /archive --out audit/ --by-patient --anonymize

output: OUT/results.csv (one line per finished file, written as it finishes),
OUT/results.parquet, OUT/reports/ (--reports), OUT/patients.csv/.parquet (--by-patient)

exit codes: 0 ok (bad files are rows, not failures), 2 bad arguments or settings,
3 some PSD >= 3 Gy (NCRP 168 SRDL), 4 some result has a critical note, 130/143 interrupted
"""


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C."""


def register(subparsers: Any) -> None:
    """Add the ``batch`` subcommand to the ``skindose`` parser's subparsers."""
    b = subparsers.add_parser(
        "batch", help="compute every RDSR of an archive on its own: one row per file",
        description="Classify every file under PATH (files, folders recursively, globs) and "
        "compute each X-ray RDSR on its own, on this machine's cores or on a Dask cluster. "
        "Needs the extra: pip install 'skindose[batch]'.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("paths", nargs="+", metavar="PATH")
    b.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    b.add_argument("--workers", type=int, metavar="N",
                   help="worker processes on this machine (default: one per CPU core)")
    b.add_argument("--scheduler", metavar="ADDRESS",
                   help="use an existing Dask cluster (tcp://HOST:PORT) instead; its workers "
                   "must see the files and OUT at the same paths")
    b.add_argument("--settings", type=Path, metavar="FILE.toml",
                   help="settings file (see skindose.Settings for the keys)")
    b.add_argument("--phantom", default="adult",
                   help="adult | cylinder | plane | path to a mesh file (default: adult, scaled "
                   "to each patient as 'skindose compute' does)")
    b.add_argument("--reports", action="store_true",
                   help="also write a report folder per file into OUT/reports/")
    b.add_argument("--resume", action="store_true",
                   help="keep OUT's rows whose file has the same checksum; compute the rest")
    b.add_argument("--overwrite", action="store_true",
                   help="replace the results already in OUT")
    b.add_argument("--anonymize", action="store_true",
                   help="patients as pseudonyms (key kept in OUT/pseudonym.key)")
    b.add_argument("--by-patient", action="store_true",
                   help="also write OUT/patients.csv: cumulative PSD per patient over a window")
    b.add_argument("--window-days", type=float, default=365.0, metavar="DAYS",
                   help="window of the cumulative PSD (default 365: The Joint Commission's "
                   "6-12 months)")
    b.add_argument("--memory-limit", default="4GiB",
                   help="per worker of the local cluster (default 4GiB; 'none' for no limit)")
    b.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    b.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run ``skindose batch`` from parsed arguments; returns the exit code."""
    from skindose.batch._run import run_batch
    from skindose.errors import ConfigurationError, SkinDoseError
    from skindose.settings import Settings

    terminated: list[bool] = []

    def on_term(signum: int, frame: Any) -> None:
        terminated.append(True)
        raise _Terminated()

    try:
        old_term = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        old_term = None
    try:
        if args.workers is not None and args.workers < 1:
            raise ConfigurationError(f"--workers must be at least 1, not {args.workers}")
        if args.window_days <= 0:
            raise ConfigurationError("--window-days must be positive")
        settings = Settings.from_toml(args.settings) if args.settings else Settings()
        mem = None if str(args.memory_limit).lower() == "none" else args.memory_limit
        summary = run_batch(
            args.paths, args.out, settings=settings, phantom=args.phantom,
            workers=args.workers, scheduler=args.scheduler, reports=args.reports,
            resume=args.resume, overwrite=args.overwrite, anonymize=args.anonymize,
            by_patient=args.by_patient, window_days=args.window_days, memory_limit=mem,
            progress=False if args.no_progress else None)
    except _Terminated:
        print("skindose batch: terminated", file=sys.stderr)
        return EXIT_SIGTERM
    except SkinDoseError as exc:
        print(f"skindose: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(summary.counts.items()))
    print(f"{summary.n_files} file(s): {counts or 'nothing new'}"
          + (f"; {summary.n_resumed} kept from the earlier run" if summary.n_resumed else "")
          + f"; {summary.seconds:.1f} s")
    print(f"results: {summary.results_csv}  {summary.results_parquet}")
    if summary.n_patients is not None:
        print(f"patients: {summary.n_patients} in {args.out / 'patients.csv'}")
    if summary.n_alerts:
        print(f"ALERT: {summary.n_alerts} file(s) with peak skin dose >= 3 Gy (NCRP 168 "
              "substantial radiation dose level): see alert_srdl in the results")
    if summary.interrupted:
        print(f"interrupted: {summary.n_written} row(s) of this run are on disk; run again with "
              "--resume to compute the rest", file=sys.stderr)
        return EXIT_SIGTERM if terminated else EXIT_SIGINT
    if summary.n_alerts:
        return EXIT_ABOVE_SRDL
    if summary.n_critical:
        return EXIT_CRITICAL
    return EXIT_OK
