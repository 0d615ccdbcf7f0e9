"""``skindose batch``: every RDSR of an archive computed on its own, one row per file.

>>> from skindose.batch import run_batch
>>> summary = run_batch(["archive/"], "out/", workers=4)       # doctest: +SKIP
>>> summary.counts                                               # doctest: +SKIP
{'ok': 3970, 'skipped': 25, 'duplicate': 4, 'error': 1}

Needs the optional extra ``skindose[batch]`` (dask[distributed], pyarrow). See
``docs/batch.md`` for the columns, the execution model and the measurements.
"""

from __future__ import annotations

from skindose.batch._patients import PATIENT_COLUMNS, maximal_windows
from skindose.batch._run import BatchSummary, open_client, require_extra, run_batch
from skindose.batch._scan import FileKind, classify_dataset, expand_paths, peek_header
from skindose.batch._table import columns_for, iter_rows
from skindose.batch._worker import FileTask, WorkerConfig, cache_info, process_file, pseudonym

__all__ = [
    "PATIENT_COLUMNS",
    "BatchSummary",
    "FileKind",
    "FileTask",
    "WorkerConfig",
    "cache_info",
    "classify_dataset",
    "columns_for",
    "expand_paths",
    "iter_rows",
    "maximal_windows",
    "open_client",
    "peek_header",
    "process_file",
    "pseudonym",
    "require_extra",
    "run_batch",
]
