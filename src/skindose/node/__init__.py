"""``skindose serve``: a DICOM dose consumer that receives RDSRs and watches each patient.

Parts (see ``docs/node.md``):

* :mod:`skindose.node.storage` — durable store-then-acknowledge file writes;
* :mod:`skindose.node.registry` — the registry (a small :class:`~skindose.node.registry.Registry`
  interface, implemented on SQLite in WAL mode);
* :mod:`skindose.node.scp` — the Storage SCP on pynetdicom (:class:`~skindose.node.scp.DoseNode`);
* :mod:`skindose.node.worker` — worker processes: dose computation, per-patient cumulative dose,
  alerts;
* :mod:`skindose.node.page` — the self-contained ``index.html``;
* :mod:`skindose.node.cli` — the ``serve`` and ``registry`` subcommands.

pynetdicom is an optional dependency: ``pip install "skindose[node]"``.
"""

from __future__ import annotations

from skindose.errors import ConfigurationError

__all__ = ["require_pynetdicom"]


def require_pynetdicom():
    """Import pynetdicom or raise a :class:`~skindose.errors.ConfigurationError` saying how to
    install it."""
    try:
        import pynetdicom
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ConfigurationError(
            "skindose serve needs pynetdicom: pip install \"skindose[node]\""
        ) from None
    return pynetdicom
