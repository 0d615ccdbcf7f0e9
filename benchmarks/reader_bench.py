"""``read_rdsr`` against ``pydicom.dcmread`` on the same bytes, interleaved in one process.

Usage::

    .venv/bin/python benchmarks/reader_bench.py [--events 10000] [--repeat 5] [--big-repeat 3]
        [--full-repeat 1] [--out benchmarks/results] [--profile]

Files: the longest shared real RDSR, the shared real file with undefined lengths
(``pyskindose__siemens_axiom_example_procedure``), and a synthetic
``example_procedure(N, seed=3)`` written twice: with defined lengths (what
:func:`skindose.rdsr.synthetic.write_rdsr` writes) and with undefined lengths for every
sequence and item (the same content tree, :func:`encode_undefined`). Every file is read from
bytes in memory, so the disk is not measured.

Per round, for each file, one timing of each reader in turn (the order rotates per round), so
a change of machine load hits all of them alike: ``read_rdsr`` (skindose's reader, fast path),
``dcmread`` (pydicom's default, lazy: a defined-length sequence stays undecoded bytes until
touched; an undefined-length one must be parsed at read time) and ``dcmread + walk`` (dcmread
plus ``iterall()`` over every element, which is what any reader of the content tree pays in
pydicom). Reported: min and median per reader and their ratios, with ``uptime`` before and
after. ``--profile`` writes a cProfile of ``read_rdsr`` on each file to ``reader_profile.txt``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
RDSR_DIR = HERE.parent.parent / "shared" / "data" / "rdsr"
UNDEFINED_REAL = "pyskindose__siemens_axiom_example_procedure.dcm"

_LONG = struct.Struct("<HH2s2xL")
_SHORT = struct.Struct("<HH2sH")
_TAGLEN = struct.Struct("<HHL")
_UNDEF = 0xFFFFFFFF


def uptime() -> str:
    """``uptime``'s line (load average over 1, 5, 15 minutes)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5,
                              check=False).stdout.strip()
    except OSError:
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def encode_undefined(light: dict) -> bytes:
    """Part 10 bytes of a synthetic light tree with undefined-length sequences and items.

    The same elements as :func:`skindose.rdsr._fastwrite.encode` writes (Explicit VR Little
    Endian), but every SQ and every item has the undefined length 0xFFFFFFFF and ends with
    its delimiter (PS3.5 §7.5.1, §7.5.2).
    """
    from skindose.rdsr import _fastwrite as fw

    defined = fw.encode(light)
    # the file meta group and preamble as the writer makes them, then our own dataset
    pos = 132
    while struct.unpack_from("<H", defined, pos)[0] == 0x0002:
        vr = defined[pos + 4:pos + 6].decode()
        if vr in fw._LONG_VRS:
            pos += 12 + struct.unpack_from("<L", defined, pos + 8)[0]
        else:
            pos += 8 + struct.unpack_from("<H", defined, pos + 6)[0]
    out: list[bytes] = [defined[:pos]]

    def dataset(ds: dict) -> None:
        elems = []
        for key, value in ds.items():
            if key == "file_meta":
                continue
            tag, vr = fw._tag_vr(key)
            elems.append((tag, vr, value))
        elems.sort(key=lambda e: e[0])
        for tag, vr, value in elems:
            g, e = tag >> 16, tag & 0xFFFF
            if vr == "SQ":
                out.append(_LONG.pack(g, e, b"SQ", _UNDEF))
                for item in value:
                    out.append(_TAGLEN.pack(0xFFFE, 0xE000, _UNDEF))
                    dataset(item)
                    out.append(_TAGLEN.pack(0xFFFE, 0xE00D, 0))
                out.append(_TAGLEN.pack(0xFFFE, 0xE0DD, 0))
                continue
            raw = fw._value_bytes(vr, value)
            if vr in fw._LONG_VRS:
                out.append(_LONG.pack(g, e, vr.encode(), len(raw)))
            else:
                out.append(_SHORT.pack(g, e, vr.encode(), len(raw)))
            out.append(raw)

    dataset(light)
    return b"".join(out)


def synthetic_files(n_events: int) -> dict[str, bytes]:
    """The synthetic procedure's bytes with defined and with undefined lengths."""
    from skindose.rdsr import _fastwrite
    from skindose.rdsr.synthetic import _build_light, example_procedure

    light = _build_light(example_procedure(n_events, seed=3))
    return {f"synthetic_{n_events}_defined": _fastwrite.encode(light),
            f"synthetic_{n_events}_undefined": encode_undefined(light)}


def real_files() -> dict[str, bytes]:
    """The longest shared real file and the one with undefined lengths."""
    files = sorted(RDSR_DIR.glob("*.dcm"))
    if not files:
        return {}
    out = {}
    longest = max(files, key=lambda f: f.stat().st_size)
    out[longest.stem] = longest.read_bytes()
    if (RDSR_DIR / UNDEFINED_REAL).exists():
        out[Path(UNDEFINED_REAL).stem] = (RDSR_DIR / UNDEFINED_REAL).read_bytes()
    return out


def _readers():
    import pydicom

    from skindose.rdsr.reader import read_rdsr

    def fast(data: bytes):
        return read_rdsr(data)

    def lazy(data: bytes):
        return pydicom.dcmread(io.BytesIO(data))

    def walk(data: bytes):
        ds = pydicom.dcmread(io.BytesIO(data))
        for _ in ds.iterall():
            pass

    return {"read_rdsr": fast, "dcmread": lazy, "dcmread_walk": walk}


def race(files: dict[str, bytes], repeat: int = 5, big_repeat: int = 3,
         full_repeat: int | None = None, big_bytes: int = 10_000_000) -> list[dict]:
    """Interleaved timings of the three readers on every file (see the module docstring).

    ``repeat`` rounds for files up to ``big_bytes``, ``big_repeat`` above; the slow
    ``dcmread_walk`` runs in at most ``full_repeat`` of the rounds on big files.
    """
    from skindose.rdsr.reader import read_rdsr

    readers = _readers()
    names = list(readers)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fname, data in files.items():
            big = len(data) > big_bytes
            rounds = big_repeat if big else repeat
            times: dict[str, list[float]] = {n: [] for n in names}
            loads = [os.getloadavg()[0]]
            for r in range(rounds):
                order = names[r % len(names):] + names[:r % len(names)]
                for n in order:
                    if n == "dcmread_walk" and big and full_repeat is not None and (
                            len(times[n]) >= full_repeat):
                        continue
                    t0 = time.perf_counter()
                    readers[n](data)
                    times[n].append(time.perf_counter() - t0)
                loads.append(os.getloadavg()[0])
            proc = read_rdsr(data)
            fell_back = any(n.code.value == "reader-fallback-pydicom" for n in proc.notes)
            row = {"file": fname, "bytes": len(data), "events": proc.n_events,
                   "fast_path_fell_back": fell_back, "rounds": rounds,
                   "load_min": round(min(loads), 2), "load_max": round(max(loads), 2)}
            for n in names:
                row[f"{n}_min_s"] = min(times[n])
                row[f"{n}_median_s"] = statistics.median(times[n])
                row[f"{n}_n"] = len(times[n])
            for stat in ("min", "median"):
                row[f"dcmread_over_read_rdsr_{stat}"] = (
                    row[f"dcmread_{stat}_s"] / row[f"read_rdsr_{stat}_s"])
                row[f"walk_over_read_rdsr_{stat}"] = (
                    row[f"dcmread_walk_{stat}_s"] / row[f"read_rdsr_{stat}_s"])
            rows.append(row)
            print(f"  {fname[:46]:46s} {row['events']:6d} ev {len(data):>11,d} B | read_rdsr "
                  f"{_ms(row['read_rdsr_min_s'])} (med {_ms(row['read_rdsr_median_s'])}) | "
                  f"dcmread {_ms(row['dcmread_min_s'])} (med {_ms(row['dcmread_median_s'])}) | "
                  f"dcmread+walk {_ms(row['dcmread_walk_min_s'])} | dcmread/read_rdsr "
                  f"{row['dcmread_over_read_rdsr_min']:.1f}x (med "
                  f"{row['dcmread_over_read_rdsr_median']:.1f}x), walk/read_rdsr "
                  f"{row['walk_over_read_rdsr_min']:.1f}x | load {row['load_min']}-"
                  f"{row['load_max']}" + (" | FELL BACK" if fell_back else ""), flush=True)
    return rows


def _ms(s: float) -> str:
    return f"{s * 1e3:9.1f} ms"


def profile(files: dict[str, bytes], out: Path) -> None:
    """cProfile of ``read_rdsr`` on each file (top 30 by cumulative and by own time)."""
    from skindose.rdsr.reader import read_rdsr

    text = io.StringIO()
    for fname, data in files.items():
        pr = cProfile.Profile()
        pr.enable()
        read_rdsr(data)
        pr.disable()
        text.write(f"===== {fname} ({len(data):,d} bytes)\n")
        st = pstats.Stats(pr, stream=text)
        st.sort_stats("cumulative").print_stats(30)
        st.sort_stats("tottime").print_stats(20)
    out.write_text(text.getvalue())
    print(f"  profile → {out}")


def main(argv: list[str] | None = None) -> int:
    """Run the race; print a table and write ``reader_bench.{json,csv}``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000, help="synthetic events (0: none)")
    ap.add_argument("--repeat", type=int, default=5, help="rounds on files up to 10 MB")
    ap.add_argument("--big-repeat", type=int, default=3, help="rounds on larger files")
    ap.add_argument("--full-repeat", type=int, default=1,
                    help="dcmread+walk timings on larger files (it is slow)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--profile", action="store_true", help="also write reader_profile.txt")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from run import write_csv

    args.out.mkdir(parents=True, exist_ok=True)
    before = uptime()
    print(f"uptime before: {before}", flush=True)
    files = real_files()
    if args.events:
        t0 = time.perf_counter()
        files.update(synthetic_files(args.events))
        print(f"  wrote the synthetic files in {time.perf_counter() - t0:.1f} s", flush=True)
    rows = race(files, args.repeat, args.big_repeat, args.full_repeat)
    after = uptime()
    print(f"uptime after: {after}", flush=True)
    if args.profile:
        profile(files, args.out / "reader_profile.txt")
    import skindose

    src = Path(skindose.__file__).resolve().parent  # the code measured (PYTHONPATH decides)
    commit = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    (args.out / "reader_bench.json").write_text(json.dumps(
        {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "commit": commit or "not a git tree",
         "skindose": str(src),
         "uptime_before": before, "uptime_after": after, "rows": rows}, indent=1))
    write_csv(args.out / "reader_bench.csv", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
