"""Patient phantoms: closed skin meshes in the patient frame, cut into skin cells.

>>> from skindose import phantoms
>>> p = phantoms.cylinder(cell_area_cm2=4.0)
>>> p.mesh.is_watertight, bool((p.areas_mm2 <= 400.0).all())
(True, True)

Generators: :func:`plane`, :func:`cylinder`, :func:`adult` (``arms="down"|"up"``,
``sex="male"|"female"``; also :func:`adult_arms_up`, :func:`adult_female`,
:func:`adult_female_arms_up`); :func:`load` reads any closed mesh trimesh reads; :func:`by_name`
picks one of them by name or path; :func:`default_phantom` picks the variant and size for a list
of procedures (arms raised for cardiac/chest work). Specifications and sources of
the built-in shapes: ``phantoms/*.toml`` at the repository root (copied into ``data/``).
Frame: DICOM patient coordinates (+x patient left, +y posterior, +z head), mm, origin on the
midline, on the table plane the back touches, at the top of the head.
"""

from __future__ import annotations

from skindose.phantoms._build import (
    adult,
    adult_arms_up,
    adult_female,
    adult_female_arms_up,
    available,
    by_name,
    cylinder,
    load,
    plane,
    variants,
)
from skindose.phantoms._default import default_phantom, is_cardiac_or_chest
from skindose.phantoms._phantom import Phantom, PhantomLike

__all__ = [
    "Phantom",
    "PhantomLike",
    "adult",
    "adult_arms_up",
    "adult_female",
    "adult_female_arms_up",
    "available",
    "by_name",
    "cylinder",
    "default_phantom",
    "is_cardiac_or_chest",
    "load",
    "plane",
    "variants",
]
