"""The kernel tests also pass with ``NUMBA_DISABLE_JIT=1`` (the jitted code as plain Python).

That is how coverage and debuggers see the kernel; running it in the suite keeps that path
working. Large scenes skip themselves under the interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_kernel_tests_pass_without_jit():
    if os.environ.get("NUMBA_DISABLE_JIT") == "1":  # already the no-JIT run
        return
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", str(HERE),
         "--deselect", f"{HERE / 'test_nojit.py'}::test_kernel_tests_pass_without_jit"],
        env=env, capture_output=True, text=True, timeout=900, cwd=HERE.parents[1],
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout
