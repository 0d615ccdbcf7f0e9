"""The results table: its columns, the CSV journal and the Parquet copy.

``results.csv`` is the journal: one line per finished file, written and flushed as soon as the
file is done, so an interrupted or killed run keeps every finished row. ``results.parquet`` is
written from the journal in row groups (bounded memory) when the run ends, including after
Ctrl-C; a run killed hard leaves the journal complete up to its last finished file, and the next
``--resume`` writes the Parquet file.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = ["Journal", "columns_for", "csv_to_parquet", "iter_rows"]

# (name, type): type is one of "str", "int", "float", "bool"
_BASE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("path", "str"),
    ("checksum", "str"),
    ("sop_instance_uid", "str"),
    ("kind", "str"),
    ("status", "str"),
    ("duplicate_of", "str"),
    ("patient", "str"),
    ("study_date", "str"),
    ("device", "str"),
    ("events", "int"),
    ("kerma_rp_gy", "float"),
    ("kap_gycm2", "float"),
    ("psd_gy", "float"),
    ("psd_location", "str"),
    ("psd_1cm2_gy", "float"),
    ("psd_10cm2_gy", "float"),
)
_TAIL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("reference_point_estimate", "bool"),
    ("alert_srdl", "bool"),
    ("highest_severity", "str"),
    ("note_codes", "str"),
    ("report", "str"),
    ("error", "str"),
    ("seconds", "float"),
)


def area_column(threshold_gy: float) -> str:
    """Name of the column of the skin area at or above ``threshold_gy`` (cm²)."""
    return f"area_ge_{threshold_gy:g}gy_cm2".replace(".", "p")


def columns_for(thresholds_gy: Sequence[float]) -> tuple[tuple[str, str], ...]:
    """All columns, in order, for the given area thresholds."""
    areas = tuple((area_column(t), "float") for t in thresholds_gy)
    return _BASE_COLUMNS + areas + _TAIL_COLUMNS


def _cell(v: Any, typ: str) -> str:
    if v is None:
        return ""
    if typ == "bool":
        return "true" if v else "false"
    if typ == "float":
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"non-finite value {v!r} in the results table")
        return repr(f)
    if typ == "int":
        return str(int(v))
    return str(v)


def _parse(s: str, typ: str) -> Any:
    if s == "":
        return None
    if typ == "bool":
        return s == "true"
    if typ == "float":
        return float(s)
    if typ == "int":
        return int(s)
    return s


class Journal:
    """``results.csv``, appended one flushed line per finished file.

    Parameters
    ----------
    path
        The CSV file.
    columns
        From :func:`columns_for`.
    keep
        Rows to write first (the rows a resumed run keeps); the file is rewritten.
    """

    def __init__(self, path: Path, columns: Sequence[tuple[str, str]],
                 keep: Sequence[Mapping[str, Any]] = ()) -> None:
        self.path = Path(path)
        self.columns = tuple(columns)
        self.names = [c for c, _ in self.columns]
        tmp = self.path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(self.names)
            for row in keep:
                w.writerow(self._cells(row))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._fh: TextIO | None = self.path.open("a", newline="", encoding="utf-8")
        self._w = csv.writer(self._fh)

    def _cells(self, row: Mapping[str, Any]) -> list[str]:
        return [_cell(row.get(c), t) for c, t in self.columns]

    def write(self, row: Mapping[str, Any]) -> None:
        """Append one row and flush it to the operating system."""
        assert self._fh is not None, "journal closed"
        self._w.writerow(self._cells(row))
        self._fh.flush()

    def close(self) -> None:
        """Flush to disk (fsync) and close."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None


def iter_rows(path: Path, columns: Sequence[tuple[str, str]] | None = None
              ) -> Iterator[dict[str, Any]]:
    """Rows of a results CSV as typed dicts (types from ``columns``; all columns of the file
    are returned, unknown ones as strings). A last line cut short by a hard kill is skipped."""
    types = dict(columns or ())
    with Path(path).open(newline="", encoding="utf-8") as fh:
        r = csv.reader(fh)
        header = next(r, None)
        if header is None:
            return
        for cells in r:
            if len(cells) != len(header):
                continue  # a line cut short by a hard kill
            yield {h: _parse(v, types.get(h, "str")) for h, v in zip(header, cells, strict=True)}


def read_header(path: Path) -> list[str]:
    """Column names of a results CSV."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def _arrow_type(pa: Any, typ: str) -> Any:
    return {"str": pa.string(), "int": pa.int64(), "float": pa.float64(),
            "bool": pa.bool_()}[typ]


def csv_to_parquet(csv_path: Path, parquet_path: Path, columns: Sequence[tuple[str, str]],
                   batch_rows: int = 4096) -> int:
    """Write ``parquet_path`` from ``csv_path`` in row groups of ``batch_rows``; returns the
    number of rows. Written to a temporary name and renamed, so a reader never sees half."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, _arrow_type(pa, t)) for c, t in columns])
    tmp = parquet_path.with_suffix(".parquet.tmp")
    n = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        buf: list[dict[str, Any]] = []
        for row in iter_rows(csv_path, columns):
            buf.append(row)
            if len(buf) >= batch_rows:
                writer.write_table(pa.Table.from_pylist(buf, schema=schema))
                n += len(buf)
                buf = []
        if buf or n == 0:
            writer.write_table(pa.Table.from_pylist(buf, schema=schema))
            n += len(buf)
    os.replace(tmp, parquet_path)
    return n
