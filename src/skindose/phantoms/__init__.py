"""Patient phantoms: closed skin meshes in the patient frame, cut into skin cells.

>>> from skindose import phantoms
>>> p = phantoms.cylinder(cell_area_cm2=4.0)
>>> p.mesh.is_watertight, bool((p.areas_mm2 <= 400.0).all())
(True, True)

Generators: :func:`plane`, :func:`cylinder`, :func:`adult`; :func:`load` reads any closed mesh
trimesh reads; :func:`by_name` picks one of them by name or path. Specifications and sources of
the built-in shapes: ``phantoms/*.toml`` at the repository root (copied into ``data/``).
Frame: DICOM patient coordinates (+x patient left, +y posterior, +z head), mm, origin on the
midline, on the table plane the back touches, at the top of the head.
"""

from __future__ import annotations

from skindose.phantoms._build import adult, available, by_name, cylinder, load, plane
from skindose.phantoms._phantom import Phantom

__all__ = ["Phantom", "adult", "available", "by_name", "cylinder", "load", "plane"]
