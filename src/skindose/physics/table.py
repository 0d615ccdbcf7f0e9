"""Patient table and mattress (pad) transmission.

Normal-incidence transmission T0 comes from a *table spec*:

* a float in (0, 1]: a measured or chosen T0, used as is (no kVp/HVL dependence);
* a string naming a shipped measured table (:data:`MEASURED_TABLES`), interpolated in
  (kVp, HVL); or a generic estimate name (:data:`GENERIC_ESTIMATES`);
* None: the generic table + pad estimate T0 = 0.75, flagged as an estimate.

Oblique rays use the exponential-slab model T = T0^(1/cos θ) with θ the angle between the ray
and the table normal, capped at ``max_obliquity_deg`` (default 70°): at larger angles a ray
through a finite-width table is unphysical and narrow-beam attenuation ignores scatter
build-up (docs/physics.md §4.2), so T at the cap is used.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skindose.errors import ConfigurationError, SkinDoseWarning
from skindose.physics._common import clamp, emit, load_csv

__all__ = [
    "DEFAULT_T0",
    "GENERIC_ESTIMATES",
    "MEASURED_TABLES",
    "TableSpec",
    "oblique_transmission",
    "table_transmission",
]

TableSpec = float | str | None

#: Generic estimates (no measurement): name -> (T0, source).
GENERIC_ESTIMATES: dict[str, tuple[float, str]] = {
    "generic": (
        0.75,
        "table + pad estimate: docs/physics.md §9; Imalogix default 0.75 (OHSU thesis 2021); "
        "measured tables + pads span 0.60-0.86 (PySkinDose AXIOM-Artis, openSkin Artis zee)",
    ),
    "generic_table_only": (
        0.85,
        "carbon-fibre table top without pad, estimate: docs/physics.md §9 (literature 0.80-0.90)",
    ),
}
DEFAULT_T0 = GENERIC_ESTIMATES["generic"][0]

#: Shipped measured tables: name -> data file.
MEASURED_TABLES: dict[str, str] = {
    "siemens_axiom_artis": "table_transmission_siemens_axiom_artis.csv",
}
#: Total Al (mm) and anode angle (deg) at which measured (kVp, Cu) rows are given an HVL.
_TABLE_AL_MM = 2.5
_TABLE_ANODE_DEG = 12.0


@cache
def _measured(name: str) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(kvp (nk,), hvl (nk, ncu), t0 (nk, ncu)) of a shipped measured table."""
    from skindose.physics.hvl import _lookup

    names, data = load_csv(MEASURED_TABLES[name])
    col = {n: data[:, i] for i, n in enumerate(names)}
    kv = np.unique(col["kvp_kv"])
    cu = np.unique(col["added_cu_mm"])
    t0 = np.full((kv.size, cu.size), np.nan)
    t0[np.searchsorted(kv, col["kvp_kv"]), np.searchsorted(cu, col["added_cu_mm"])] = col[
        "k_table_pad"
    ]
    if np.isnan(t0).any():
        raise ConfigurationError(f"{MEASURED_TABLES[name]}: incomplete (kVp, Cu) grid")
    kk, cc = np.meshgrid(kv, cu, indexing="ij")
    hvl, _ = _lookup("hvl_mm_al", kk, cc, _TABLE_AL_MM, _TABLE_ANODE_DEG)
    return kv, hvl, t0


def _interp_measured(
    name: str, kvp: NDArray[np.float64], hvl: NDArray[np.float64], labels: Sequence[str] | None
) -> tuple[NDArray[np.float64], list[str]]:
    kv_ax, hvl_tab, t_tab = _measured(name)
    kvc, msgs = clamp(kvp, kv_ax[0], kv_ax[-1], "kVp", "kV", f"{name} table", labels)
    kvc = kvc.ravel()
    hv = np.broadcast_to(hvl, kvp.shape).ravel()
    out = np.full(kvc.shape, np.nan)
    j = np.clip(np.searchsorted(kv_ax, kvc, side="right") - 1, 0, kv_ax.size - 2)
    w = (kvc - kv_ax[j]) / (kv_ax[j + 1] - kv_ax[j])
    lo_h = np.minimum(hvl_tab[j, 0], hvl_tab[j + 1, 0])
    hi_h = np.maximum(hvl_tab[j, -1], hvl_tab[j + 1, -1])
    with np.errstate(invalid="ignore"):
        bad_lo = hv < lo_h
        bad_hi = hv > hi_h
    for mask, side in ((bad_lo, "below"), (bad_hi, "above")):
        if np.any(mask):
            where = ""
            if labels is not None:
                where = " (" + ", ".join(labels[i] for i in np.flatnonzero(mask)[:10]) + ")"
            msgs.append(
                f"HVL {side} the range of the {name} table (Cu 0-0.9 mm at that kVp): "
                f"edge value used{where}"
            )
    for i in np.flatnonzero(np.isfinite(kvc) & np.isfinite(hv)):
        a = np.interp(hv[i], hvl_tab[j[i]], t_tab[j[i]])
        b = np.interp(hv[i], hvl_tab[j[i] + 1], t_tab[j[i] + 1])
        out[i] = (1 - w[i]) * a + w[i] * b
    return out.reshape(kvp.shape), msgs


def table_t0_with_messages(
    kvp: ArrayLike,
    hvl_mm_al: ArrayLike,
    table: TableSpec = None,
    labels: Sequence[str] | None = None,
    measured: bool | None = None,
) -> tuple[NDArray[np.float64], list[str], list[str]]:
    """Normal-incidence T0 without warnings.

    Parameters
    ----------
    kvp, hvl_mm_al, table, labels
        As for :func:`table_transmission`; ``labels`` name the events in messages.
    measured
        Whether ``table`` was measured on this device (a vendor profile's ``measured``
        key). False makes any value an estimate (noted with the value); True with a generic
        estimate name is a configuration error; None infers it from the spec.

    Returns
    -------
    t0
        float64 array, broadcast shape of ``kvp`` and ``hvl_mm_al``.
    clamp_messages
        Range messages (ExtrapolationWarning material).
    notes
        Messages that T0 is an estimate (empty when it is measured or the caller's value).
    """
    kv, hv = np.broadcast_arrays(np.asarray(kvp, dtype=np.float64), np.asarray(hvl_mm_al, float))
    if table is None:
        table = "generic"
    if isinstance(table, bool) or not isinstance(table, (int, float, str)):
        raise ConfigurationError(f"table must be a float, a table name or None, not {table!r}")
    if isinstance(table, (int, float)):
        t = float(table)
        if not (0.0 < t <= 1.0):
            raise ConfigurationError(f"table transmission must be in (0, 1], not {t}")
        return np.full(kv.shape, t), [], [] if measured is not False else [_estimate_text(
            t, "the vendor profile's value, not marked as measured")]
    key = table.strip().lower()
    if key in GENERIC_ESTIMATES:
        t, src = GENERIC_ESTIMATES[key]
        if measured is True:
            raise ConfigurationError(f"table transmission {table!r} is a generic estimate, not "
                                     "a measurement: set measured = false")
        return np.full(kv.shape, t), [], [_estimate_text(t, src)]
    if key in MEASURED_TABLES:
        t0, msgs = _interp_measured(key, kv, hv, labels)
        notes = [] if measured is not False else [_estimate_text(
            float(np.median(t0)) if t0.size else float("nan"),
            f"the table {key!r} measured on another unit, median over the events")]
        return t0, msgs, notes
    known = ", ".join(sorted([*MEASURED_TABLES, *GENERIC_ESTIMATES]))
    raise ConfigurationError(f"unknown table transmission {table!r}; known: {known}")


def _estimate_text(t0: float, source: str) -> str:
    return (f"table + mattress transmission not measured for this device: the estimate "
            f"T0 = {t0:.3g} is used ({source}); uncertainty about ±15 %")


def table_transmission(
    kvp: ArrayLike, hvl_mm_al: ArrayLike, table: TableSpec = None
) -> NDArray[np.float64]:
    """Normal-incidence transmission T0 of the patient table (+ mattress).

    Parameters
    ----------
    kvp
        Tube voltage in kV.
    hvl_mm_al
        First HVL of the beam in mm Al.
    table
        A float T0 in (0, 1]; a shipped table name (``"siemens_axiom_artis"``, measured table +
        74 mm pad); ``"generic"`` / None (table + pad estimate 0.75) or
        ``"generic_table_only"`` (0.85).

    Returns
    -------
    numpy.ndarray
        T0 in (0, 1], float64, broadcast shape of ``kvp`` and ``hvl_mm_al``.

    Notes
    -----
    Measured tables are given versus (kVp, added Cu). Each row is placed on an HVL axis (HVL of
    that kVp with 2.5 mm Al total + that Cu, 12° anode, from ``hvl_grid.csv``); T0 is
    interpolated linearly in HVL at the two neighbouring kVp rows, then linearly in kVp
    (docs/physics.md §4.2: HVL merges Al and Cu filtration). For a beam of 2.5 mm Al + Cu this is
    exactly bilinear interpolation in (kVp, Cu). Outside the measured kVp range (50-125 kV for
    the Siemens table) or HVL range, edge values are used with an
    :class:`~skindose.errors.ExtrapolationWarning`. Generic estimates emit a
    :class:`~skindose.errors.SkinDoseWarning`.
    """
    t0, msgs, notes = table_t0_with_messages(kvp, hvl_mm_al, table)
    emit(msgs)
    for n in notes:
        warnings.warn(n, SkinDoseWarning, stacklevel=2)
    return t0[()] if t0.ndim == 0 else t0


def oblique_transmission(
    t0: ArrayLike, cos_theta: ArrayLike, max_obliquity_deg: float = 70.0
) -> NDArray[np.float64]:
    """Transmission along an oblique ray: T0^(1/cos θ), θ capped at ``max_obliquity_deg``.

    Parameters
    ----------
    t0
        Normal-incidence transmission in (0, 1].
    cos_theta
        Cosine of the angle between the ray and the table normal (its sign is ignored).
    max_obliquity_deg
        Cap on θ in degrees, in [0, 90).

    Returns
    -------
    numpy.ndarray
        Transmission in (0, 1], float64, broadcast shape; non-increasing in θ.

    Examples
    --------
    >>> round(float(oblique_transmission(0.75, 0.5)), 4)
    0.5625
    """
    if not (0.0 <= max_obliquity_deg < 90.0):
        raise ConfigurationError("max_obliquity_deg must be in [0, 90)")
    c_min = np.cos(np.deg2rad(max_obliquity_deg))
    c = np.clip(np.abs(np.asarray(cos_theta, dtype=np.float64)), c_min, 1.0)
    out = np.asarray(t0, dtype=np.float64) ** (1.0 / c)
    return out[()] if out.ndim == 0 else out
