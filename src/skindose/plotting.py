"""Figures of a :class:`~skindose.dosemap.SkinDoseMap` (matplotlib, imported inside functions).

Every function draws into Axes it is given (or creates a figure) and returns the Figure:

* :func:`plot_dose_views` - the dose map on the phantom seen from anterior, posterior, left and
  right, one shared colour bar, the threshold contours, the PSD marked;
* :func:`plot_skin_map` - the skin unrolled about the body's long axis, front and back, with a
  cm grid and anatomical landmarks (any phantom);
* :func:`plot_unrolled` - the skin of a cylinder phantom unrolled (angle around the axis vs z);
* :func:`plot_psd_timeline` - the PSD after each event with the 2/3/5 Gy levels;
* :func:`plot_beam_geometry` - the phantom and the beams of the largest events;
* :func:`save_figures` - the figures that apply, as PNG files.

Figures are :class:`matplotlib.figure.Figure` objects with their own Agg canvas: nothing here
touches pyplot or switches the caller's backend.

Colour scale (:func:`dose_scale`): a fixed clinical scale from 0 to ``dose_scale_max_gy``
(5 Gy by default) whenever the PSD reaches ``low_dose_limit_gy`` (1 Gy), so that equal colours
mean equal doses from one report to the next; doses above the top are drawn in
:data:`OVER_COLOR`. Below the limit the scale is fitted to the map and every colour bar says
"low dose: scale fitted". Colour map "viridis" (perceptually uniform, colour-blind safe);
cells with no dose are light grey, shaded to show the body's shape. The threshold contours
(2/3/5/10 Gy, :data:`skindose.settings.CLINICAL_LEVELS`) follow the cell edges between cells
below and at or above each level, so they enclose exactly the areas reported.

The views are drawn with a painter's algorithm (project the front-facing triangles, sort them
far to near, one ``PolyCollection``; each contour edge is drawn right after its cell), which
renders a 50 000-cell phantom in about a second.

Patient frame P (mm): +x patient left, +y posterior, +z head.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skindose.jsonsafe import format_dose
from skindose.settings import CLINICAL_LEVELS

__all__ = [
    "DOSE_CMAP",
    "OVER_COLOR",
    "VIEWS",
    "DoseScale",
    "contour_edges",
    "dose_rgba",
    "dose_scale",
    "format_angles",
    "format_gy",
    "new_figure",
    "plot_beam_geometry",
    "plot_dose_views",
    "plot_psd_timeline",
    "plot_skin_map",
    "plot_unrolled",
    "save_figures",
    "vertex_dose",
]

#: Colour map of the dose (colour-blind safe, perceptually uniform).
DOSE_CMAP = "viridis"
#: Colour of doses above the top of the fixed scale (Okabe-Ito reddish purple: far from
#: viridis' yellow top in lightness and hue for every common colour-vision deficiency).
OVER_COLOR = "#CC79A7"
_NO_DOSE_RGB = np.array([0.86, 0.86, 0.86])
_PSD_COLOR = "#d62728"
#: Okabe-Ito palette (colour-blind safe) for beams.
_OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#F0E442",
              "#000000")
_LEVELS_GY = tuple(lv for lv in CLINICAL_LEVELS.skin_levels_gy if lv <= 5.0)
#: Line width of each threshold contour (thicker for higher levels).
_CONTOUR_LW = {2.0: 0.7, 3.0: 1.3, 5.0: 1.9, 10.0: 2.5}

# name -> (screen x axis, screen y axis, unit vector toward the viewer, (left, right) edge
# letters, title). Letters: R/L patient right/left, A/P anterior/posterior.
VIEWS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float],
                       tuple[float, float, float], tuple[str, str], str]] = {
    "anterior": ((1, 0, 0), (0, 0, 1), (0, -1, 0), ("R", "L"), "Front"),
    "posterior": ((-1, 0, 0), (0, 0, 1), (0, 1, 0), ("L", "R"), "Back"),
    "left": ((0, 1, 0), (0, 0, 1), (1, 0, 0), ("A", "P"), "Left side"),
    "right": ((0, -1, 0), (0, 0, 1), (-1, 0, 0), ("P", "A"), "Right side"),
}

#: Kept for callers of the first releases: the one dose formatting is
#: :func:`skindose.jsonsafe.format_dose`.
format_gy = format_dose


# ----------------------------------------------------------------------------------------------
# matplotlib plumbing


def new_figure(figsize: tuple[float, float], **kwargs: Any) -> Any:
    """A :class:`matplotlib.figure.Figure` with its own Agg canvas (no pyplot, no backend
    switch); ``kwargs`` go to ``Figure`` (e.g. ``layout="constrained"``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def _pyplot() -> Any:
    """Deprecated shim for ``skindose.dicom_out.image`` (which should use
    ``matplotlib.image.imread`` itself): ``close`` does nothing (figures here are not managed
    by pyplot) and ``imread`` is ``matplotlib.image.imread``. Neither imports pyplot nor
    switches the backend."""
    import types

    import matplotlib.image

    return types.SimpleNamespace(close=lambda *_a, **_k: None, imread=matplotlib.image.imread)


class DoseScale:
    """The colour scale of one result: 0 to ``vmax`` Gy, fixed or fitted.

    Attributes
    ----------
    vmax
        Top of the scale (Gy).
    fitted
        True when the PSD is below the low-dose limit and the scale is fitted to the map.
    label
        Colour-bar label.
    """

    def __init__(self, vmax: float, fitted: bool) -> None:
        self.vmax = max(float(vmax), 1e-9)
        self.fitted = bool(fitted)
        self.milli = self.vmax < 0.9995
        unit = "mGy" if self.milli else "Gy"
        if fitted:
            self.label = f"LOW DOSE: scale fitted to this map, 0–{format_dose(self.vmax)}\n" \
                         f"Skin dose ({unit})   [grey: no dose]"
        else:
            self.label = (f"Skin dose ({unit}), fixed clinical scale 0–{self.vmax:g} Gy\n"
                          "[grey: no dose; pink: above the scale]")

    def norm_cmap(self) -> tuple[Any, Any]:
        """(Normalize, Colormap) in Gy."""
        import matplotlib as mpl

        cmap = mpl.colormaps[DOSE_CMAP].with_extremes(under=tuple(_NO_DOSE_RGB),
                                                       over=OVER_COLOR)
        return mpl.colors.Normalize(vmin=0.0, vmax=self.vmax), cmap

    def lut(self) -> list[str]:
        """The 256 colours of the scale as ``#rrggbb`` (for the 3-D view)."""
        import matplotlib as mpl

        cmap = mpl.colormaps[DOSE_CMAP].resampled(256)
        return [mpl.colors.to_hex(cmap(i)) for i in range(256)]


def dose_scale(result: Any) -> DoseScale:
    """The colour scale of ``result`` (see the module docstring).

    Reads ``dose_scale_max_gy`` and ``low_dose_limit_gy`` from ``result.settings`` (defaults
    of :class:`skindose.settings.Settings` when absent).
    """
    from skindose.settings import Settings

    s = result.settings if isinstance(getattr(result, "settings", None), Mapping) else {}
    default = Settings()
    top = float(s.get("dose_scale_max_gy") or default.dose_scale_max_gy)
    low = float(s.get("low_dose_limit_gy", default.low_dose_limit_gy))
    d = np.asarray(result.dose_gy)
    psd = float(d.max()) if d.size else 0.0
    if psd >= low:
        return DoseScale(top, fitted=False)
    return DoseScale(psd if psd > 0 else 1e-3, fitted=True)


def _scale(result: Any, vmax: float | None) -> DoseScale:
    return dose_scale(result) if vmax is None else DoseScale(vmax, fitted=False)


def _dose_colorbar(fig: Any, scale: DoseScale, *, ax: Any = None, cax: Any = None,
                   shrink: float = 0.8) -> Any:
    """Colour bar with the threshold levels drawn across it when in range."""
    import matplotlib as mpl
    from matplotlib.ticker import FuncFormatter

    norm, cmap = scale.norm_cmap()
    sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
    extend = "both" if not scale.fitted else "min"
    kw: dict[str, Any] = {"extend": extend, "extendfrac": 0.04}
    if cax is not None:
        cb = fig.colorbar(sm, cax=cax, **kw)
    else:
        cb = fig.colorbar(sm, ax=ax, shrink=shrink, pad=0.02, aspect=30, **kw)
    cb.set_label(scale.label, fontsize=9)
    if scale.milli:
        cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 1e3:g}"))
    for level in CLINICAL_LEVELS.skin_levels_gy:
        if level < scale.vmax:
            cb.ax.axhline(level, color="white", lw=_CONTOUR_LW.get(level, 1.0) + 1.6)
            cb.ax.axhline(level, color="black", lw=_CONTOUR_LW.get(level, 1.0))
    return cb


def dose_rgba(dose_gy: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """(n, 4) uint8 colours of doses on a 0 to ``vmax`` scale (zero grey, above the top
    :data:`OVER_COLOR`); ``vmax`` default: the largest dose."""
    d = np.asarray(dose_gy, dtype=float)
    top = float(vmax) if vmax is not None else (float(d.max()) if d.size else 1.0)
    norm, cmap = DoseScale(top if top > 0 else 1.0, fitted=False).norm_cmap()
    rgba = cmap(norm(d))
    rgba[d <= 0, :3] = _NO_DOSE_RGB
    return np.round(rgba * 255).astype(np.uint8)


def vertex_dose(result: Any) -> np.ndarray:
    """(n_vertices,) float64: per-vertex dose, the area-weighted mean of the adjacent faces.

    Smooths: its maximum is below the PSD. Viewers that colour by vertex should use the
    per-face values instead.
    """
    mesh = result.phantom.mesh
    faces = np.asarray(mesh.faces, dtype=np.int64)
    nv = len(mesh.vertices)
    area = np.asarray(result.phantom.areas_mm2, dtype=float)
    dose = np.asarray(result.dose_gy, dtype=float)
    w = np.bincount(faces.ravel(), weights=np.repeat(area, 3), minlength=nv)
    s = np.bincount(faces.ravel(), weights=np.repeat(area * dose, 3), minlength=nv)
    return np.divide(s, w, out=np.zeros(nv), where=w > 0)


def contour_edges(result: Any, levels: Sequence[float] | None = None
                  ) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """Threshold contours on the mesh: the cell edges between a cell below and a cell at or
    above each level.

    Returns
    -------
    dict of level to (segments, cells)
        ``segments`` (k, 2, 3) float64 edge end points (mm), ``cells`` (k,) int64 the cell on
        the high side of each edge. Levels above the PSD (or with no edge) are left out.
    """
    levels = CLINICAL_LEVELS.skin_levels_gy if levels is None else tuple(levels)
    d = np.asarray(result.dose_gy, dtype=float)
    mesh = result.phantom.mesh
    adj = np.asarray(mesh.face_adjacency, dtype=np.int64)
    edges = np.asarray(mesh.face_adjacency_edges, dtype=np.int64)
    verts = np.asarray(mesh.vertices, dtype=float)
    out: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    if not d.size or adj.size == 0:
        return out
    for lv in levels:
        if lv > d.max():
            continue
        hi = d >= lv
        cross = hi[adj[:, 0]] != hi[adj[:, 1]]
        if not cross.any():
            continue
        a = adj[cross]
        cells = np.where(hi[a[:, 0]], a[:, 0], a[:, 1])
        out[float(lv)] = (verts[edges[cross]], cells)
    return out


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


def _painter_collection(polys: np.ndarray, colors: np.ndarray, order: np.ndarray,
                        contours: Mapping[float, tuple[np.ndarray, np.ndarray]],
                        project: Any, keep: np.ndarray) -> Any:
    """One PolyCollection: cells in ``order`` (far first), each contour edge right after the
    cell on its high side (so nearer cells hide it); ``project`` maps (k, 2, 3) points to
    (k, 2, 2) screen points; edges of cells not in ``keep`` are left out."""
    from matplotlib.collections import PolyCollection

    rank = np.full(keep.shape[0], -1, dtype=np.int64)
    rank[order] = np.arange(order.size)
    items: list[np.ndarray] = [polys[order]]
    keys = [np.arange(order.size, dtype=float)]
    face = [colors]
    edge = [colors]
    lws = [np.full(order.size, 0.25)]
    for lv, (seg, cells) in contours.items():
        ok = keep[cells] & (rank[cells] >= 0)
        if not ok.any():
            continue
        s2 = project(seg[ok])
        items.append(s2)
        keys.append(rank[cells[ok]] + 0.5)
        n = s2.shape[0]
        face.append(np.zeros((n, 4)))
        edge.append(np.tile([0.0, 0.0, 0.0, 1.0], (n, 1)))
        lws.append(np.full(n, _CONTOUR_LW.get(lv, 1.0)))
    k = np.concatenate(keys)
    sort = np.argsort(k, kind="stable")
    # one (n, 3, 2) array: a contour edge (2 points) as a degenerate triangle (its last point
    # repeated), which draws the same line; matplotlib takes an array far faster than a list
    verts = np.concatenate([c if c.shape[1] == 3 else np.concatenate([c, c[:, -1:]], axis=1)
                            for c in items])
    pc = PolyCollection(verts[sort],
                        facecolors=np.concatenate(face)[sort],
                        edgecolors=np.concatenate(edge)[sort],
                        linewidths=np.concatenate(lws)[sort], antialiaseds=False,
                        )
    return pc


def _draw_view(ax: Any, result: Any, view: str, norm: Any, cmap: Any, *,
               mark_psd: bool = True, label_psd: bool = True,
               contours: Mapping[float, tuple[np.ndarray, np.ndarray]] | None = None,
               limits: tuple[np.ndarray, np.ndarray] | None = None) -> bool:
    """Draw one view; returns whether the PSD was marked."""
    ph = result.phantom
    sx, sy, toward, letters, title = VIEWS[view]
    toward_v = np.asarray(toward, dtype=float)
    basis = np.array([sx, sy], dtype=float).T
    xy, depth = _project(ph.triangles, view)
    front = ph.normals @ toward_v > 0.0
    idx = np.flatnonzero(front)
    idx = idx[np.argsort(depth[idx], kind="stable")]  # far first
    colors = _face_colors(np.asarray(result.dose_gy)[idx], ph.normals[idx], toward_v, norm, cmap)
    ax.add_collection(_painter_collection(xy, colors, idx, contours or {},
                                          lambda seg: seg @ basis, front))
    if limits is None:
        lo, hi = xy.reshape(-1, 2).min(axis=0), xy.reshape(-1, 2).max(axis=0)
        pad = _view_pad(ph)
        limits = (lo - pad, hi + pad)
    ax.set_xlim(limits[0][0], limits[1][0])
    ax.set_ylim(limits[0][1], limits[1][1])
    ax.set_aspect("equal", adjustable="datalim", anchor="N")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.patch.set_visible(False)  # a label near the edge is not hidden by the next view
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_title(title, fontsize=10, pad=3)
    for x, letter, ha in ((0.0, letters[0], "left"), (1.0, letters[1], "right")):
        ax.text(x, 0.995, letter, transform=ax.transAxes, ha=ha, va="top", fontsize=11,
                fontweight="bold", color="0.25")
    if mark_psd and _psd_visible(result, view, xy, depth, front):
        p = xy[result.psd_cell].mean(axis=0)
        _mark_psd(ax, p, f"PSD {format_dose(result.psd_gy)}" if label_psd else None)
        return True
    return False


def _mark_psd(ax: Any, p: Any, text: str | None) -> None:
    ax.plot(*p, marker="o", ms=13, mfc="none", mec="white", mew=3.0, zorder=5)
    ax.plot(*p, marker="o", ms=13, mfc="none", mec=_PSD_COLOR, mew=1.6, zorder=6)
    ax.plot(*p, marker="+", ms=8, color=_PSD_COLOR, mew=1.6, zorder=6)
    if text:
        x0, x1 = ax.get_xlim()
        right = (p[0] - x0) / ((x1 - x0) or 1.0) > 0.5
        ax.annotate(text, p, xytext=(-9 if right else 9, 9), textcoords="offset points",
                    ha="right" if right else "left", color=_PSD_COLOR, annotation_clip=False,
                    fontsize=9, fontweight="bold", zorder=7,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                          "alpha": 0.85})


def _view_pad(phantom: Any) -> float:
    b = phantom.bounds
    return 0.03 * float((b[1] - b[0]).max())


def plot_dose_views(result: Any, views: Sequence[str] = ("anterior", "posterior", "left",
                                                         "right"),
                    *, axes: Sequence[Any] | None = None, vmax: float | None = None,
                    title: bool = True, contours: bool = True,
                    height_in: float = 6.0) -> Any:
    """The dose map on the phantom from several sides, one colour bar, the PSD marked.

    Parameters
    ----------
    result
        A :class:`~skindose.dosemap.SkinDoseMap`.
    views
        Names from :data:`VIEWS`: "anterior", "posterior", "left" (seen from the patient's
        left), "right".
    axes
        One Axes per view to draw into (default: a new figure, one row, each view at the
        same scale in mm, no gaps).
    vmax
        Top of the colour scale in Gy (default: :func:`dose_scale`).
    title
        Put the PSD and its location in the figure title.
    contours
        Draw the threshold contours (:func:`contour_edges`).
    height_in
        Height of the views in inches (new figure only).

    Returns
    -------
    matplotlib.figure.Figure
        The PSD is marked (red circle) in every view where its cell faces the viewer and is
        not hidden, and labelled with its value once. Corner letters: R/L patient
        right/left, A/P anterior/posterior.
    """
    views = tuple(views)
    for v in views:
        if v not in VIEWS:
            raise ValueError(f"unknown view {v!r}; known: {', '.join(VIEWS)}")
    scale = _scale(result, vmax)
    norm, cmap = scale.norm_cmap()
    ph = result.phantom
    limits: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(views)
    cax = None
    if axes is None:
        # the same mm-per-inch in every view; axes placed edge to edge (no layout engine)
        pad = _view_pad(ph)
        ext = []
        for i, v in enumerate(views):
            xy, _ = _project(ph.triangles, v)
            lo, hi = xy.reshape(-1, 2).min(axis=0) - pad, xy.reshape(-1, 2).max(axis=0) + pad
            limits[i] = (lo, hi)
            ext.append(hi - lo)
        height = max(e[1] for e in ext)
        s = height_in / height  # inch per mm
        min_w = 1.25  # inch: room for the view's title
        widths = [max(e[0] * s, min_w) for e in ext]
        for i, w in enumerate(widths):  # widen narrow views about their centre
            lo, hi = limits[i]
            c, half = 0.5 * (lo[0] + hi[0]), 0.5 * w / s
            limits[i] = (np.array([c - half, hi[1] - height]), np.array([c + half, hi[1]]))
        gap, left, cb_w, cb_room = 0.08, 0.1, 0.22, 1.25
        top_room = 0.55 if title else 0.3
        fig_w = left + sum(widths) + gap * (len(views) - 1) + 0.25 + cb_w + cb_room
        fig_h = height_in + top_room + 0.15
        fig = new_figure((fig_w, fig_h))
        axes = []
        x = left
        for w in widths:
            axes.append(fig.add_axes((x / fig_w, 0.15 / fig_h, w / fig_w, height_in / fig_h)))
            x += w + gap
        cax = fig.add_axes(((x + 0.25 - gap) / fig_w, 0.15 / fig_h + 0.08 * height_in / fig_h,
                            cb_w / fig_w, 0.84 * height_in / fig_h))
    else:
        axes = list(axes)
        if len(axes) != len(views):
            raise ValueError("give one Axes per view")
        fig = axes[0].figure
    edges = contour_edges(result) if contours else {}
    labelled = False
    for ax, v, lim in zip(axes, views, limits, strict=True):
        marked = _draw_view(ax, result, v, norm, cmap, label_psd=not labelled, contours=edges,
                            limits=lim)
        labelled = labelled or marked
    if cax is not None:
        _dose_colorbar(fig, scale, cax=cax)
    else:
        _dose_colorbar(fig, scale, ax=axes)
    if title:
        fig.suptitle(_psd_title(result), fontsize=12, y=0.995, va="top")
    return fig


def _psd_title(result: Any) -> str:
    if result.is_reference_point_estimate:
        return ("No skin dose map – reference-point estimate "
                f"{format_dose(result.psd_gy)} (a cross-check of the reported K_RP)")
    loc = result.psd_location
    where = f" – {loc['label']}" if loc else ""
    return f"Peak skin dose {format_dose(result.psd_gy)}{where}"


# ----------------------------------------------------------------------------------------------
# unrolled skin maps


def _body_axis(phantom: Any) -> tuple[float, float, float, float]:
    """(x, y) of the body's long axis and the trunk's semi-axes (a along x, b along y; mm)."""
    spec = getattr(phantom, "spec", {}) or {}
    params = spec.get("parameters", {}) or {}
    labels = spec.get("labels", {}) or {}
    if spec.get("generator", "").endswith("cylinder") and "semi_axis_y_mm" in params:
        b = float(params["semi_axis_y_mm"])
        a = float(params.get("semi_axis_x_mm", b))
        return 0.0, -b, a, b
    if labels.get("scheme") == "adult":
        sc = np.asarray(labels.get("scale", (1, 1, 1)), dtype=float)
        tr = labels["layout"]["trunk"]
        a, b = tr["semi_axes"]
        return 0.0, float(tr["center_y"]) * sc[1], float(a) * sc[0], float(b) * sc[1]
    lo, hi = np.asarray(phantom.bounds, dtype=float)
    c = 0.5 * (lo + hi)
    return float(c[0]), float(c[1]), 0.5 * float(hi[0] - lo[0]), 0.5 * float(hi[1] - lo[1])


class _EllipseArc:
    """Arc length (cm) along an ellipse x = a sin t, y = b cos t from t = 0 (the midline)."""

    def __init__(self, a: float, b: float) -> None:
        self.t = np.linspace(0.0, math.pi, 2001)
        ds = np.hypot(a * np.cos(self.t), b * np.sin(self.t))
        self.s = np.concatenate([[0.0], np.cumsum(0.5 * (ds[1:] + ds[:-1]) * np.diff(self.t))])
        self.s /= 10.0
        self.a, self.b = a, b

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Signed arc length of the ellipse point at the parametric angle of (x, y)."""
        t = np.arctan2(x / self.a, y / self.b)
        return np.sign(t) * np.interp(np.abs(t), self.t, self.s)


def _zones(phantom: Any) -> list[tuple[float, str]]:
    """(z in mm, name of the part below) of the anatomical zone boundaries, top first."""
    labels = (getattr(phantom, "spec", {}) or {}).get("labels", {}) or {}
    names = {"head_bottom": "neck", "trunk_top": "chest", "chest_end": "abdomen",
             "abdomen_end": "pelvis", "trunk_bottom": "thighs", "knee": "lower legs"}
    if labels.get("scheme") == "adult":
        sz = float(np.asarray(labels.get("scale", (1, 1, 1)), dtype=float)[2])
        zones = {k: float(v) * sz for k, v in labels["layout"]["zones"].items()}
    elif "fractions" in labels:
        zones = {k: float(labels["top_z_mm"]) - f * float(labels["height_mm"])
                 for k, f in labels["fractions"].items()}
    else:
        return []
    return [(z, names.get(k, k)) for k, z in sorted(zones.items(), key=lambda kv: -kv[1])]


def plot_skin_map(result: Any, *, vmax: float | None = None, contours: bool = True) -> Any:
    """The skin unrolled about the body's long axis: front and back, cm grid, landmarks.

    Each skin cell whose normal points away from the long axis and is within 45° of
    horizontal is placed at (arc length along the trunk's elliptical cross-section from the
    midline to the cell's parametric angle, height), both in cm; the front panel is seen from
    the front (patient's right on the left), the back panel from behind. Arc length 0 is the
    midline; the panel edges are the left and right sides. Limbs are placed at the angle they
    lie at, so they cover the trunk's sides as in a lateral view. Horizontal
    lines mark the anatomical zones of the phantom's labels.

    Parameters
    ----------
    result
        A :class:`~skindose.dosemap.SkinDoseMap`.
    vmax
        Top of the colour scale in Gy (default: :func:`dose_scale`).
    contours
        Draw the threshold contours.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ph = result.phantom
    cx, cy, sa, sb = _body_axis(ph)
    arc = _EllipseArc(sa, sb)
    scale = _scale(result, vmax)
    norm, cmap = scale.norm_cmap()
    c = np.asarray(ph.centroids, dtype=float)
    n = np.asarray(ph.normals, dtype=float)
    radial = np.stack([c[:, 0] - cx, c[:, 1] - cy], axis=1)
    rlen = np.hypot(*radial.T)
    outward = (np.einsum("ij,ij->i", radial, n[:, :2]) > 0) & (np.abs(n[:, 2]) < 0.71)
    tri = np.asarray(ph.triangles, dtype=float)
    dose = np.asarray(result.dose_gy, dtype=float)
    edges = contour_edges(result) if contours else {}
    lo_z, hi_z = float(ph.bounds[0][2]), float(ph.bounds[1][2])
    half = float(arc.s[-1]) / 2.0 + 3.0  # cm: a quarter of the trunk's girth, and a margin
    fig_h = 7.6
    panel_h = fig_h - 1.4
    s = panel_h / ((hi_z - lo_z) / 10.0 + 4.0)  # inch per cm
    panel_w = 2 * half * s
    fig = new_figure((2 * panel_w + 3.0, fig_h))
    fw, fh = fig.get_size_inches()
    axes = [fig.add_axes((0.65 / fw, 0.8 / fh, panel_w / fw, panel_h / fh)),
            fig.add_axes(((0.65 + panel_w + 0.3) / fw, 0.8 / fh, panel_w / fw, panel_h / fh))]
    cax = fig.add_axes(((0.65 + 2 * panel_w + 0.55) / fw, 0.8 / fh + 0.1 * panel_h / fh,
                        0.2 / fw, 0.8 * panel_h / fh))
    labelled = False
    for ax, (name, toward, sign) in zip(axes, (("Front (seen from the front)", -1.0, 1.0),
                                               ("Back (seen from behind)", 1.0, -1.0)),
                                        strict=True):
        # arc length from the panel's midline, + toward the viewer's right
        def unroll(p: np.ndarray, toward: float = toward, sign: float = sign) -> np.ndarray:
            x, y = sign * (p[..., 0] - cx), toward * (p[..., 1] - cy)
            return np.stack([arc(x, y), p[..., 2] / 10.0], axis=-1)

        ang_c = np.arctan2(sign * (c[:, 0] - cx), toward * (c[:, 1] - cy))
        keep = outward & (np.abs(ang_c) <= 0.5 * math.pi + 0.05)
        polys = unroll(tri)
        # no cell straddling the seam behind this panel
        span = np.ptp(polys[..., 0], axis=1)
        keep &= span < 0.5 * half
        idx = np.flatnonzero(keep)
        idx = idx[np.argsort(rlen[idx], kind="stable")]  # far from the axis drawn last
        colors = cmap(norm(dose[idx]))
        colors[dose[idx] <= 0, :3] = _NO_DOSE_RGB

        def project(seg: np.ndarray, unroll: Any = unroll) -> np.ndarray:
            return unroll(seg)

        ekeep = {lv: (seg, cells) for lv, (seg, cells) in edges.items()}
        ax.add_collection(_painter_collection(polys, colors, idx, ekeep, project, keep))
        ax.set_xlim(-half, half)
        ax.set_ylim(lo_z / 10.0 - 2.0, hi_z / 10.0 + 2.0)
        ax.set_aspect("equal")
        ax.set_xticks(np.arange(-10 * math.floor(half / 10), half + 0.1, 10.0))
        ax.set_yticks(np.arange(10 * math.ceil(lo_z / 100.0), hi_z / 10.0 + 0.1, 10.0))
        ax.grid(True, color="0.55", lw=0.4, alpha=0.5)
        ax.set_axisbelow(False)
        ax.tick_params(labelsize=7)
        ax.set_title(name, fontsize=10)
        ax.axvline(0.0, color="0.3", lw=0.8, ls="--")
        sides = ("patient's right", "patient's left") if toward < 0 else \
            ("patient's left", "patient's right")
        ax.text(0.01, 0.995, sides[0], transform=ax.transAxes, ha="left", va="top", fontsize=8,
                color="0.25")
        ax.text(0.99, 0.995, sides[1], transform=ax.transAxes, ha="right", va="top",
                fontsize=8, color="0.25")
        zones = _zones(ph)
        tops = [hi_z] + [z for z, _ in zones]
        for (z, part), ztop in zip(zones, tops, strict=False):
            ax.axhline(z / 10.0, color="0.35", lw=0.6, ls=":")
            ax.text(-half + 0.6, z / 10.0 + 0.4, part, fontsize=7, color="0.2", va="bottom",
                    ha="left", bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 0.5})
            del ztop
        if zones:
            ax.text(-half + 0.6, zones[0][0] / 10.0 + 6.0, "head", fontsize=7, color="0.2",
                    bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 0.5})
        cell = result.psd_cell
        if cell is not None and keep[cell]:
            p = unroll(c[cell][None])[0]
            _mark_psd(ax, p, None if labelled else f"PSD {format_dose(result.psd_gy)}")
            labelled = True
    axes[0].set_ylabel("height (cm, top of the head at 0)", fontsize=8)
    fig.text((0.65 + panel_w + 0.15) / fw, 0.3 / fh,
             "cm around the body from the midline (along the trunk's surface; limbs beside it)",
             ha="center", va="bottom", fontsize=8)
    _dose_colorbar(fig, scale, cax=cax)
    fig.suptitle(f"Skin map, unrolled ({ph.name}): {_psd_title(result)}", fontsize=11,
                 y=0.99, va="top")
    return fig


#: The adult's unrolled map under the name ``skindose.dicom_out.image`` looks for.
plot_unrolled_adult = plot_skin_map


def _cylinder_axis(phantom: Any) -> tuple[float, float]:
    spec = getattr(phantom, "spec", {}) or {}
    params = spec.get("parameters", {})
    if spec.get("generator", "").endswith("cylinder") and "semi_axis_y_mm" in params:
        return 0.0, -float(params["semi_axis_y_mm"])
    raise ValueError("the unrolled map is drawn for cylinder phantoms only "
                     f"(this phantom is {getattr(phantom, 'name', '?')!r}); "
                     "pass axis_xy_mm to unroll about another axis, or use plot_skin_map")


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
        Top of the colour scale in Gy (default: :func:`dose_scale`).
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
    scale = _scale(result, vmax)
    norm, cmap = scale.norm_cmap()
    dose = np.asarray(result.dose_gy)[idx]
    colors = cmap(norm(dose))
    colors[dose <= 0, :3] = _NO_DOSE_RGB
    all_polys = np.concatenate([polys, shifted])
    all_colors = np.concatenate([colors, colors[seam]])
    if ax is None:
        fig = new_figure((10.5, 6.4), layout="constrained")
        ax = fig.add_subplot()
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
        _mark_psd(ax, p, f"PSD {format_dose(result.psd_gy)}")
    _dose_colorbar(fig, scale, ax=ax, shrink=0.95)
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

    For a reference-point estimate (no map) the curve is labelled as what it is: the
    reference-point estimate, a cross-check of the reported K_RP, not a peak skin dose.

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
        fig = new_figure((9.0, 4.4), layout="constrained")
        ax = fig.add_subplot()
    fig = ax.figure
    n = np.asarray(result.psd_timeline_event, dtype=np.int64)
    psd = np.asarray(result.psd_timeline_gy, dtype=float)
    if n.size == 0:
        ax.text(0.5, 0.5, "no timeline (no skin map)", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    if n[0] != 0:
        n = np.concatenate([[0], n])
        psd = np.concatenate([[0.0], psd])
    marker = "o" if n.size <= 60 else None
    rp = bool(result.is_reference_point_estimate)
    what = ("Reference-point estimate (no map; Σ K_RP × factors)" if rp
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
        # top left: the curve ends top right, where its value is labelled
        ax.text(0.01, 0.97, f"below the {'/'.join(f'{lv:g}' for lv in _LEVELS_GY)} Gy levels",
                transform=ax.transAxes, ha="left", va="top", fontsize=9, color="0.35")
    ax.set_ylim(0.0, ytop)
    ax.set_xlim(0, max(int(n.max()), 1))
    for level, color in zip(_LEVELS_GY, ("#E69F00", "#D55E00", "#CC79A7"), strict=False):
        if level <= ytop:
            ax.axhline(level, color=color, lw=1.2, ls=":", zorder=1)
            ax.text(0.005, level, f" {level:g} Gy", transform=ax.get_yaxis_transform(),
                    va="bottom", ha="left", color=color, fontsize=9, fontweight="bold")
    final = float(psd[-1])
    tag = "RP estimate" if rp else "PSD"
    ax.annotate(f"{tag} {format_dose(final)}", (n[-1], final), xytext=(-8, 8),
                textcoords="offset points", ha="right", color="#0072B2", fontweight="bold")
    ax.set_xlabel("Events included (RDSR order, numbered from 1)")
    ax.set_ylabel("Dose (Gy)")
    ax.set_title("Reference-point estimate over the procedure (no skin map)" if rp
                 else "Peak skin dose over the procedure")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=2, fontsize=9,
              frameon=False)
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


def _beam_drawing(bs: Any, rows: np.ndarray, entry: np.ndarray | None
                  ) -> list[dict[str, np.ndarray]]:
    """Per beam row: focal spot, the 4 field corners at the skin depth, the skin point.

    The skin depth is that of the event's stored entrance point
    (:attr:`EventResult.entrance_point_mm`) along each row's central ray, or the row's
    source-to-isocentre distance when the event has none (drawn dashed).
    """
    src = np.asarray(bs.source[rows], dtype=float)
    w = np.asarray(bs.w[rows], dtype=float)
    out = []
    for k, r in enumerate(rows.tolist()):
        hit = entry is not None
        d = float(np.dot(entry - src[k], w[k])) if hit else float(bs.sod_mm[r])
        if not (d > 0 and math.isfinite(d)):
            d, hit = float(bs.sod_mm[r]), False
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
        label += (f" · {proj}" if proj else "") + f" · max {format_dose(e.max_dose_gy)}"
        entry = None if e.entrance_point_mm is None else np.asarray(e.entrance_point_mm, float)
        drawn = _beam_drawing(bs, rows, entry) if rows.size else []
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
        widths = [s[1] - s[0] for s in spans]
        height = v_hi - v_lo
        panel_h = 5.2
        scale = min(panel_h / height, 11.5 / sum(widths))
        fig_w = sum(widths) * scale + 1.6
        fig_h = height * scale + 1.0 + 0.28 * math.ceil((len(events) + 4) / 2)
        fig = new_figure((fig_w, fig_h), layout="constrained")
        axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": widths, "wspace": 0.02})
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
        ``dose_views`` and ``skin_map`` (absent for a reference-point estimate), ``unrolled``
        (cylinder phantoms only), ``psd_timeline``, ``beam_geometry`` (when any event was
        placed).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    makers: list[tuple[str, Any]] = []
    if not result.is_reference_point_estimate:
        makers.append(("dose_views", lambda: plot_dose_views(result)))
        makers.append(("skin_map", lambda: plot_skin_map(result)))
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
        path = out / f"{name}.png"
        fig.savefig(path, dpi=dpi, facecolor="white", bbox_inches="tight",
                    metadata={"Software": None})
        paths[name] = path
    return paths
