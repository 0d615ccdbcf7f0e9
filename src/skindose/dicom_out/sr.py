"""Small builders for SR content items (PS3.3 C.17.3 SR Document Content Module).

Every item is a pydicom :class:`~pydicom.dataset.Dataset`; nothing is assembled by hand as
bytes. Value types and their attributes follow PS3.3 Table C.17.3-7 ("Value Type
Definitions") and C.18 (Content Item Macros): CONTAINER (C.18.8), TEXT (C.18.1), NUM (C.18.1,
Numeric Measurement Macro, Table C.18.1-1 with Floating Point Value when the decimal string
cannot hold the value exactly), CODE (C.18.2), UIDREF (C.18.6), COMPOSITE / IMAGE (C.18.3 /
C.18.4, SOP Instance Reference Macro), DATETIME (C.18.7).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DSequence
from pydicom.valuerep import format_number_as_ds

__all__ = ["Code", "code_item", "composite_item", "container", "num_item", "text_item",
           "uidref_item"]

# (value, scheme, meaning)
Code = tuple[str, str, str]


def code_ds(code: Code) -> Dataset:
    """A Code Sequence item (PS3.3 Table 8.8-1 Code Sequence Macro)."""
    value, scheme, meaning = code
    d = Dataset()
    d.CodeValue = value
    d.CodingSchemeDesignator = scheme
    d.CodeMeaning = meaning
    return d


def _item(rel: str | None, value_type: str, concept: Code) -> Dataset:
    d = Dataset()
    if rel is not None:
        d.RelationshipType = rel
    d.ValueType = value_type
    d.ConceptNameCodeSequence = DSequence([code_ds(concept)])
    return d


def container(concept: Code, children: Iterable[Dataset] = (), *, rel: str | None = "CONTAINS",
              template: str | None = None) -> Dataset:
    """A CONTAINER with SEPARATE continuity; ``template`` adds a DCMR Content Template item."""
    d = _item(rel, "CONTAINER", concept)
    d.ContinuityOfContent = "SEPARATE"
    if template is not None:
        t = Dataset()
        t.MappingResource = "DCMR"
        t.TemplateIdentifier = template
        d.ContentTemplateSequence = DSequence([t])
    kids = list(children)
    if kids:
        d.ContentSequence = DSequence(kids)
    return d


#: Typographic characters of skindose's own texts (notes, comments) that Latin-1 lacks, and
#: their plain spellings: so that a file needs UTF-8 only for names that do.
_PLAIN = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2192": "->",
                        "\u2190": "<-", "\u2265": ">=", "\u2264": "<=", "\u2248": "~",
                        "\u2260": "!=", "\u2018": "'", "\u2019": "'", "\u201c": '"',
                        "\u201d": '"', "\u2026": "...", "\u03a3": "sum ", "\u03bc": "\u00b5",
                        "\u2009": " ", "\u00a0": " "})


def text_item(concept: Code, text: str, *, rel: str = "CONTAINS") -> Dataset:
    """A TEXT item (Text Value is UT: no length limit that matters here).

    Dashes, arrows, comparison signs, quotes and Σ are spelled in plain characters (see
    ``_PLAIN``); every other character is kept.
    """
    d = _item(rel, "TEXT", concept)
    d.TextValue = str(text).translate(_PLAIN)
    return d


def code_item(concept: Code, value: Code, *, rel: str = "CONTAINS") -> Dataset:
    """A CODE item."""
    d = _item(rel, "CODE", concept)
    d.ConceptCodeSequence = DSequence([code_ds(value)])
    return d


def uidref_item(concept: Code, uid: str, *, rel: str = "CONTAINS") -> Dataset:
    """A UIDREF item."""
    d = _item(rel, "UIDREF", concept)
    d.UID = uid
    return d


def num_item(concept: Code, value: float, unit: Code, *, rel: str = "CONTAINS",
             children: Iterable[Dataset] = ()) -> Dataset:
    """A NUM item: Numeric Value (DS, at most 16 characters) and, when that string does not
    give back ``value`` exactly, Floating Point Value (FD) with the exact float64 (PS3.3 Table
    C.18.1-1: Floating Point Value is 1C, required if the Numeric Value has insufficient
    precision to represent the value as a string).

    Raises
    ------
    ValueError
        ``value`` is not finite (never write NaN or inf into a record).
    """
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"a NUM content item needs a finite value, not {value!r}")
    d = _item(rel, "NUM", concept)
    mv = Dataset()
    ds_text = format_number_as_ds(value)
    mv.NumericValue = ds_text
    if float(ds_text) != value:
        mv.FloatingPointValue = value
    mv.MeasurementUnitsCodeSequence = DSequence([code_ds(unit)])
    d.MeasuredValueSequence = DSequence([mv])
    kids = list(children)
    if kids:
        d.ContentSequence = DSequence(kids)
    return d


def composite_item(concept: Code, sop_class_uid: str, sop_instance_uid: str, *,
                   rel: str = "CONTAINS", value_type: str = "COMPOSITE",
                   children: Iterable[Dataset] = ()) -> Dataset:
    """A COMPOSITE (or IMAGE) item referencing one SOP instance."""
    d = _item(rel, value_type, concept)
    r = Dataset()
    r.ReferencedSOPClassUID = sop_class_uid
    r.ReferencedSOPInstanceUID = sop_instance_uid
    d.ReferencedSOPSequence = DSequence([r])
    kids = list(children)
    if kids:
        d.ContentSequence = DSequence(kids)
    return d


def num_value(item: Dataset) -> float | None:
    """The value of a NUM item: Floating Point Value when present, else Numeric Value."""
    mv = item.get("MeasuredValueSequence")
    if not mv:
        return None
    m = mv[0]
    if "FloatingPointValue" in m:
        return float(m.FloatingPointValue)
    if "NumericValue" in m:
        return float(m.NumericValue)
    return None


def concept_of(item: Dataset) -> Code | None:
    """(value, scheme, meaning) of an item's concept name, or None."""
    seq = item.get("ConceptNameCodeSequence")
    if not seq:
        return None
    c = seq[0]
    return (str(c.get("CodeValue", "")), str(c.get("CodingSchemeDesignator", "")),
            str(c.get("CodeMeaning", "")))


def _texts(ds: Dataset):
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value:
                yield from _texts(item)
        elif elem.VR in ("PN", "LO", "SH", "ST", "LT", "UT", "UC") and elem.value is not None:
            v = elem.value
            vals = list(v) if isinstance(v, MultiValue | list | tuple) else [v]
            for v in vals:
                yield str(v)


def set_character_set(ds: Dataset) -> str:
    """Set Specific Character Set (0008,0005) to the simplest one that holds every text value.

    ISO_IR 100 (Latin-1) when every value is Latin-1, else ISO_IR 192 (UTF-8) (PS3.3
    C.12.1.1.2). Latin-1 is preferred because DCMTK's VR checker does not support UTF-8 and
    warns on every UTF-8 file; names that need another script keep UTF-8.
    """
    try:
        for t in _texts(ds):
            t.encode("latin-1")
        charset = "ISO_IR 100"
    except UnicodeEncodeError:
        charset = "ISO_IR 192"
    ds.SpecificCharacterSet = charset
    return charset
