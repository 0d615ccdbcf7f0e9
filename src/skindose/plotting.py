"""Figures of a :class:`~skindose.dosemap.SkinDoseMap` (matplotlib, imported inside functions).

Every function draws into Axes it is given (or creates a figure) and returns the Figure:

* :func:`plot_dose_views` - the dose map on the phantom seen from anterior, posterior, left and
  right, one shared colour bar in Gy, the PSD marked;
* :func:`plot_unrolled` - the skin of a cylinder phantom unrolled (angle around the axis vs z);
* :func:`plot_psd_timeline` - the PSD after each event with the 2/3/5 Gy levels;
* :func:`plot_beam_geometry` - the phantom and the beams of the largest events;
* :func:`save_figures` - all of the above as PNG files.

The views are drawn with a painter's algorithm (project the front-facing triangles, sort them
far to near, one ``PolyCollection``), which renders a 50 000-cell phantom in about a second.
Colour map: "viridis" (perceptually uniform, colour-blind safe); cells with no dose are light
grey, shaded to show the body's shape. Dosed cells are not shaded, so their colour reads
directly against the colour bar.

Patient frame P (mm): +x patient left, +y posterior, +z head.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DOSE_CMAP",
    "VIEWS",
    "dose_rgba",
    "format_gy",
    "plot_beam_geometry",
    "plot_dose_views",
    "plot_psd_timeline",
    "plot_unrolled",
    "save_figures",
]

#: Colour map of the dose (colour-blind safe, perceptually uniform).
DOSE_CMAP = "viridis"
_NO_DOSE_RGB = np.array([0.86, 0.86, 0.86])
_PSD_COLOR = "#d62728"
#: Okabe-Ito palette (colour-blind safe) for beams.
_OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#F0E442",
              "#000000")
_LEVELS_GY = (2.0, 3.0, 5.0)

# name -> (screen x axis, screen y axis, unit vector toward the viewer, (left, right) edge
# letters, title). Letters: R/L patient right/left, A/P anterior/posterior.
VIEWS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float],
                       tuple[float, float, float], tuple[str, str], str]] = {
    "anterior": ((1, 0, 0), (0, 0, 1), (0, -1, 0), ("R", "L"), "Anterior"),
    "posterior": ((-1, 0, 0), (0, 0, 1), (0, 1, 0), ("L", "R"), "Posterior"),
    "left": ((0, 1, 0), (0, 0, 1), (1, 0, 0), ("A", "P"), "Left lateral"),
    "right": ((0, -1, 0), (0, 0, 1), (-1, 0, 0), ("P", "A"), "Right lateral"),
}


def format_gy(gy: float | None) -> str:
    """Dose for people: Gy with 3 significant digits, plus mGy below 0.1 Gy.

    >>> format_gy(4.2345), format_gy(0.05234), format_gy(0.0), format_gy(None)
    ('4.23 Gy', '0.0523 Gy (52.3 mGy)', '0 Gy', '–')
    """
    if gy is None or not math.isfinite(float(gy)):
        return "–"
    gy = float(gy)
    if gy == 0.0:
        return "0 Gy"
    text = f"{_sig3(gy)} Gy"
    if abs(gy) < 0.1:
        text += f" ({_sig3(gy * 1e3)} mGy)"
    return text


def _sig3(x: float) -> str:
    """3 significant digits without exponent notation for everyday magnitudes."""
    if x == 0:
        return "0"
    digits = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:.{digits}f}"


# ----------------------------------------------------------------------------------------------
# matplotlib plumbing


def _pyplot() -> Any:
    import matplotlib

    if (not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
            and "MPLBACKEND" not in os.environ and os.name != "nt"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _dose_norm_cmap(vmax: float) -> tuple[Any, Any]:
    import matplotlib as mpl

    cmap = mpl.colormaps[DOSE_CMAP].with_extremes(under=tuple(_NO_DOSE_RGB))
    return mpl.colors.Normalize(vmin=0.0, vmax=max(float(vmax), 1e-12)), cmap


def _dose_colorbar(fig: Any, axes: Any, vmax: float, *, shrink: float = 0.8) -> Any:
    """Shared colour bar in Gy with the 2/3/5 Gy levels drawn across it when in range."""
    import matplotlib as mpl

    norm, cmap = _dose_norm_cmap(vmax)
    sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(sm, ax=axes, shrink=shrink, pad=0.02, extend="min", extendfrac=0.04,
                      aspect=30)
    cb.set_label("Skin dose (Gy)   [grey: no dose]")
    for level in _LEVELS_GY:
        if level < vmax:
            cb.ax.axhline(level, color="white", lw=2.2)
            cb.ax.axhline(level, color="black", lw=1.0)
    return cb


def dose_rgba(dose_gy: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """(n, 4) uint8 colours of doses on the figures' scale (0 to ``vmax``; zero is grey)."""
    d = np.asarray(dose_gy, dtype=float)
    top = float(vmax) if vmax is not None else (float(d.max()) if d.size else 1.0)
    norm, cmap = _dose_norm_cmap(top if top > 0 else 1.0)
    rgba = cmap(norm(d))
    rgba[d <= 0, :3] = _NO_DOSE_RGB
    return np.round(rgba * 255).astype(np.uint8)


def _vmax(result: Any, vmax: float | None) -> float:
    if vmax is not None:
        return float(vmax)
    d = np.asarray(result.dose_gy)
    return float(d.max()) if d.size and d.max() > 0 else 1.0


# ----------------------------------------------------------------------------------------------
# views of the phantom


def _project(triangles: np.ndarray, view: str) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3, 2) screen coordinates and (n,) depth toward the viewer (larger is nearer)."""
    sx, sy, toward, _, _ = VIEWS[view]
    basis = np.array([sx, sy], dtype=float).T  # (3, 2)
    xy = triangles @ basis
    depth = triangles.mean(axis=1) @ np.asarray(toward, dtype=float)
    return xy, depth


def _face_colors(dose: np.ndarray, normals: np.ndarray, toward: np.ndarray,
                 norm: Any, cmap: Any) -> np.ndarray:
    rgba = cmap(norm(dose))
    grey = dose <= 0
    if np.any(grey):
        cos = np.clip(normals[grey] @ toward, 0.0, 1.0)
        shade = 0.55 + 0.45 * cos
        rgba[grey, :3] = _NO_DOSE_RGB[None, :] * shade[:, None]
    return rgba


def _psd_visible(result: Any, view: str, xy: np.ndarray, depth: np.ndarray,
                 front: np.ndarray) -> bool:
    cell = result.psd_cell
    if cell is None or not front[cell]:
        return False
    p = xy[cell].mean(axis=0)
    centres = xy[front].mean(axis=1)
    near = np.hypot(*(centres - p).T) < 15.0
    return bool(depth[cell] >= depth[front][near].max() - 20.0) if near.any() else True


def _draw_view(ax: Any, result: Any, view: str, norm: Any, cmap: Any, *,
               mark_psd: bool = True) -> None:
    from matplotlib.collections import PolyCollection

    ph = result.phantom
    _, _, toward, letters, title = VIEWS[view]
    toward_v = np.asarray(toward, dtype=float)
    xy, depth = _project(ph.triangles, view)
    front = ph.normals @ toward_v > 0.0
    idx = np.flatnonzero(front)
    idx = idx[np.argsort(depth[idx], kind="stable")]  # far first
    colors = _face_colors(np.asarray(result.dose_gy)[idx], ph.normals[idx], toward_v, norm, cmap)
    pc = PolyCollection(xy[idx], facecolors=colors, edgecolors=colors, linewidths=0.25,
                        antialiaseds=False)
    ax.add_collection(pc)
    lo, hi = xy.reshape(-1, 2).min(axis=0), xy.reshape(-1, 2).max(axis=0)
    pad = _view_pad(ph)
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_title(title, fontsize=11)
    for x, letter, ha in ((0.0, letters[0], "left"), (1.0, letters[1], "right")):
        ax.text(x, 0.995, letter, transform=ax.transAxes, ha=ha, va="top", fontsize=12,
                fontweight="bold", color="0.25")
    if mark_psd and _psd_visible(result, view, xy, depth, front):
        p = xy[result.psd_cell].mean(axis=0)
        ax.plot(*p, marker="o", ms=13, mfc="none", mec="white", mew=3.0, zorder=5)
        ax.plot(*p, marker="o", ms=13, mfc="none", mec=_PSD_COLOR, mew=1.6, zorder=6)
        ax.plot(*p, marker="+", ms=8, color=_PSD_COLOR, mew=1.6, zorder=6)
        ax.annotate(f"PSD {format_gy(result.psd_gy)}", p, xytext=(10, 10),
                    textcoords="offset points", color=_PSD_COLOR,
                    fontsize=10, fontweight="bold", zorder=7,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                          "alpha": 0.8})


def _view_pad(phantom: Any) -> float:
    b = phantom.bounds
    return 0.03 * float((b[1] - b[0]).max())


def plot_dose_views(result: Any, views: Sequence[str] = ("anterior", "posterior", "left",
                                                         "right"),
                    *, axes: Sequence[Any] | None = None, vmax: float | None = None,
                    title: bool = True) -> Any:
    """The dose map on the phantom from several sides, one colour bar in Gy, the PSD marked.

    Parameters
    ----------
    result
        A :class:`~skindose.dosemap.SkinDoseMap`.
    views
        Names from :data:`VIEWS`: "anterior", "posterior", "left" (seen from the patient's
        left), "right".
    axes
        One Axes per view to draw into (default: a new figure, one row).
    vmax
        Top of the colour scale in Gy (default: the PSD).
    title
        Put the PSD and its location in the figure title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure. The PSD is marked (red circle) in every view where its cell faces the viewer
        and is not hidden. Corner letters: R/L patient right/left, A/P anterior/posterior.
    """
    views = tuple(views)
    for v in views:
        if v not in VIEWS:
            raise ValueError(f"unknown view {v!r}; known: {', '.join(VIEWS)}")
    top = _vmax(result, vmax)
    norm, cmap = _dose_norm_cmap(top)
    if axes is None:
        plt = _pyplot()
        b = result.phantom.bounds
        ext = b[1] - b[0]
        pad = 2 * _view_pad(result.phantom)
        widths = [abs(np.dot(VIEWS[v][0], ext)) + pad for v in views]
        height = ext[2] + pad
        w_in = 7.2 * sum(widths) / height * 1.1
        fig, axes = plt.subplots(1, len(views), figsize=(min(w_in, 14.0) + 1.4, 7.6),
                                 gridspec_kw={"width_ratios": widths, "wspace": 0.03},
                                 squeeze=False, layout="constrained")
        axes = list(axes[0])
    else:
        axes = list(axes)
        if len(axes) != len(views):
            raise ValueError("give one Axes per view")
        fig = axes[0].figure
    for ax, v in zip(axes, views, strict=True):
        _draw_view(ax, result, v, norm, cmap)
    _dose_colorbar(fig, axes, top)
    if title:
        fig.suptitle(_psd_title(result), fontsize=12)
    return fig


def _psd_title(result: Any) -> str:
    if result.is_reference_point_estimate:
        return (f"No skin dose map – reference-point estimate "
                f"{format_gy(result.psd_gy)}")
    loc = result.psd_location
    where = f" – {loc['label']}" if loc else ""
    return f"Peak skin dose {format_gy(result.psd_gy)}{where}"


# ----------------------------------------------------------------------------------------------
# unrolled cylinder


def _cylinder_axis(phantom: Any) -> tuple[float, float]:
    spec = getattr(phantom, "spec", {}) or {}
    params = spec.get("parameters", {})
    if spec.get("generator", "").endswith("cylinder") and "semi_axis_y_mm" in params:
        return 0.0, -float(params["semi_axis_y_mm"])
    raise ValueError("the unrolled map is drawn for cylinder phantoms only "
                     f"(this phantom is {getattr(phantom, 'name', '?')!r}); "
                     "pass axis_xy_mm to unroll about another axis")


def plot_unrolled(result: Any, *, ax: Any = None, vmax: float | None = None,
                  axis_xy_mm: tuple[float, float] | None = None) -> Any:
    """The skin of a cylinder phantom unrolled: angle around the axis (x) against z (y).

    Angle 0° is the posterior midline (where a PA beam enters), +90° the patient's right,
    -90° the patient's left, ±180° the anterior midline; this matches the posterior view
    (the patient's right on the viewer's right). The flat end caps are left out.

    Parameters
    ----------
    result
        A :class:`~skindose.dosemap.SkinDoseMap` on a cylinder phantom.
    ax
        Axes to draw into (default: a new figure).
    vmax
        Top of the colour scale in Gy (default: the PSD).
    axis_xy_mm
        (x, y) of the unrolling axis (default: the cylinder's axis; required for other
        phantoms).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.collections import PolyCollection

    ph = result.phantom
    cx, cy = axis_xy_mm if axis_xy_mm is not None else _cylinder_axis(ph)
    side = np.abs(ph.normals[:, 2]) < 0.7
    idx = np.flatnonzero(side)
    tri = ph.triangles[idx]
    phi = np.degrees(np.arctan2(-(tri[..., 0] - cx), tri[..., 1] - cy))  # (k, 3)
    # triangles across the ±180° seam: move their negative corners up by 360°, draw twice
    seam = (phi.max(axis=1) - phi.min(axis=1)) > 180.0
    phi[seam] = np.where(phi[seam] < 0, phi[seam] + 360.0, phi[seam])
    polys = np.stack([phi, tri[..., 2]], axis=-1)
    shifted = polys[seam].copy()
    shifted[..., 0] -= 360.0
    top = _vmax(result, vmax)
    norm, cmap = _dose_norm_cmap(top)
    dose = np.asarray(result.dose_gy)[idx]
    colors = cmap(norm(dose))
    colors[dose <= 0, :3] = _NO_DOSE_RGB
    all_polys = np.concatenate([polys, shifted])
    all_colors = np.concatenate([colors, colors[seam]])
    if ax is None:
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(10.5, 6.4))
    fig = ax.figure
    ax.add_collection(PolyCollection(all_polys, facecolors=all_colors, edgecolors=all_colors,
                                     linewidths=0.25, antialiaseds=False))
    ax.set_xlim(-180, 180)
    z = tri[..., 2]
    ax.set_ylim(z.min(), z.max())
    ticks = [-180, -135, -90, -45, 0, 45, 90, 135, 180]
    names = {-180: "\nanterior", -90: "\nleft", 0: "\nposterior", 90: "\nright",
             180: "\nanterior"}
    ax.set_xticks(ticks, [f"{t}°{names.get(t, '')}" for t in ticks])
    ax.set_xlabel("Angle around the cylinder axis, seen from behind the patient")
    ax.set_ylabel("z (mm, head end at 0)")
    ax.grid(True, color="white", lw=0.5, alpha=0.6)
    cell = result.psd_cell
    if cell is not None and side[cell]:
        c = ph.centroids[cell]
        p = (math.degrees(math.atan2(-(c[0] - cx), c[1] - cy)), c[2])
        ax.plot(*p, marker="o", ms=13, mfc="none", mec="white", mew=3.0, zorder=5)
        ax.plot(*p, marker="o", ms=13, mfc="none", mec=_PSD_COLOR, mew=1.6, zorder=6)
        ax.annotate(f"PSD {format_gy(result.psd_gy)}", p, xytext=(12, 12),
                    textcoords="offset points", color=_PSD_COLOR, fontweight="bold",
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                          "alpha": 0.85})
    _dose_colorbar(fig, ax, top, shrink=0.95)
    ax.set_title(f"Unrolled skin map ({ph.name}): {_psd_title(result)}", fontsize=11)
    return fig


# ----------------------------------------------------------------------------------------------
# timeline


def _cumulative_kerma(result: Any, counts: np.ndarray) -> np.ndarray | None:
    k = np.array([e.kerma_rp_gy or 0.0 for e in result.events], dtype=float)
    if not k.size or not np.any(k > 0):
        return None
    c = np.concatenate([[0.0], np.cumsum(k)])
    return c[np.clip(counts, 0, k.size)]


def plot_psd_timeline(result: Any, *, ax: Any = None, show_kerma: bool = True) -> Any:
    """PSD accumulated over the procedure, with the 2/3/5 Gy reference levels.

    Parameters
    ----------
    result
        A :class:`~skindose.dosemap.SkinDoseMap`.
    ax
        Axes to draw into (default: a new figure).
    show_kerma
        Also draw the cumulative reference-point air kerma Σ K_RP (grey, dashed) for
        comparison.

    Returns
    -------
    matplotlib.figure.Figure
        Reference levels are drawn only when they lie within the plotted range; the range is
        extended to the next level when the PSD (or Σ K_RP) reaches 60 % of it.
    """
    if ax is None:
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(9.0, 4.8))
    fig = ax.figure
    n = np.asarray(result.psd_timeline_event, dtype=np.int64)
    psd = np.asarray(result.psd_timeline_gy, dtype=float)
    if n.size == 0:
        ax.text(0.5, 0.5, "no PSD timeline (no skin map)", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    if n[0] != 0:
        n = np.concatenate([[0], n])
        psd = np.concatenate([[0.0], psd])
    marker = "o" if n.size <= 60 else None
    what = ("Reference-point estimate (no map)" if result.is_reference_point_estimate
            else "Peak skin dose (map)")
    ax.plot(n, psd, color="#0072B2", lw=2.2, marker=marker, ms=4, label=what)
    peak = float(psd.max())
    kerma = _cumulative_kerma(result, n) if show_kerma else None
    if kerma is not None:
        ax.plot(n, kerma, color="0.45", lw=1.4, ls="--",
                label="Σ K_RP (reference point, not skin dose)")
        peak = max(peak, float(kerma.max()))
    ytop = max(peak * 1.12, 1e-3)
    above = [lv for lv in _LEVELS_GY if lv > ytop]
    if above and peak >= 0.6 * above[0]:
        ytop = above[0] * 1.08
    if not any(lv <= ytop for lv in _LEVELS_GY):
        ax.text(0.99, 0.97, f"below the {'/'.join(f'{lv:g}' for lv in _LEVELS_GY)} Gy levels",
                transform=ax.transAxes, ha="right", va="top", fontsize=9, color="0.35")
    ax.set_ylim(0.0, ytop)
    ax.set_xlim(0, max(int(n.max()), 1))
    for level, color in zip(_LEVELS_GY, ("#E69F00", "#D55E00", "#CC79A7"), strict=True):
        if level <= ytop:
            ax.axhline(level, color=color, lw=1.2, ls=":", zorder=1)
            ax.text(0.005, level, f" {level:g} Gy", transform=ax.get_yaxis_transform(),
                    va="bottom", ha="left", color=color, fontsize=9, fontweight="bold")
    final = float(psd[-1])
    ax.annotate(f"PSD {format_gy(final)}", (n[-1], final), xytext=(-8, 8),
                textcoords="offset points", ha="right", color="#0072B2", fontweight="bold")
    ax.set_xlabel("Events included (RDSR order, numbered from 1)")
    ax.set_ylabel("Dose (Gy)")
    ax.set_title("Peak skin dose over the procedure")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=9, framealpha=0.9)
    return fig


# ----------------------------------------------------------------------------------------------
# beam geometry

# (screen x, screen y, title, (x label, y label), (left, right) edge words) of the two panels.
# Both panels have anterior up (screen y = -y), so they share the vertical scale.
_GEOMETRY_PANELS = (
    ((1, 0, 0), (0, -1, 0), "Seen from the feet", ("x (mm) – patient left →",
                                                    "anterior ↑ (−y, mm)"), ("R", "L")),
    ((0, 0, 1), (0, -1, 0), "Seen from the patient's left", ("z (mm) – head →",
                                                              "anterior ↑ (−y, mm)"),
     ("feet", "head")),
)
_MATTRESS_COLOR = "#e8dcc0"
_TABLE_COLOR = "#9c8a6a"


def _largest_events(result: Any, n: int) -> list[Any]:
    ev = [e for e in result.events if e.skipped is None]
    if any(e.max_dose_gy > 0 for e in ev):
        ev.sort(key=lambda e: e.max_dose_gy, reverse=True)
    else:
        ev.sort(key=lambda e: e.kerma_rp_gy or 0.0, reverse=True)
    return ev[:n]


def _event_angles(result: Any, e: Any) -> str:
    try:
        d = result.procedures[e.procedure_index]["events"][e.index]
    except (IndexError, KeyError, TypeError):
        return ""
    return format_angles(d.get("primary_angle_deg"), d.get("secondary_angle_deg"))


def _event_direction(result: Any, e: Any) -> np.ndarray | None:
    """Central-ray direction in P from the reported angles (DICOM patient-based angles)."""
    try:
        d = result.procedures[e.procedure_index]["events"][e.index]
        a = math.radians(float(d["primary_angle_deg"]))
        b = math.radians(float(d["secondary_angle_deg"]))
    except (IndexError, KeyError, TypeError, ValueError):
        return None
    return np.array([math.sin(a) * math.cos(b), -math.cos(a) * math.cos(b), math.sin(b)])


def _angles_of_direction(w: np.ndarray) -> tuple[float, float]:
    """Patient-based (primary, secondary) angles in degrees of a central-ray direction in P.

    Inverse of w = (sin a cos b, -cos a cos b, sin b): +primary LAO, +secondary CRA.
    """
    w = np.asarray(w, dtype=float)
    b = math.degrees(math.asin(float(np.clip(w[2], -1.0, 1.0))))
    a = math.degrees(math.atan2(float(w[0]), float(-w[1])))
    return a, b


def format_angles(primary: float | None, secondary: float | None) -> str:
    """C-arm angles in words: ``LAO 40° / CRA 25°`` (DICOM: +primary LAO, +secondary CRA)."""
    if primary is None or secondary is None:
        return ""

    def side(v: float, pos: str, neg: str) -> str:
        r = round(float(v))
        return "0°" if r == 0 else f"{pos if r > 0 else neg} {abs(r)}°"

    a = side(primary, "LAO", "RAO")
    b = side(secondary, "CRA", "CAU")
    return f"{a} / {b}"


def _beam_sets(result: Any, beams: Any) -> list[Any]:
    """Per-procedure BeamSets (None where a procedure has none)."""
    if beams is None:
        return list(getattr(result, "beams", ()) or ())
    if hasattr(beams, "event_index"):  # one BeamSet: the (first) procedure's
        return [beams]
    return list(beams)


def _event_rows(sets: list[Any], e: Any) -> tuple[Any, np.ndarray]:
    bs = sets[e.procedure_index] if e.procedure_index < len(sets) else None
    if bs is None or not getattr(bs, "n_beams", 0):
        return None, np.zeros(0, dtype=np.int64)
    return bs, np.flatnonzero(np.asarray(bs.event_index) == e.index)


def _projection_words(result: Any, e: Any, bs: Any, rows: np.ndarray) -> str:
    reported = _event_angles(result, e)
    if reported:
        return reported
    if bs is None or rows.size == 0:
        return ""
    first = format_angles(*_angles_of_direction(bs.w[rows[0]]))
    if rows.size == 1:
        return first
    return f"rotation {first} → {format_angles(*_angles_of_direction(bs.w[rows[-1]]))}"


def _dose_short(gy: float) -> str:
    """``60.4 mGy`` below 1 Gy, else ``1.23 Gy``."""
    gy = float(gy)
    if gy == 0.0 or not math.isfinite(gy):
        return format_gy(gy)
    return f"{_sig3(gy)} Gy" if abs(gy) >= 0.9995 else f"{_sig3(gy * 1e3)} mGy"


def _hull(points: np.ndarray) -> np.ndarray:
    """2D convex hull (Andrew's monotone chain), counter-clockwise."""
    pts = sorted({(float(x), float(y)) for x, y in np.asarray(points, dtype=float)})
    if len(pts) <= 2:
        return np.array(pts)

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    upper: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def _slab_layers(bs: Any) -> list[tuple[str, str, np.ndarray]]:
    """(name, colour, (8, 3) corners) of the mattress and the table top, or the whole slab."""
    c, axes, h = (np.asarray(bs.slab_center, float), np.asarray(bs.slab_axes, float),
                  np.asarray(bs.slab_half, float))
    m = float(getattr(bs, "mattress_thickness_mm", 0.0) or 0.0)
    t = float(getattr(bs, "table_thickness_mm", 0.0) or 0.0)
    if m > 0 and t > 0 and abs(m + t - 2 * h[2]) < 1e-6 * max(1.0, 2 * h[2]):
        bands = [("mattress", _MATTRESS_COLOR, h[2] - m, h[2]),
                 ("table top", _TABLE_COLOR, -h[2], h[2] - m)]
    else:
        bands = [("table + mattress", _TABLE_COLOR, -h[2], h[2])]
    out = []
    for name, color, lo, hi in bands:
        corners = np.array([c + a * axes[0] * h[0] + b * axes[1] * h[1] + s * axes[2]
                            for a in (-1, 1) for b in (-1, 1) for s in (lo, hi)])
        out.append((name, color, corners))
    return out


def _beam_drawing(ph: Any, bs: Any, rows: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Per beam row: focal spot, the 4 field corners at the skin depth, the skin point."""
    from skindose import kernel

    src = np.asarray(bs.source[rows], dtype=float)
    w = np.asarray(bs.w[rows], dtype=float)
    t, _ = kernel.first_hit_distance(src, w, ph.triangles)
    out = []
    for k, r in enumerate(rows.tolist()):
        hit = bool(np.isfinite(t[k]))
        d = float(t[k]) if hit else float(bs.sod_mm[r])
        corners = np.array([src[k] + d * (w[k] + su * bs.tan_u[r] * bs.u[r]
                                          + sv * bs.tan_v[r] * bs.v[r])
                            for su, sv in ((1, 1), (-1, 1), (-1, -1), (1, -1))])
        out.append({"source": src[k], "corners": corners, "end": src[k] + d * w[k],
                    "hit": np.array(hit)})
    return out


def plot_beam_geometry(result: Any, beams: Any = None, n_largest: int = 5, *,
                       axes: Sequence[Any] | None = None) -> Any:
    """The phantom, the table and the beams of the events that gave the most skin dose.

    Two panels with anterior up: seen from the feet (LAO/RAO) and from the patient's left
    (CRA/CAU). For each of the ``n_largest`` events (ranked by their largest cell dose) the
    focal spot (★), the field from the focal spot to the depth where the central ray enters
    the skin (shaded), the central ray and its skin entrance (●) are drawn, with the
    table-top and mattress slab. The side view is cropped to the beams. Without beams (a map
    built directly) only the entrance points are marked, with the central ray approximated from
    the reported angles when the procedures carry them.

    Parameters
    ----------
    result
        A :class:`~skindose.dosemap.SkinDoseMap`.
    beams
        A :class:`~skindose.geometry.beams.BeamSet` (of the first procedure) or one per
        procedure; default ``result.beams`` (filled by :func:`skindose.compute`).
    n_largest
        How many events to draw.
    axes
        Two Axes to draw into (default: a new figure sized to the drawing).

    Returns
    -------
    matplotlib.figure.Figure
        The legend gives each event's number (from 1, RDSR order), projection in words (the
        reported angles, else those of the placed beam) and largest cell dose.
    """
    from matplotlib.collections import PolyCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Polygon

    ph = result.phantom
    chosen = _largest_events(result, n_largest)
    sets = _beam_sets(result, beams)
    multi = len(getattr(result, "procedures", ())) > 1
    slab_bs = next((b for b in sets if b is not None and getattr(b, "n_beams", 0)), None)

    # ---- what to draw, in P
    events: list[dict[str, Any]] = []
    for k, e in enumerate(chosen):
        bs, rows = _event_rows(sets, e)
        label = (f"RDSR {e.procedure_index + 1} event {e.index + 1}" if multi
                 else f"event {e.index + 1}")
        proj = _projection_words(result, e, bs, rows)
        label += (f" · {proj}" if proj else "") + f" · max {_dose_short(e.max_dose_gy)}"
        drawn = _beam_drawing(ph, bs, rows) if rows.size else []
        entry = None if e.entrance_point_mm is None else np.asarray(e.entrance_point_mm, float)
        approx = None
        if not drawn and entry is not None:
            w = _event_direction(result, e)
            if w is not None:
                approx = np.array([entry - 650.0 * w, entry + 250.0 * w])
        events.append({"color": _OKABE_ITO[k % len(_OKABE_ITO)], "label": label,
                       "beams": drawn, "entry": entry, "approx": approx})
    any_beams = any(ev["beams"] for ev in events)

    # ---- extents: everything drawn, the phantom across the view, cropped along z to the beams
    p_all: list[np.ndarray] = [np.asarray(ph.bounds, dtype=float)]
    interest: list[np.ndarray] = []
    for ev in events:
        for b in ev["beams"]:
            interest += [b["source"][None], b["corners"], b["end"][None]]
        if ev["entry"] is not None:
            interest.append(ev["entry"][None])
        if ev["approx"] is not None:
            interest.append(ev["approx"])
    if result.psd_cell is not None:
        interest.append(np.asarray(ph.centroids[result.psd_cell], float)[None])
    pts = np.concatenate(p_all + interest)
    margin = 60.0
    lo, hi = pts.min(axis=0) - margin, pts.max(axis=0) + margin
    if interest:
        foc = np.concatenate(interest)
        lo[2], hi[2] = foc[:, 2].min() - 2 * margin, foc[:, 2].max() + 2 * margin
        lo[2], hi[2] = max(lo[2], ph.bounds[0][2] - margin), min(hi[2], ph.bounds[1][2] + margin)
    if slab_bs is not None:
        sl = np.concatenate([c for _, _, c in _slab_layers(slab_bs)])
        lo[:2] = np.minimum(lo[:2], sl[:, :2].min(axis=0) - 10.0)
        hi[:2] = np.maximum(hi[:2], sl[:, :2].max(axis=0) + 10.0)
    spans = [(lo[0], hi[0]), (lo[2], hi[2])]  # screen x of each panel
    v_lo, v_hi = -hi[1], -lo[1]  # screen y = -y

    if axes is None:
        plt = _pyplot()
        widths = [s[1] - s[0] for s in spans]
        height = v_hi - v_lo
        panel_h = 5.2
        scale = min(panel_h / height, 11.5 / sum(widths))
        fig_w = sum(widths) * scale + 1.6
        fig_h = height * scale + 1.0 + 0.28 * math.ceil((len(events) + 4) / 2)
        fig, axes = plt.subplots(1, 2, figsize=(fig_w, fig_h), layout="constrained",
                                 gridspec_kw={"width_ratios": widths, "wspace": 0.02})
    fig = axes[0].figure
    psd_cell = result.psd_cell
    for ax, (sx, sy, title, labels, letters), span in zip(axes, _GEOMETRY_PANELS, spans,
                                                          strict=True):
        basis = np.array([sx, sy], dtype=float).T
        toward = np.cross(sx, sy).astype(float)
        front = ph.normals @ toward > 0.0
        ax.add_collection(PolyCollection(ph.triangles[front] @ basis, facecolors="0.84",
                                         edgecolors="0.84", linewidths=0.2,
                                         antialiaseds=False, zorder=1))
        if slab_bs is not None:
            for _, color, corners in _slab_layers(slab_bs):
                ax.add_patch(Polygon(_hull(corners @ basis), closed=True, facecolor=color,
                                     edgecolor="#5c4d33", lw=0.8, alpha=0.85, zorder=2))
        for ev in events:
            color = ev["color"]
            for b in ev["beams"]:
                s2 = b["source"] @ basis
                cone = _hull(np.vstack([b["source"][None], b["corners"]]) @ basis)
                ax.add_patch(Polygon(cone, closed=True, facecolor=color, alpha=0.13,
                                     edgecolor="none", zorder=3))
                for q in b["corners"] @ basis:
                    ax.plot([s2[0], q[0]], [s2[1], q[1]], color=color, lw=0.7, alpha=0.8,
                            zorder=3)
                e2 = b["end"] @ basis
                ax.plot([s2[0], e2[0]], [s2[1], e2[1]], color=color, lw=2.0, zorder=4,
                        ls="-" if b["hit"] else "--")
                ax.plot(*s2, marker="*", ms=13, mfc=color, mec="black", mew=0.6, zorder=6)
            if ev["approx"] is not None:
                seg = ev["approx"] @ basis
                ax.annotate("", seg[1], seg[0], zorder=4,
                            arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.6,
                                        "ls": "--", "shrinkA": 0, "shrinkB": 0})
            if ev["entry"] is not None:
                ax.plot(*(ev["entry"] @ basis), marker="o", ms=7, mfc=color, mec="black",
                        zorder=6, ls="none")
        if psd_cell is not None:
            p = ph.centroids[psd_cell] @ basis
            ax.plot(*p, marker="o", ms=15, mfc="none", mec=_PSD_COLOR, mew=2.0, zorder=7,
                    ls="none")
        ax.set_xlim(*span)
        ax.set_ylim(v_lo, v_hi)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=11)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.grid(True, alpha=0.25)
        for x, letter, ha in ((0.01, letters[0], "left"), (0.99, letters[1], "right")):
            ax.text(x, 0.99, letter, transform=ax.transAxes, ha=ha, va="top",
                    fontsize=11, fontweight="bold", color="0.3")
    handles: list[Any] = [Line2D([], [], color=ev["color"], lw=2.4, label=ev["label"])
                          for ev in events]
    if any_beams:
        handles.append(Line2D([], [], ls="none", marker="*", ms=12, mfc="0.5", mec="black",
                              label="focal spot; shaded: field to the skin"))
    handles.append(Line2D([], [], ls="none", marker="o", ms=7, mfc="0.5", mec="black",
                          label="skin entrance of the central ray"))
    if psd_cell is not None:
        handles.append(Line2D([], [], ls="none", marker="o", ms=13, mfc="none",
                              mec=_PSD_COLOR, mew=2.0, label="peak skin dose"))
    if slab_bs is not None:
        handles += [Patch(facecolor=color, edgecolor="#5c4d33", label=name)
                    for name, color, _ in _slab_layers(slab_bs)]
    what = ("the beams" if any_beams else
            "entrance points (dashed: central ray from the reported angles, approximate)")
    fig.suptitle(f"The {len(chosen)} events with the largest skin dose (max: largest dose the "
                 f"event gave one cell): {what}", fontsize=11)
    outside = fig.get_layout_engine() is not None  # constrained: make room below the panels
    fig.legend(handles=handles, loc="outside lower center" if outside else "lower center",
               ncol=2, fontsize=9, frameon=False)
    return fig


# ----------------------------------------------------------------------------------------------
# all figures


def save_figures(result: Any, out_dir: str | os.PathLike[str], *, beams: Any = None,
                 dpi: int = 110) -> dict[str, Path]:
    """Write every figure that applies to ``result`` as PNG files.

    Parameters
    ----------
    result
        A :class:`~skindose.dosemap.SkinDoseMap`.
    out_dir
        Folder (created when missing).
    beams
        BeamSet(s) for the beam-geometry figure (default: ``result.beams``).
    dpi
        Resolution.

    Returns
    -------
    dict of str to Path
        ``dose_views`` (absent for a reference-point estimate), ``unrolled`` (cylinder
        phantoms only), ``psd_timeline``, ``beam_geometry`` (when any event was placed).
    """
    plt = _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    makers: list[tuple[str, Any]] = []
    if not result.is_reference_point_estimate:
        makers.append(("dose_views", lambda: plot_dose_views(result)))
        try:
            _cylinder_axis(result.phantom)
            makers.append(("unrolled", lambda: plot_unrolled(result)))
        except ValueError:
            pass
    makers.append(("psd_timeline", lambda: plot_psd_timeline(result)))
    if (any(b is not None for b in _beam_sets(result, beams))
            or any(e.entrance_point_mm is not None for e in result.events)):
        makers.append(("beam_geometry", lambda: plot_beam_geometry(result, beams)))
    paths: dict[str, Path] = {}
    for name, make in makers:
        fig = make()
        try:
            path = out / f"{name}.png"
            fig.savefig(path, dpi=dpi, facecolor="white", bbox_inches="tight")
            paths[name] = path
        finally:
            plt.close(fig)
    return paths
