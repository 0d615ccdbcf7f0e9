"""phantoms._phantom.closed_problem (NumPy) against trimesh's is_watertight /
is_winding_consistent / volume (an independent implementation) on closed and broken meshes."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from skindose import phantoms
from skindose.errors import GeometryError
from skindose.phantoms._phantom import check_closed_arrays, closed_problem


def _cases():
    box = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    ico = trimesh.creation.icosphere(subdivisions=2)
    cyl = phantoms.cylinder(cell_area_cm2=16.0)
    out = {"box": (box.vertices, box.faces), "icosphere": (ico.vertices, ico.faces),
           "cylinder phantom": (cyl.vertices, cyl.faces)}
    f = np.array(ico.faces)
    out["open (one face removed)"] = (ico.vertices, f[1:])
    flipped = f.copy()
    flipped[3] = flipped[3, ::-1]
    out["one face flipped"] = (ico.vertices, flipped)
    out["inverted"] = (ico.vertices, f[:, ::-1])
    return out


@pytest.mark.parametrize("name", list(_cases()))
def test_agrees_with_trimesh(name):
    v, f = _cases()[name]
    m = trimesh.Trimesh(vertices=v, faces=f, process=False, validate=False)
    closed = m.is_watertight and m.is_winding_consistent
    assert (closed_problem(v, f, volume=False) is None) == closed
    want_ok = closed and m.volume > 0
    assert (closed_problem(v, f) is None) == want_ok
    if not want_ok:
        with pytest.raises(GeometryError, match="skin mesh"):
            check_closed_arrays(v, f, name)


def test_phantom_mesh_is_built_lazily_and_equals_the_arrays():
    p = phantoms.plane(cell_area_cm2=25.0)
    assert "mesh" not in p.__dict__  # nothing built yet
    m = p.mesh
    np.testing.assert_array_equal(m.vertices, p.vertices)
    np.testing.assert_array_equal(m.faces, p.faces)
    assert p.closed and m.is_watertight


@pytest.mark.parametrize(("vertices", "faces", "what"), [
    (np.zeros((3, 3)), np.array([[0, 1, 5]]), "index vertices it does not have"),
    (np.zeros((3, 3)), np.array([[0, 1, -1]]), "index vertices it does not have"),
    (np.zeros((3, 2)), np.array([[0, 1, 2]]), "must have"),
    (np.array([[0.0, 0, 0], [1, 0, 0], [np.nan, 1, 0]]), np.array([[0, 1, 2]]), "non-finite"),
    (np.zeros((3, 3)), np.zeros((0, 3), dtype=int), "at least one skin cell"),
])
def test_from_arrays_rejects_damaged_arrays(vertices, faces, what):
    with pytest.raises(GeometryError, match=what):
        phantoms.Phantom.from_arrays(vertices, faces, name="bad", landmarks={}, spec={},
                                     check=False)


def test_from_arrays_checks_closedness_by_default():
    ico = trimesh.creation.icosphere(subdivisions=1)
    with pytest.raises(GeometryError, match="bad: the skin mesh is not watertight"):
        phantoms.Phantom.from_arrays(ico.vertices, ico.faces[1:], name="bad", landmarks={},
                                     spec={})
