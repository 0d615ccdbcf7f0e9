"""Figures of a SkinDoseMap: non-trivial PNGs, views, timeline levels, beam geometry."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from skindose import phantoms
from skindose.dosemap import EventResult, SkinDoseMap
from skindose.rdsr.synthetic import example_procedure

matplotlib = pytest.importorskip("matplotlib")

from skindose import plotting  # noqa: E402

N_EVENTS = 8


def make_result(phantom=None, *, peak_gy: float = 4.2, device: str = "Siemens",
                reference_point: bool = False) -> SkinDoseMap:
    """A SkinDoseMap with a Gaussian hot spot on the upper back, left of the midline."""
    ph = phantom if phantom is not None else _cylinder()
    proc = example_procedure(n_events=N_EVENTS)
    c = ph.centroids
    hot = np.array([40.0, 0.0, -450.0])
    back = ph.normals[:, 1] > 0.2
    dose = np.where(back, peak_gy * np.exp(-((c - hot) ** 2).sum(axis=1) / (2 * 70.0**2)), 0.0)
    dose[dose < 0.01 * peak_gy] = 0.0
    events = []
    for i, ev in enumerate(proc.events):
        missed = i == 3
        events.append(EventResult(
            index=i, procedure_index=0, uid=ev.uid, kerma_rp_gy=ev.kerma_rp_gy,
            kap_gym2=ev.kap_gym2,
            entrance_point_mm=None if missed else (40.0 + 5 * i, 0.0, -450.0),
            entrance_label=None if missed else "upper back, 4 cm left of midline",
            max_dose_gy=0.0 if missed else 0.1 * (i + 1), skin_factor=None if missed else 1.4,
            field_side_skin_cm=None if missed else 11.0, kap_check=None if missed else 1.02,
            skipped="central ray missed the phantom" if missed else None))
    pd = proc.to_dict()
    pd["device"]["manufacturer"] = device
    return SkinDoseMap(
        phantom=ph, dose_gy=np.zeros(ph.n_cells) if reference_point else dose,
        events=tuple(events),
        psd_timeline_gy=np.linspace(dose.max() / N_EVENTS, dose.max(), N_EVENTS),
        psd_timeline_event=np.arange(1, N_EVENTS + 1), procedures=(pd,),
        reference_totals={"A": {"kerma_rp_total_gy": 0.1, "kap_total_gym2": 0.002}},
        settings={"backscatter": True, "medium": "tissue", "thresholds_gy": [2.0, 3.0, 5.0]},
        provenance=("placement: vendor profile siemens_axiom_artis",),
        warnings=("event 4: the central ray missed the phantom",),
        is_reference_point_estimate=reference_point, reference_point_estimate_gy=1.9)


_CACHE: dict[str, object] = {}


def _cylinder():
    if "cyl" not in _CACHE:
        _CACHE["cyl"] = phantoms.cylinder(cell_area_cm2=4.0)
    return _CACHE["cyl"]


def assert_nontrivial_png(path: Path, min_colors: int = 30) -> None:
    """Decodes, has a sensible size, many distinct colours and is not blank."""
    import matplotlib.image as mimg

    img = mimg.imread(path)
    assert img.ndim == 3 and img.shape[0] >= 200 and img.shape[1] >= 300, img.shape
    rgb = np.round(img[..., :3] * 255).astype(np.int64).reshape(-1, 3)
    n_colors = len(np.unique((rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]))
    assert n_colors > min_colors, n_colors
    assert (rgb != 255).any(axis=1).mean() > 0.05  # more than 5 % non-white pixels


@pytest.fixture(scope="module")
def result() -> SkinDoseMap:
    return make_result()


@pytest.fixture(scope="module")
def figures(result, tmp_path_factory) -> dict[str, Path]:
    return plotting.save_figures(result, tmp_path_factory.mktemp("fig"))


def test_save_figures_writes_every_figure(figures):
    assert set(figures) == {"dose_views", "skin_map", "unrolled", "psd_timeline",
                            "beam_geometry"}
    for path in figures.values():
        assert_nontrivial_png(path)


def test_dose_views_use_the_colour_map_and_mark_the_psd(result):
    import matplotlib.pyplot as plt

    fig = plotting.plot_dose_views(result)
    try:
        texts = [t.get_text() for ax in fig.axes for t in ax.texts]
        assert any(t.startswith("PSD 4.") for t in texts)  # visible in the posterior view
        assert "Peak skin dose 4." in fig._suptitle.get_text()
        assert any("Gy" in ax.get_ylabel() for ax in fig.axes)  # the colour bar
    finally:
        plt.close(fig)


def test_views_project_as_documented():
    # a point on the patient's left (+x) appears on the viewer's right from the front
    tri = np.array([[[100.0, 0.0, 0.0], [100.0, 0.0, 1.0], [101.0, 0.0, 0.0]]])
    assert plotting._project(tri, "anterior")[0][0, 0, 0] > 0
    assert plotting._project(tri, "posterior")[0][0, 0, 0] < 0
    with pytest.raises(ValueError, match="unknown view"):
        plotting.plot_dose_views(make_result(), views=("top",))


def test_unrolled_only_for_cylinders():
    adult = phantoms.adult(cell_area_cm2=16.0)
    r = SkinDoseMap(phantom=adult, dose_gy=np.zeros(adult.n_cells), events=(),
                    psd_timeline_gy=[], psd_timeline_event=[])
    with pytest.raises(ValueError, match="cylinder"):
        plotting.plot_unrolled(r)


@pytest.mark.parametrize(("peak", "shown"), [(0.5, []), (1.5, [2.0]), (2.7, [2.0, 3.0]),
                                             (6.0, [2.0, 3.0, 5.0])])
def test_timeline_levels_only_in_range(peak, shown):
    import matplotlib.pyplot as plt

    r = make_result(peak_gy=peak)
    fig = plotting.plot_psd_timeline(r, show_kerma=False)
    try:
        ax = fig.axes[0]
        levels = sorted(t.get_text().strip() for t in ax.texts if t.get_text().strip()
                        .endswith(" Gy") and not t.get_text().startswith("PSD"))
        assert levels == sorted(f"{s:g} Gy" for s in shown)
        assert ax.get_ylim()[1] >= peak
    finally:
        plt.close(fig)


def test_reference_point_estimate_has_no_map_figures(tmp_path):
    paths = plotting.save_figures(make_result(reference_point=True), tmp_path)
    assert "dose_views" not in paths and "unrolled" not in paths
    assert "psd_timeline" in paths


def test_beam_geometry_with_a_beamset(tmp_path):
    import matplotlib.pyplot as plt

    from skindose.geometry.beams import beams_for

    r = make_result()
    beams = beams_for(example_procedure(n_events=N_EVENTS), r.phantom)
    fig = plotting.plot_beam_geometry(r, beams, n_largest=3)
    try:
        fig.savefig(tmp_path / "b.png")
        labels = [t.get_text() for t in fig.legends[0].texts]
        assert sum(lab.startswith("event ") for lab in labels) == 3
        assert "event 8" in labels[0] or any(lab.startswith("event 8 ") for lab in labels)
    finally:
        plt.close(fig)
    assert_nontrivial_png(tmp_path / "b.png")


def _white_band(path: Path) -> float:
    """Longest run of all-white pixel rows, as a fraction of the image height."""
    import matplotlib.image as mimg

    img = mimg.imread(path)[..., :3]
    white = (img > 0.98).all(axis=(1, 2))
    best = run = 0
    for w in white:
        run = run + 1 if w else 0
        best = max(best, run)
    return best / white.size


@pytest.fixture(scope="module")
def with_beams() -> SkinDoseMap:
    import dataclasses

    from skindose.geometry.beams import beams_for

    r = make_result()
    return dataclasses.replace(r, beams=(beams_for(example_procedure(n_events=N_EVENTS),
                                                   r.phantom),))


def test_beam_geometry_uses_the_stored_beams(with_beams, tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    r = with_beams
    fig = plotting.plot_beam_geometry(r, n_largest=4)  # no beams argument: result.beams
    try:
        labels = [t.get_text() for t in fig.legends[0].texts]
        events = [lab for lab in labels if lab.startswith("event ")]
        assert len(events) == 4
        # number, projection in words, max dose
        assert events[0].startswith("event 8 · ") and "max 800 mGy" in events[0]
        assert all(("LAO" in lab or "RAO" in lab or "0° /" in lab) for lab in events), events
        assert any("focal spot" in lab for lab in labels)
        assert {"mattress", "table top"} <= set(labels)
        feet, side = fig.axes[:2]
        for ax in (feet, side):
            # a field polygon per event, the two slab layers
            assert sum(isinstance(p, Polygon) for p in ax.patches) >= 4 + 2
        assert feet.get_ylim() == side.get_ylim()
        # the side view is cropped to the beams, not the whole body
        zb = r.phantom.bounds[:, 2]
        assert np.ptp(side.get_xlim()) < 0.8 * (zb[1] - zb[0])
        # sources drawn: the focal spots lie within the axes
        bs = r.beams[0]
        for e in plotting._largest_events(r, 4):
            src = bs.source[np.flatnonzero(bs.event_index == e.index)[0]]
            lo, hi = feet.get_xlim(), feet.get_ylim()
            assert lo[0] <= src[0] <= lo[1] and hi[0] <= -src[1] <= hi[1]
        fig.savefig(tmp_path / "g.png", dpi=80, facecolor="white", bbox_inches="tight")
    finally:
        plt.close(fig)
    assert_nontrivial_png(tmp_path / "g.png")
    assert _white_band(tmp_path / "g.png") < 0.1  # no big empty bands


def test_save_figures_draws_the_stored_beams(with_beams, tmp_path, monkeypatch):
    seen = {}
    real = plotting.plot_beam_geometry

    def spy(result, beams=None, *a, **k):
        fig = real(result, beams, *a, **k)
        seen["labels"] = [t.get_text() for t in fig.legends[0].texts]
        return fig

    monkeypatch.setattr(plotting, "plot_beam_geometry", spy)
    paths = plotting.save_figures(with_beams, tmp_path)
    assert "beam_geometry" in paths
    assert any("focal spot" in lab for lab in seen["labels"])


def test_beam_geometry_without_beams_marks_entrances(result):
    import matplotlib.pyplot as plt

    fig = plotting.plot_beam_geometry(result, n_largest=3)
    try:
        labels = [t.get_text() for t in fig.legends[0].texts]
        assert sum(lab.startswith("event ") for lab in labels) == 3
        assert not any("focal spot" in lab for lab in labels)
        assert "entrance points" in fig._suptitle.get_text()
    finally:
        plt.close(fig)


@pytest.mark.parametrize(("a", "b"), [(0.0, 0.0), (40.0, 25.0), (-30.0, -20.0), (90.0, 0.0),
                                      (-135.0, 10.0)])
def test_angles_of_direction_invert_the_patient_angles(a, b):
    ar, br = math.radians(a), math.radians(b)
    w = np.array([math.sin(ar) * math.cos(br), -math.cos(ar) * math.cos(br), math.sin(br)])
    assert plotting._angles_of_direction(w) == pytest.approx((a, b), abs=1e-9)


def test_format_gy():
    assert plotting.format_gy(4.2345) == "4.23 Gy"
    assert plotting.format_gy(12.345) == "12.3 Gy"
    assert plotting.format_gy(0.05234) == "52.3 mGy"
    assert plotting.format_angles(-30.2, 24.6) == "RAO 30° / CRA 25°"
    assert plotting.format_angles(0.3, -0.2) == "0° / 0°"


def test_no_pyplot_and_no_backend_switch(result, tmp_path):
    backend = matplotlib.get_backend()
    fig = plotting.plot_dose_views(result)
    assert type(fig.canvas).__name__ == "FigureCanvasAgg"
    plotting.save_figures(result, tmp_path)
    assert matplotlib.get_backend() == backend
    import ast

    tree = ast.parse(Path(plotting.__file__).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any("pyplot" in m or "kernel" in m for m in imported), imported
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "use"]
    assert not calls  # no matplotlib.use(...)


@pytest.mark.parametrize(("peak", "fitted"), [(4.2, False), (1.5, False), (0.0146, True)])
def test_clinical_colour_scale_is_fixed_above_the_low_dose_limit(peak, fitted):
    r = make_result(peak_gy=peak)
    s = plotting.dose_scale(r)
    assert s.fitted is fitted
    assert s.vmax == pytest.approx(r.psd_gy if fitted else 5.0, rel=1e-9)
    assert ("LOW DOSE: scale fitted" in s.label) is fitted
    # the same dose has the same colour in a 4.2 Gy and a 1.5 Gy report
    a, b = make_result(peak_gy=4.2), make_result(peak_gy=1.5)
    na, ca = plotting.dose_scale(a).norm_cmap()
    nb, cb = plotting.dose_scale(b).norm_cmap()
    assert np.allclose(ca(na(1.2)), cb(nb(1.2)))
    assert np.allclose(ca(na(7.0)), matplotlib.colors.to_rgba(plotting.OVER_COLOR))


def test_contours_enclose_exactly_the_cells_above_the_level(result):
    edges = plotting.contour_edges(result, levels=(2.0, 3.0, 99.0))
    assert 99.0 not in edges
    d = result.dose_gy
    faces = np.asarray(result.phantom.mesh.faces)
    for lv, (seg, cells) in edges.items():
        assert (d[cells] >= lv).all()
        # every edge is shared by a cell >= lv and one < lv (independent check on vertices)
        for (p, q), c in zip(seg[:50], cells[:50], strict=False):
            vi = [int(np.argmin(np.abs(result.phantom.mesh.vertices - x).sum(axis=1)))
                  for x in (p, q)]
            sharing = np.flatnonzero(np.isin(faces, vi).sum(axis=1) == 2)
            assert len(sharing) == 2 and c in sharing
            other = sharing[sharing != c][0]
            assert d[other] < lv


def test_psd_is_labelled_once_in_the_views(result):
    fig = plotting.plot_dose_views(result)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_text().startswith("PSD")]
    assert len(texts) == 1


def test_views_do_not_overlap_and_have_no_gap(result):
    fig = plotting.plot_dose_views(result)
    boxes = [ax.get_position() for ax in fig.axes[:4]]
    for i in range(len(boxes) - 1):
        a, b = boxes[i], boxes[i + 1]
        assert a.x1 <= b.x0 + 1e-9  # side by side, titles cannot overlap
        assert b.x0 - a.x1 < 0.02  # no gap
    titles = [ax.get_title() for ax in fig.axes[:4]]
    assert titles == ["Front", "Back", "Left side", "Right side"]


def test_skin_map_on_the_adult(tmp_path):
    adult = phantoms.adult(cell_area_cm2=16.0)
    back = (adult.normals[:, 1] > 0.5) & (adult.centroids[:, 2] > -600)
    r = SkinDoseMap(phantom=adult, dose_gy=np.where(back, 3.5, 0.0), events=(),
                    psd_timeline_gy=[3.5], psd_timeline_event=[1])
    fig = plotting.plot_skin_map(r)
    front, rear = fig.axes[:2]
    assert "Front" in front.get_title() and "Back" in rear.get_title()
    labels = {t.get_text() for ax in (front, rear) for t in ax.texts}
    assert {"chest", "abdomen", "pelvis"} <= labels
    fig.savefig(tmp_path / "m.png", dpi=60)
    assert_nontrivial_png(tmp_path / "m.png", min_colors=10)


def test_timeline_of_a_reference_point_estimate_says_so():
    r = make_result(reference_point=True)
    fig = plotting.plot_psd_timeline(r)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert not any(t.startswith("PSD") for t in texts)
    assert any(t.startswith("RP estimate") for t in texts)
    assert "Peak skin dose" not in ax.get_title()
