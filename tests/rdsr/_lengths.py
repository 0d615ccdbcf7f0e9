"""Test helper: switch a pydicom Dataset to undefined-length sequences and items."""

from __future__ import annotations

from typing import Any


def mark_undefined_lengths(ds: Any) -> None:
    """Every SQ of ``ds`` (recursively) and every item of it written with undefined length."""
    for el in ds:
        if el.VR == "SQ":
            el.is_undefined_length = True
            for item in el.value:
                item.is_undefined_length_sequence_item = True
                mark_undefined_lengths(item)
