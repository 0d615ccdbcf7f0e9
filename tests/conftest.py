"""Shared test fixtures: the real vendor RDSR files, read in place from ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
RDSR_DIR = SHARED_DATA / "rdsr"


def pytest_configure(config) -> None:
    """The on-disk phantom cache (skindose.phantoms._cache) of this test run lives in a
    temporary folder, not in the user's ~/.cache (subprocesses inherit it)."""
    if "SKINDOSE_CACHE_DIR" not in os.environ:
        import tempfile

        os.environ["SKINDOSE_CACHE_DIR"] = tempfile.mkdtemp(prefix="skindose-test-cache-")


def shared_data_dir() -> Path:
    """The shared data folder; skip (outside CI) or fail (CI=true) when it is missing."""
    if not RDSR_DIR.is_dir():
        msg = f"shared sample data not found at {SHARED_DATA} (tests read it in place)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + "; CI=true requires it")
        pytest.skip(msg)
    return SHARED_DATA


def real_rdsr_files() -> list[Path]:
    """All real RDSR files (empty list when the folder is missing)."""
    return sorted(RDSR_DIR.glob("*.dcm")) if RDSR_DIR.is_dir() else []


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_data_dir()


@pytest.fixture(scope="session")
def rdsr_dir(shared_data: Path) -> Path:
    return shared_data / "rdsr"
