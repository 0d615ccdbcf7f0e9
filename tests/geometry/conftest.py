from __future__ import annotations

import pytest

from .standin import standin_adult


@pytest.fixture(scope="session")
def phantom():
    return standin_adult()
