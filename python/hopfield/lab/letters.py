"""The built-in letter font: :data:`LETTERS` (A–Z as 9 × 7 bitmaps) and
:func:`letter_patterns`, which turns letters into ±1 patterns for
demonstrations, :func:`hopfield.datasets.letters` and the ``hopfield demo``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .._alloc import ensure_fits
from ..spins import check_int

__all__ = ["LETTERS", "letter_patterns"]

# Letter bitmaps A-Z: 9 rows of 7 columns, '#' is +1 and '.' is -1.
LETTERS: dict[str, tuple[str, ...]] = {
    "A": (
        "..###..",
        ".#...#.",
        "#.....#",
        "#.....#",
        "#######",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
    ),
    "B": (
        "######.",
        "#.....#",
        "#.....#",
        "#.....#",
        "######.",
        "#.....#",
        "#.....#",
        "#.....#",
        "######.",
    ),
    "C": (
        ".#####.",
        "#.....#",
        "#......",
        "#......",
        "#......",
        "#......",
        "#......",
        "#.....#",
        ".#####.",
    ),
    "D": (
        "#####..",
        "#....#.",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#....#.",
        "#####..",
    ),
    "E": (
        "#######",
        "#......",
        "#......",
        "#......",
        "######.",
        "#......",
        "#......",
        "#......",
        "#######",
    ),
    "F": (
        "#######",
        "#......",
        "#......",
        "#......",
        "######.",
        "#......",
        "#......",
        "#......",
        "#......",
    ),
    "G": (
        ".#####.",
        "#.....#",
        "#......",
        "#......",
        "#..####",
        "#.....#",
        "#.....#",
        "#.....#",
        ".#####.",
    ),
    "H": (
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#######",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
    ),
    "I": (
        ".#####.",
        "...#...",
        "...#...",
        "...#...",
        "...#...",
        "...#...",
        "...#...",
        "...#...",
        ".#####.",
    ),
    "J": (
        "..#####",
        "....#..",
        "....#..",
        "....#..",
        "....#..",
        "....#..",
        "#...#..",
        "#...#..",
        ".###...",
    ),
    "K": (
        "#.....#",
        "#....#.",
        "#...#..",
        "#..#...",
        "###....",
        "#..#...",
        "#...#..",
        "#....#.",
        "#.....#",
    ),
    "L": (
        "#......",
        "#......",
        "#......",
        "#......",
        "#......",
        "#......",
        "#......",
        "#......",
        "#######",
    ),
    "M": (
        "#.....#",
        "##...##",
        "#.#.#.#",
        "#..#..#",
        "#..#..#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
    ),
    "N": (
        "#.....#",
        "##....#",
        "#.#...#",
        "#..#..#",
        "#...#.#",
        "#....##",
        "#.....#",
        "#.....#",
        "#.....#",
    ),
    "O": (
        ".#####.",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        ".#####.",
    ),
    "P": (
        "######.",
        "#.....#",
        "#.....#",
        "#.....#",
        "######.",
        "#......",
        "#......",
        "#......",
        "#......",
    ),
    "Q": (
        ".#####.",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#...#.#",
        "#....#.",
        ".####.#",
    ),
    "R": (
        "######.",
        "#.....#",
        "#.....#",
        "#.....#",
        "######.",
        "#..#...",
        "#...#..",
        "#....#.",
        "#.....#",
    ),
    "S": (
        ".#####.",
        "#.....#",
        "#......",
        "#......",
        ".#####.",
        "......#",
        "......#",
        "#.....#",
        ".#####.",
    ),
    "T": (
        "#######",
        "...#...",
        "...#...",
        "...#...",
        "...#...",
        "...#...",
        "...#...",
        "...#...",
        "...#...",
    ),
    "U": (
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        ".#####.",
    ),
    "V": (
        "#.....#",
        "#.....#",
        "#.....#",
        ".#...#.",
        ".#...#.",
        ".#...#.",
        "..#.#..",
        "..#.#..",
        "...#...",
    ),
    "W": (
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#..#..#",
        "#..#..#",
        "#.#.#.#",
        "##...##",
        "#.....#",
    ),
    "X": (
        "#.....#",
        "#.....#",
        ".#...#.",
        "..#.#..",
        "...#...",
        "..#.#..",
        ".#...#.",
        "#.....#",
        "#.....#",
    ),
    "Y": (
        "#.....#",
        "#.....#",
        ".#...#.",
        "..#.#..",
        "...#...",
        "...#...",
        "...#...",
        "...#...",
        "...#...",
    ),
    "Z": (
        "#######",
        "......#",
        ".....#.",
        "....#..",
        "...#...",
        "..#....",
        ".#.....",
        "#......",
        "#######",
    ),
}

_LETTER_SHAPE: tuple[int, int] = (9, 7)


def letter_patterns(
    letters: str | Iterable[str] = "ABCHTX",
    *,
    scale: int = 1,
) -> tuple[np.ndarray, tuple[int, int]]:
    """Return built-in letter bitmaps as ±1 patterns.

    Parameters
    ----------
    letters : str or iterable of str, optional
        The letters to return, in order, e.g. ``"ABCHTX"`` or
        ``["A", "X"]``. Case is ignored. Available: the keys of
        :data:`LETTERS` (all of A–Z, 9 × 7 pixels).
    scale : int, optional
        Blow every pixel up to a ``scale × scale`` block: the bitmaps become
        ``(9·scale, 7·scale)``, more neurons for the same letters.

    Returns
    -------
    patterns : numpy.ndarray
        ``int8`` array of shape ``(k, h * w)``, one flattened (row-major)
        bitmap per letter, ``+1`` for ``'#'`` and ``-1`` for ``'.'``.
    shape : tuple of int
        The bitmap shape ``(h, w)``, for :func:`hopfield.to_text` or reshaping.

    Raises
    ------
    ValueError
        If a letter has no built-in bitmap.
    """
    keys = [str(c).upper() for c in letters]
    unknown = [c for c in keys if c not in LETTERS]
    if unknown:
        raise ValueError(
            f"letters has no built-in bitmap for {unknown!r}; available: {''.join(sorted(LETTERS))}"
        )
    scale = check_int(scale, "scale", 1)
    h, w = _LETTER_SHAPE
    ensure_fits(len(keys) * h * w * scale * scale, "the scaled letter bitmaps")
    out = np.empty((len(keys), h * w), dtype=np.int8)
    for row, key in zip(out, keys, strict=True):
        flat = "".join(LETTERS[key])
        row[:] = np.frombuffer(flat.encode("ascii"), dtype=np.uint8) == ord("#")
    out *= 2
    out -= 1
    if scale > 1:
        grid = out.reshape(len(keys), h, w).repeat(scale, axis=1).repeat(scale, axis=2)
        return grid.reshape(len(keys), -1), (h * scale, w * scale)
    return out, (h, w)
