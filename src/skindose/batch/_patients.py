"""The per-patient table: each patient's procedures and the cumulative PSD over a window.

For each patient (the ``patient`` column: Patient ID, ``skindose.accumulate.patient_key`` once
that is merged, or its pseudonym), the computed procedures with a study date are sorted by date.
A window of ``window_days`` ending at each procedure holds the procedures of the preceding
``window_days`` days; the doses of a window's procedures are added on one phantom
(``skindose.accumulate.merge_procedures``, then ``compute(..., same_patient=True)``) and the
table reports the largest cumulative PSD over all windows. Only maximal windows are computed:
adding a procedure never lowers any cell's dose, so a window inside another cannot have a larger
PSD. Default window 365 days: The Joint Commission counts a cumulative peak skin dose above
15 Gy to a single field over 6–12 months as a sentinel event (Sentinel Event Policy, "prolonged
fluoroscopy"); the row flags it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from skindose.batch._table import iter_rows

__all__ = ["PATIENT_COLUMNS", "accumulate_window", "maximal_windows", "patients_table"]

#: The Joint Commission sentinel-event level for cumulative peak skin dose (Gy)
SENTINEL_GY = 15.0
SRDL_GY = 3.0

PATIENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("patient", "str"),
    ("n_procedures", "int"),
    ("n_undated", "int"),
    ("first_date", "str"),
    ("last_date", "str"),
    ("max_single_psd_gy", "float"),
    ("window_days", "float"),
    ("cumulative_psd_gy", "float"),
    ("cumulative_psd_location", "str"),
    ("window_start", "str"),
    ("window_end", "str"),
    ("n_in_window", "int"),
    ("paths_in_window", "str"),
    ("above_srdl", "bool"),
    ("above_15gy", "bool"),
    ("status", "str"),
    ("error", "str"),
)


def maximal_windows(dates: Sequence[dt.date], window_days: float) -> list[tuple[int, int]]:
    """Index ranges [i, j] (inclusive) of the maximal windows of ``window_days`` over sorted
    ``dates``: for each j, i is the first procedure within ``window_days`` before ``dates[j]``;
    a range inside another is left out."""
    out: list[tuple[int, int]] = []
    starts: list[int] = []
    i = 0
    for d in dates:
        while (d - dates[i]).days > window_days:
            i += 1
        starts.append(i)
    for j, i in enumerate(starts):
        if j == len(starts) - 1 or starts[j + 1] > i:
            out.append((i, j))
    return out


def accumulate_window(paths: Sequence[str], settings_dict: dict[str, Any], phantom: str
                      ) -> dict[str, Any]:
    """Cumulative PSD of the procedures in ``paths`` (one patient, in date order), on a worker.

    Returns ``{"psd_gy", "label", "error", "seconds"}``; never raises for bad input.
    """
    import warnings

    from skindose import compute
    from skindose.batch._worker import _phantom_for
    from skindose.errors import SkinDoseError, SkinDoseWarning
    from skindose.rdsr import read_rdsr
    from skindose.settings import Settings

    t0 = time.perf_counter()
    out: dict[str, Any] = {"psd_gy": None, "label": None, "error": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkinDoseWarning)
        try:
            s = Settings.from_dict(dict(settings_dict))
            procs = [read_rdsr(p) for p in paths]
            try:
                from skindose.accumulate import merge_procedures
            except ImportError:
                merge_procedures = None
            if merge_procedures is not None:
                procs, _notes = merge_procedures(procs)
            else:
                procs = _merge_fallback(procs)
            sized = next((p for p in procs
                          if p.patient.height_m is not None or p.patient.mass_kg is not None),
                         procs[0])
            ph = None if phantom == "adult" else _phantom_for(sized, phantom, s)
            kwargs: dict[str, Any] = {}
            if "same_patient" in inspect.signature(compute).parameters:
                kwargs["same_patient"] = True
            r = compute(procs, ph, settings=s, **kwargs)
            out["psd_gy"] = r.psd_gy
            loc = r.psd_location
            out["label"] = loc["label"] if loc else None
        except SkinDoseError as exc:
            out["error"] = str(exc)
        except Exception as exc:
            out["error"] = f"internal error ({type(exc).__name__}: {exc})"
    out["seconds"] = time.perf_counter() - t0
    return out


def _merge_fallback(procs: list[Any]) -> list[Any]:
    """Until ``skindose.accumulate.merge_procedures`` is there: a report whose Irradiation
    Event UIDs are all in another, larger report of the window is left out (superseded, or the
    same report twice); a partial overlap raises (never an event counted twice)."""
    from skindose.errors import SkinDoseError

    uids = [{e.uid for e in p.events if e.uid} for p in procs]
    keep = []
    for i, u in enumerate(uids):
        covered = False
        for j, v in enumerate(uids):
            if i == j or not (u & v):
                continue
            if u <= v and (len(u) < len(v) or j < i):
                covered = True  # superseded by j (or an identical earlier report)
                break
            if not (v <= u):
                raise SkinDoseError(
                    f"{procs[i].source} and {procs[j].source} share some Irradiation Event "
                    "UIDs but neither contains the other; not accumulated")
        if not covered:
            keep.append(procs[i])
    return keep


@dataclasses.dataclass
class _Proc:
    date: dt.date | None
    path: str
    psd_gy: float
    label: str | None


def patients_table(csv_path: Path, columns: Sequence[tuple[str, str]], out_dir: Path, *,
                   settings: Any, phantom: str, window_days: float, client: Any) -> int:
    """Write ``patients.csv`` and ``patients.parquet`` from the results; returns the number of
    patients. Windows of several procedures are computed on ``client``'s workers."""
    from skindose.batch._table import Journal, csv_to_parquet

    latest: dict[str, dict[str, Any]] = {}
    for r in iter_rows(csv_path, columns):
        latest[r["path"]] = r  # the last row of a path wins
    groups: dict[str, list[_Proc]] = {}
    for r in latest.values():
        if r.get("status") != "ok" or not r.get("patient"):
            continue
        d = dt.date.fromisoformat(r["study_date"]) if r.get("study_date") else None
        groups.setdefault(r["patient"], []).append(
            _Proc(d, r["path"], float(r["psd_gy"] or 0.0), r.get("psd_location")))
    del latest

    jobs: list[tuple[str, tuple[int, int], Any]] = []
    plans: dict[str, tuple[list[_Proc], list[_Proc], list[tuple[int, int]]]] = {}
    sdict = settings.to_dict()
    for pat, procs in sorted(groups.items()):
        dated = sorted((p for p in procs if p.date is not None), key=lambda p: (p.date, p.path))
        undated = [p for p in procs if p.date is None]
        wins = maximal_windows([p.date for p in dated], window_days) if dated else []  # type: ignore[misc]
        plans[pat] = (dated, undated, wins)
        for w in wins:
            if w[1] > w[0]:
                paths = [p.path for p in dated[w[0]:w[1] + 1]]
                fut = client.submit(accumulate_window, paths, sdict, phantom, pure=False)
                jobs.append((pat, w, fut))
    results: dict[tuple[str, tuple[int, int]], dict[str, Any]] = {}
    for pat, w, fut in jobs:
        try:
            results[(pat, w)] = fut.result()
        except Exception as exc:  # worker died twice, cancelled
            results[(pat, w)] = {"psd_gy": None, "label": None,
                                 "error": f"window not computed ({type(exc).__name__}: {exc})"}

    def rows():
        for pat, (dated, undated, wins) in plans.items():
            allp = dated + undated
            row: dict[str, Any] = {
                "patient": pat, "n_procedures": len(allp), "n_undated": len(undated),
                "first_date": dated[0].date.isoformat() if dated else None,  # type: ignore[union-attr]
                "last_date": dated[-1].date.isoformat() if dated else None,  # type: ignore[union-attr]
                "max_single_psd_gy": max(p.psd_gy for p in allp),
                "window_days": float(window_days), "status": "ok",
            }
            best: tuple[float, tuple[int, int], str | None] | None = None
            errors = []
            for w in wins:
                if w[1] == w[0]:
                    psd, label = dated[w[0]].psd_gy, dated[w[0]].label
                else:
                    res = results[(pat, w)]
                    if res["error"]:
                        errors.append(res["error"])
                        continue
                    psd, label = float(res["psd_gy"]), res["label"]
                if best is None or psd > best[0]:
                    best = (psd, w, label)
            if best is not None:
                psd, (i, j), label = best
                row.update(cumulative_psd_gy=psd, cumulative_psd_location=label,
                           window_start=dated[i].date.isoformat(),  # type: ignore[union-attr]
                           window_end=dated[j].date.isoformat(),  # type: ignore[union-attr]
                           n_in_window=j - i + 1,
                           paths_in_window=";".join(p.path for p in dated[i:j + 1]),
                           above_srdl=psd >= SRDL_GY, above_15gy=psd > SENTINEL_GY)
            msgs = []
            if errors:
                row["status"] = "error"
                msgs.append("; ".join(errors))
            if undated:
                msgs.append(f"{len(undated)} procedure(s) without a study date: not in any "
                            "window")
                if best is None:
                    row["status"] = "no-dated-procedure"
            row["error"] = " | ".join(msgs) or None
            yield row

    j = Journal(out_dir / "patients.csv", PATIENT_COLUMNS, rows())
    j.close()
    csv_to_parquet(out_dir / "patients.csv", out_dir / "patients.parquet", PATIENT_COLUMNS)
    return len(plans)
