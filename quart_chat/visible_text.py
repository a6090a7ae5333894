r"""What text people see: Unicode properties for characters that render as nothing or reorder text.

Pure functions, no I/O. Rules for messages and display names are built from these, so both refuse
the same tricks: text made only of invisible characters (it looks like an empty message, or a
nameless author) and bidi overrides, embeddings and isolates (they make text display in another
order than it is read: ``"\u202egnp.exe"`` shows as ``exe.png``).

"Invisible" is taken from Unicode's properties, not from a list of tricks seen so far:
Default_Ignorable_Code_Point (zero-width spaces and joiners, the Hangul fillers, variation selectors,
tag characters, bidi controls, soft hyphen...), White_Space, and combining marks (Mn, Me), which
have no shape without a base. Python's ``unicodedata`` has no Default_Ignorable_Code_Point, so
it comes from precis-i18n's table (the one its PRECIS profiles use). One character is listed by
hand: U+2800 BRAILLE PATTERN BLANK, a symbol (So) that is drawn as an empty cell.
"""

from __future__ import annotations

import unicodedata

from precis_i18n.unicode import UnicodeData

_UCD = UnicodeData()

# Bidi_Class of the explicit formatting characters (UAX #9): embeddings and overrides
# (U+202A..U+202E: LRE, RLE, PDF, LRO, RLO) and isolates (U+2066..U+2069: LRI, RLI, FSI, PDI).
# The implicit marks (LRM, RLM, ALM) reorder nothing on their own and stay allowed.
BIDI_CONTROL_CLASSES = frozenset({"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"})
DRAWN_BLANK = frozenset({"\u2800"})  # not default-ignorable, not white space, yet draws nothing


def is_bidi_control(char: str) -> bool:
    return unicodedata.bidirectional(char) in BIDI_CONTROL_CLASSES


def is_default_ignorable(char: str) -> bool:
    """Unicode's Default_Ignorable_Code_Point: drawn as nothing when a font has no glyph for it."""
    return _UCD.default_ignorable(ord(char))


def is_invisible(char: str) -> bool:
    """Does ``char`` draw nothing of its own (ignorable, space, a mark without its base, a blank)?"""
    return (
        char.isspace()
        or is_default_ignorable(char)
        or unicodedata.category(char) in ("Mn", "Me")
        or char in DRAWN_BLANK
    )


def has_visible(text: str) -> bool:
    """Does ``text`` draw at least one character? (A ZWJ inside ``👩‍💻`` is fine: the emoji draw.)"""
    return not all(is_invisible(c) for c in text)


def has_bidi_control(text: str) -> bool:
    return any(is_bidi_control(c) for c in text)


def has_surrogate(text: str) -> bool:
    r"""A lone surrogate (``"\ud800"`` in JSON) is not a character: no encoder, store or page takes it."""
    return any(unicodedata.category(c) == "Cs" for c in text)
