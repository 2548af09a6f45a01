"""The memory sets the app offers: letters, digits and random patterns, on any grid.

The letters are the package's 9 × 7 font (:data:`hopfield.LETTERS`); the
digits are a 9 × 7 font of their own (:data:`DIGITS`). On a finer grid a
glyph is resampled (nearest neighbour) into a centred box of the font's
aspect ratio with a one-cell margin, so a 32 × 32 "A" is the same letter
with more neurons.
"""

from __future__ import annotations

import numpy as np

from ..lab.letters import LETTERS
from ..spins import random_patterns

__all__ = ["DIGITS", "GLYPH_SHAPE", "glyph_grid", "memory_set"]

#: The fonts' own shape: rows, columns.
GLYPH_SHAPE = (9, 7)

#: Digits 0-9 as 9 rows of 7 columns (rows separated by spaces), '#' is +1 and
#: '.' is -1, as the letters.
DIGITS: dict[str, tuple[str, ...]] = {
    "0": tuple(".#####. #.....# #....## #...#.# #..#..# #.#...# ##....# #.....# .#####.".split()),
    "1": tuple("...#... ..##... .#.#... ...#... ...#... ...#... ...#... ...#... .#####.".split()),
    "2": tuple(".#####. #.....# ......# .....#. ...##.. ..#.... .#..... #...... #######".split()),
    "3": tuple(".#####. #.....# ......# ......# ..####. ......# ......# #.....# .#####.".split()),
    "4": tuple("....##. ...#.#. ..#..#. .#...#. #....#. ####### .....#. .....#. .....#.".split()),
    "5": tuple("####### #...... #...... ######. ......# ......# ......# #.....# .#####.".split()),
    "6": tuple("..####. .#..... #...... #...... ######. #.....# #.....# #.....# .#####.".split()),
    "7": tuple("####### ......# .....#. ....#.. ...#... ..#.... ..#.... ..#.... ..#....".split()),
    "8": tuple(".#####. #.....# #.....# #.....# .#####. #.....# #.....# #.....# .#####.".split()),
    "9": tuple(".#####. #.....# #.....# #.....# .###### ......# ......# .....#. .####..".split()),
}

#: The named sets: label characters drawn from the fonts.
SETS: dict[str, str] = {
    "A-C": "ABC",
    "A-G": "ABCDEFG",
    "A-Z": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "HOTX": "HOTX",
    "0-4": "01234",
    "0-9": "0123456789",
}


def _bitmap(label: str) -> np.ndarray:
    rows = LETTERS.get(label) or DIGITS[label]
    flat = np.frombuffer("".join(rows).encode("ascii"), dtype=np.uint8) == ord("#")
    return flat.reshape(GLYPH_SHAPE)


def glyph_grid(label: str, shape: tuple[int, int]) -> np.ndarray:
    """One glyph (a letter A–Z or a digit 0–9) as ±1 spins on a grid.

    Parameters
    ----------
    label : str
        One character of :data:`hopfield.LETTERS` or :data:`DIGITS`.
    shape : tuple of int
        The grid ``(rows, columns)``; the font's own 9 × 7 is returned as is.

    Returns
    -------
    numpy.ndarray
        ``int8`` ±1 of shape ``(rows * columns,)``, row-major.
    """
    bits = _bitmap(label)
    h, w = shape
    gh, gw = GLYPH_SHAPE
    if (h, w) == GLYPH_SHAPE:
        return np.where(bits, 1, -1).astype(np.int8).ravel()
    # the largest box of the font's aspect ratio inside a one-cell margin
    box_h = max(1, min(h - 2, round((w - 2) * gh / gw)))
    box_w = max(1, min(w - 2, round(box_h * gw / gh)))
    rows = np.arange(box_h) * gh // box_h
    cols = np.arange(box_w) * gw // box_w
    out = np.full((h, w), -1, dtype=np.int8)
    top, left = (h - box_h) // 2, (w - box_w) // 2
    out[top : top + box_h, left : left + box_w] = np.where(bits[np.ix_(rows, cols)], 1, -1)
    return out.ravel()


def memory_set(
    name: str, shape: tuple[int, int], *, count: int = 0, seed: int = 0
) -> tuple[np.ndarray, list[str]]:
    """The patterns and labels of a named set on a grid.

    Parameters
    ----------
    name : str
        A key of :data:`SETS` (letters or digits), or ``"random"`` for
        ``count`` uniformly random patterns (labels ``r1``, ``r2``, ...).
    shape : tuple of int
        The grid ``(rows, columns)``.
    count, seed : int
        For ``"random"`` only.

    Returns
    -------
    patterns : numpy.ndarray
        ``int8`` ±1, ``(P, rows * columns)``.
    labels : list of str
    """
    if name == "random":
        pats = random_patterns(count, shape[0] * shape[1], seed=seed)
        return pats, [f"r{k + 1}" for k in range(count)]
    labels = list(SETS[name])
    return np.stack([glyph_grid(c, shape) for c in labels]), labels
