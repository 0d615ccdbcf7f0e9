"""The ``skindose`` command line.

Commands
--------
``skindose demo``
    Build a synthetic cardiac procedure (bundled, no files needed), compute its skin dose map
    and write a report folder.
``skindose inspect FILE...``
    What an RDSR says: device, patient, reference point, totals, events, warnings. No Numba.
``skindose compute FILE...``
    Skin dose map of one patient's RDSRs (several files are accumulated on one phantom).
``skindose phantoms``
    List the built-in phantoms, or export one as a mesh file.

Exit codes: 0 success, 2 bad input (unreadable or non-RDSR file, bad settings), 3 computed and
the peak skin dose is at or above the 3 Gy substantial radiation dose level (SRDL, NCRP 168), so
that scripts can alert.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from skindose.dicom_out.cli import add_compute_arguments, after_compute, inspect_prdsr
from skindose.errors import SkinDoseError

__all__ = ["main"]

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_ABOVE_SRDL = 3
SRDL_GY = 3.0  # NCRP Report 168 substantial radiation dose level for peak skin dose

_EPILOG = """\
examples:
  skindose demo                              run the bundled example, write ./skindose-demo/
  skindose inspect exam.dcm                  what the RDSR contains (add --json for machines)
  skindose compute exam.dcm --out report/    skin dose map, figures, HTML report
  skindose compute day1.dcm day2.dcm         staged procedure: doses accumulated on one phantom
  skindose phantoms --export adult adult.stl

exit codes: 0 ok, 2 bad input, 3 peak skin dose >= 3 Gy (NCRP 168 SRDL)
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
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
                       "skin dose on the default adult phantom and write a report folder.")
    d.add_argument("--out", type=Path, default=Path("skindose-demo"),
                   help="report folder (default: ./skindose-demo)")
    d.add_argument("--events", type=int, default=200, help="number of synthetic events")

    i = sub.add_parser("inspect", help="show what an RDSR contains (fast, no dose computation)",
                       description="Device, patient, reference point, totals per plane (reported "
                       "vs sum of events), a table of events and every warning.")
    i.add_argument("files", nargs="+", type=Path, metavar="FILE")
    i.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")

    c = sub.add_parser("compute", help="compute the skin dose map of one patient's RDSRs",
                       description="Compute the skin dose map. Several files of one patient are "
                       "accumulated on one phantom (staged procedures).",
                       epilog="exit codes: 0 ok, 2 bad input, 3 PSD >= 3 Gy (NCRP 168 SRDL)")
    c.add_argument("files", nargs="+", type=Path, metavar="FILE")
    c.add_argument("--phantom", default="adult",
                   help="adult | cylinder | plane | path to a mesh file (default: adult, "
                   "scaled to the patient's height and mass when the RDSR gives them)")
    c.add_argument("--height-m", type=float, help="patient height in m (overrides the RDSR)")
    c.add_argument("--mass-kg", type=float, help="patient mass in kg (overrides the RDSR)")
    c.add_argument("--settings", type=Path, metavar="FILE.toml",
                   help="settings file (see skindose.Settings for the keys)")
    c.add_argument("--out", type=Path, help="write summary.json, dose map (.ply, .npz), "
                   "figures and report.html into this folder")
    c.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    c.add_argument("--pdf", action="store_true", help="also print report.html to report.pdf "
                   "with headless Chromium (needs --out)")
    c.add_argument("--anonymize", action="store_true", help="remove patient identifiers, "
                   "institution, UIDs, dates and file names from every output")
    add_compute_arguments(c)  # --dicom-out, --send (skindose.dicom_out)

    ph = sub.add_parser("phantoms", help="list the built-in phantoms or export one")
    ph.add_argument("--export", nargs=2, metavar=("NAME", "FILE"),
                    help="write phantom NAME as a mesh file (format from the extension)")
    ph.add_argument("--cell-area-cm2", type=float, default=1.0)
    __import__("skindose.node.cli", fromlist=["register"]).register(sub)  # serve, registry
    __import__("skindose.batch.cli", fromlist=["register"]).register(sub)  # skindose batch
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    import warnings

    from skindose.errors import SkinDoseWarning

    parser = _parser()
    args = parser.parse_args(argv)
    # every warning is printed in the command's own output (or JSON); no Python warning noise
    warnings.simplefilter("ignore", SkinDoseWarning)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        if args.command == "inspect":
            return _inspect(args)
        if args.command == "compute":
            return _compute(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "phantoms":
            return _phantoms(args)
        if getattr(args, "func", None) is not None:  # subcommands registered by modules
            return args.func(args)
    except SkinDoseError as exc:
        print(f"skindose: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return EXIT_BAD_INPUT  # pragma: no cover


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

    out = []
    for f in args.files:
        if inspect_prdsr(f, args.json, out):  # a P-RDSR: print what it says (dicom_out)
            continue
        proc = read_rdsr(f)
        if args.json:
            d = proc.to_dict()
            d["totals"] = _totals_rows(proc)
            out.append(d)
        else:
            print(_inspect_text(proc))
    if args.json:
        json.dump(out if len(out) > 1 else out[0], sys.stdout, indent=2, allow_nan=False)
        print()
    return EXIT_OK


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
            f"{short[e.event_type.value]:5} {e.plane.value[:2]:2} {_fmt(e.kvp, '{:.0f}'):>5} "
            f"{e.cu_mm:>4.1f} {e.al_mm:>4.1f} {_fmt(e.primary_angle_deg, '{:.1f}'):>6} "
            f"{_fmt(e.secondary_angle_deg, '{:.1f}'):>6} {_fmt(e.sod_mm, '{:.0f}'):>5} "
            f"{_fmt(e.sid_mm, '{:.0f}'):>5} {_fmt(e.srp_mm, '{:.0f}'):>5} "
            f"{_fmt(e.table_longitudinal_mm, '{:.1f}'):>7} {_fmt(e.table_lateral_mm, '{:.1f}'):>7}"
            f" {_fmt(e.table_height_mm, '{:.0f}'):>6} "
            f"{(f'{fld[0]:.0f}x{fld[1]:.0f}' if fld else '–'):>11} "
            f"{_fmt(e.kerma_rp_gy and e.kerma_rp_gy * 1e3, '{:.3g}'):>9} "
            f"{_fmt(e.kap_gym2 and e.kap_gym2 * 1e4, '{:.3g}'):>10}  {'; '.join(notes)}")
    if proc.warnings:
        lines.append("")
        lines.append(f"warnings ({len(proc.warnings)}):")
        lines.extend(f"  - {w}" for w in proc.warnings)
    return "\n".join(lines)


# --- compute ------------------------------------------------------------------------------------


def _load_phantom(name: str, height_m, mass_kg, cell_area_cm2: float):
    from skindose import phantoms

    if name == "adult":
        return phantoms.adult(height_m=height_m, mass_kg=mass_kg, cell_area_cm2=cell_area_cm2)
    if name in ("cylinder", "plane"):
        return phantoms.by_name(name, cell_area_cm2=cell_area_cm2)
    return phantoms.load(name, cell_area_cm2=cell_area_cm2)


def _run_compute(procs, phantom_name, height_m, mass_kg, settings, progress):
    from skindose import compute
    from skindose._startup import announce_compilation

    announce_compilation()  # one line on stderr (a terminal) when the kernel compiles

    height = height_m or next((p.patient.height_m for p in procs if p.patient.height_m), None)
    mass = mass_kg or next((p.patient.mass_kg for p in procs if p.patient.mass_kg), None)
    phantom = _load_phantom(phantom_name, height, mass, settings.cell_area_cm2)
    return compute(procs, phantom, settings=settings, progress=progress)


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
            lines.append(f"  area ≥ {t} Gy: {a * 1e4:.1f} cm²")
    tot = s["reference_totals"].get("total", {})
    if tot:
        k = tot.get("kerma_rp_gy")
        kap = tot.get("kap_gym2")
        lines.append(f"  Σ K_RP {_gy(k)}, Σ KAP {kap * 1e4:.4g} Gy·cm²" if k is not None and kap
                     is not None else "")
    if result.psd_gy >= SRDL_GY:
        lines.append(f"  ALERT: peak skin dose ≥ {SRDL_GY:g} Gy (NCRP 168 substantial radiation "
                     "dose level): patient follow-up is indicated")
    n_w = len(result.warnings)
    if n_w:
        lines.append(f"  {n_w} warning(s); see the report or --json")
    return "\n".join(x for x in lines if x)


def _gy(v) -> str:
    if v is None:
        return "–"
    return f"{v:.3g} Gy" if v >= 0.1 else f"{v * 1e3:.3g} mGy"


def _compute(args) -> int:
    from skindose.rdsr import read_rdsr
    from skindose.settings import Settings

    settings = Settings.from_toml(args.settings) if args.settings else Settings()
    procs = [read_rdsr(f) for f in args.files]
    progress = (not args.json) and sys.stderr.isatty()
    result = _run_compute(procs, args.phantom, args.height_m, args.mass_kg, settings, progress)
    from skindose.report import apply_anonymize, pdf_for_cli  # --anonymize, --pdf (report)

    result = apply_anonymize(result, args.anonymize or None)
    if args.out:
        result.save(args.out)
        pdf_for_cli(args.out, args.pdf)
    after_compute(args, result, procs)  # --dicom-out / --send: P-RDSR + image (dicom_out)
    if args.json:
        json.dump(result.summary(), sys.stdout, indent=2, allow_nan=False)
        print()
    else:
        print(_headline(result))
        if args.out:
            print(f"report: {(args.out / 'report.html').resolve()}")
    return EXIT_ABOVE_SRDL if result.psd_gy >= SRDL_GY else EXIT_OK


# --- demo ---------------------------------------------------------------------------------------


def _demo(args) -> int:
    from skindose.rdsr import read_rdsr
    from skindose.rdsr.synthetic import example_procedure, write_rdsr
    from skindose.settings import Settings

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    rdsr_path = write_rdsr(example_procedure(n_events=args.events), out / "demo_rdsr.dcm")
    print(f"skindose demo: synthetic {args.events}-event cardiac RDSR written to {rdsr_path}")
    proc = read_rdsr(rdsr_path)
    print(_inspect_text(proc).split("\n\n")[0])
    print()
    settings = Settings()
    result = _run_compute([proc], "adult", None, None, settings, sys.stderr.isatty())
    result.save(out)
    print(_headline(result))
    print(f"report folder: {out.resolve()}")
    print(f"open {(out / 'report.html').resolve()} in a browser")
    return EXIT_OK


# --- phantoms -----------------------------------------------------------------------------------


def _phantoms(args) -> int:
    from skindose import phantoms

    if args.export:
        name, path = args.export
        ph = phantoms.by_name(name, cell_area_cm2=args.cell_area_cm2)
        ph.export(path)
        print(f"wrote {name} ({ph.n_cells} cells) to {path}")
        return EXIT_OK
    for name, desc in phantoms.available():
        print(f"{name:10} {desc}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
