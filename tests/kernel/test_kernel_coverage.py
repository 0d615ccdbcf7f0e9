"""Partial coverage: the dose map conserves the beam's fluence at any cell size.

Fluence invariant (corrections off, inverse square on): for a beam whose whole field lands on
the skin, ``sum_j dose_j * area_j * cos(phi_j) = K * srp**2 * Omega``, phi_j the angle between
the ray from the focal spot to cell j's centroid and its normal, Omega the solid angle of the
field pyramid. With half-tangents a, b the pyramid's solid angle is
``4 * arcsin(a * b / sqrt((1 + a**2) * (1 + b**2)))`` (the solid angle of a rectangular
pyramid; e.g. Mathar, "Solid angle of a rectangular plate", 2014). This is independent of how
the kernel computes the coverage: the expected value comes from the beam alone.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from kernel_scenes import needs_jit

from skindose import phantoms
from skindose.kernel import accumulate_dose

NO_SLAB = {
    "slab_center": np.zeros(3),
    "slab_axes": np.eye(3),
    "slab_half": np.array([1.0, 1.0, 1.0]),
    "max_path_factor": 3.0,
}
SID = 1000.0  # focal spot to detector, mm
SSD = 600.0  # focal spot to the skin along the central ray, mm
SRP = 700.0
KERMA = 1.0


def pyramid_solid_angle(a: float, b: float) -> float:
    """Solid angle (sr) of the pyramid with half-tangents a, b."""
    return 4.0 * math.asin(a * b / math.sqrt((1.0 + a * a) * (1.0 + b * b)))


def beam(target, w, u, field_mm: float, ssd: float = SSD) -> dict:
    """One beam aimed at ``target`` from ``ssd`` mm, square field ``field_mm`` at the detector."""
    w = np.asarray(w, float) / np.linalg.norm(w)
    u = np.asarray(u, float)
    u = u - (u @ w) * w
    u /= np.linalg.norm(u)
    t = field_mm / 2.0 / SID
    return {
        "source": (np.asarray(target, float) - ssd * w)[None],
        "u": u[None], "v": np.cross(w, u)[None], "w": w[None],
        "tan_u": np.array([t]), "tan_v": np.array([t]),
        "kerma": np.array([KERMA]), "srp_mm": np.array([SRP]),
        "slab_log_t0": np.array([0.0]),
    }  # fmt: skip


def fluence_ratio(ph, b: dict, occlusion: bool = True) -> tuple[float, np.ndarray]:
    """(sum dose * area * cos(phi)) / (K * srp^2 * Omega), and the dose map."""
    dose = accumulate_dose(ph.centroids, ph.normals, ph.triangles, **b, **NO_SLAB,
                           occlusion=occlusion, accel=ph.accel)
    s = b["source"][0]
    f = s - ph.centroids
    cos_phi = np.einsum("ij,ij->i", ph.normals, f) / np.linalg.norm(f, axis=1)
    got = float(np.sum(dose * ph.areas_mm2 * cos_phi))
    want = KERMA * SRP**2 * pyramid_solid_angle(b["tan_u"][0], b["tan_v"][0])
    return got / want, dose


@pytest.fixture(scope="module", params=[0.25, 1.0, 4.0], ids=lambda a: f"{a}cm2")
def plane(request):
    return phantoms.plane(cell_area_cm2=request.param)


@needs_jit
@pytest.mark.parametrize("angle_deg", [0.0, 30.0, 60.0])
@pytest.mark.parametrize("field_mm", [20.0, 50.0, 100.0, 200.0, 300.0])
def test_fluence_invariant_on_the_plane(plane, field_mm, angle_deg):
    # Anterior face of the plane phantom: y = -10, normal -y; tilt about the x axis.
    target = np.array([0.0, -10.0, -600.0])
    a = math.radians(angle_deg)
    w = (0.0, math.cos(a), math.sin(a))
    ratio, dose = fluence_ratio(plane, beam(target, w, (1.0, 0.0, 0.0), field_mm))
    assert ratio == pytest.approx(1.0, abs=0.005)
    assert np.all(dose >= 0.0) and np.all(np.isfinite(dose))


@needs_jit
def test_kap_at_normal_incidence(plane):
    # At normal incidence the invariant is the KAP check: sum dose * area within 1 % of
    # K_RP * field area at the RP (a 100 mm field at the detector: 70 mm at the RP).
    target = np.array([0.0, -10.0, -600.0])
    b = beam(target, (0.0, 1.0, 0.0), (1.0, 0.0, 0.0), 100.0)
    dose = accumulate_dose(plane.centroids, plane.normals, plane.triangles, **b, **NO_SLAB,
                           accel=plane.accel)
    field_rp = 100.0 * SRP / SID
    assert float(np.sum(dose * plane.areas_mm2)) == pytest.approx(KERMA * field_rp**2, rel=0.01)


def test_field_smaller_than_a_cell_lands_on_the_cells_it_covers():
    # 4 cm² cells (legs ≈ 28 mm) and a 5 mm field at the skin: the dose goes to the one to
    # four cells under the field, area-weighted, and nowhere else.
    ph = phantoms.plane(cell_area_cm2=4.0)
    target = np.array([3.3, -10.0, -611.1])
    b = beam(target, (0.0, 1.0, 0.0), (1.0, 0.0, 0.0), 5.0 * SID / SSD)
    ratio, dose = fluence_ratio(ph, b)
    assert ratio == pytest.approx(1.0, abs=0.005)
    lit = np.flatnonzero(dose)
    assert 1 <= lit.size <= 4
    # No cell holds more than the dose at its centroid, and the cell under the central ray
    # holds about (field area / cell area) of it.
    full = KERMA * SRP**2 / np.sum((ph.centroids[lit] - b["source"][0]) ** 2, axis=1)
    assert np.all(dose[lit] <= full * (1 + 1e-12))
    assert dose[lit].sum() / full.max() < 25.0 / ph.areas_mm2[lit].min() * 1.05


@needs_jit
def test_fluence_invariant_on_the_cylinder():
    ph = phantoms.cylinder(cell_area_cm2=1.0)
    # Elliptic cylinder, anterior apex at y = -200: an AP beam and a 30° oblique one.
    for w in ((0.0, 1.0, 0.0), (0.3, 1.0, 0.2)):
        ratio, _ = fluence_ratio(ph, beam((0.0, -200.0, -750.0), w, (1.0, 0.0, 0.0), 100.0))
        assert ratio == pytest.approx(1.0, abs=0.005)


@needs_jit
@pytest.mark.parametrize(("where", "w"), [("abdomen", (0.0, 1.0, 0.0)),
                                          ("chest", (0.0, -1.0, 0.0))])
def test_fluence_invariant_on_the_adult_trunk(where, w):
    ph = phantoms.adult(cell_area_cm2=1.0)
    mark = ph.landmarks[where].copy()
    # Aim at the skin: the trunk's front (AP) or back (PA, the table plane y = 0).
    target = mark.copy()
    target[1] = float(ph.bounds[0, 1]) if w[1] > 0 else 0.0
    b = beam(target, w, (1.0, 0.0, 0.0), 100.0, ssd=SSD + 100.0)
    b["source"] = (mark - (SSD + 200.0) * np.asarray(w))[None]
    ratio, dose = fluence_ratio(ph, b)
    assert ratio == pytest.approx(1.0, abs=0.005)
    assert np.count_nonzero(dose) > 50
