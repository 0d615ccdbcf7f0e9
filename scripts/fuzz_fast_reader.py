"""Fuzz the fast RDSR reader against pydicom: damaged copies of every shared real file.

Usage: python scripts/fuzz_fast_reader.py [N_PER_FILE] [SEED]

Each mutant (truncation, bit flip, removed item header, deleted content item) is read through
``read_rdsr`` (fast path, pydicom fallback) and through the pydicom path alone; the Procedures
(or the error messages) must be equal. Prints a tally and exits 1 on the first difference.
The bounded version of this runs in tests/rdsr/test_fast_reader.py.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import real_rdsr_files  # noqa: E402
from tests.rdsr.test_fast_reader import (  # noqa: E402
    _comparable,
    _deleted_content_items,
    _fast,
    _mutants,
    _reference,
)

from skindose.rdsr import _fastparse  # noqa: E402


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    warnings.simplefilter("ignore")
    total = fast_ok = 0
    for path in real_rdsr_files():
        data = path.read_bytes()
        muts = [*_mutants(data, seed=seed + len(data), n_flip=n, n_trunc=max(2, n // 4),
                          n_del=max(2, n // 8)), *_deleted_content_items(path, seed)]
        for label, m in muts:
            total += 1
            try:
                _fastparse.parse(m)
                fast_ok += 1
            except _fastparse.Fallback:
                pass
            if _comparable(_fast(m)) != _comparable(_reference(m)):
                print(f"DIFFERENCE: {path.name} {label}")
                return 1
        print(f"{path.name}: {len(muts)} mutants equal", flush=True)
    print(f"{total} mutants, all equal; {fast_ok} parsed by the fast path, the rest fell back")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
