"""Small built-in data sets as ±1 patterns.

* :func:`letters` — the 26 built-in letter bitmaps (no dependency);
* :func:`digits` — scikit-learn's bundled 8 × 8 handwritten digits (1,797
  images), binarized; needs scikit-learn (``pip install 'hopfield[data]'``);
* :func:`photos` — 14 of scikit-image's bundled photographs, grey, resized to
  ``size × size`` and binarized at their median; needs scikit-image
  (``pip install 'hopfield[images]'``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spins import check_int
from .letters import letter_patterns

__all__ = ["PHOTOS", "Dataset", "digits", "letters", "photos"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Patterns with their labels and image shape.

    Attributes
    ----------
    patterns : numpy.ndarray
        int8 ``(P, H·W)`` of ±1, one image per row (row-major pixels).
    labels : numpy.ndarray
        ``(P,)``: the class of each pattern (a letter or a digit).
    shape : tuple of int
        ``(H, W)`` of one image, for :func:`hopfield.to_text` and
        :func:`hopfield.images.to_image`.
    """

    patterns: np.ndarray
    labels: np.ndarray
    shape: tuple[int, int]


def letters(which: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", *, scale: int = 1) -> Dataset:
    """The built-in letter bitmaps (9 × 7 pixels, blown up ``scale`` times).

    Labels are the letters as a ``str`` array.
    """
    pats, shape = letter_patterns(which, scale=scale)
    return Dataset(pats, np.array([c.upper() for c in which]), shape)


def digits(*, threshold: float = 8.0, classes: str | None = None) -> Dataset:
    """scikit-learn's 8 × 8 handwritten digits as ±1 patterns.

    Each pixel (an ink count 0–16) becomes ``+1`` when above ``threshold``.

    Parameters
    ----------
    threshold : float
        Ink level above which a pixel is ``+1``; default 8 (half of 16).
    classes : str or None
        Keep only these digits, e.g. ``"0147"``; ``None`` keeps all ten.

    Returns
    -------
    Dataset
        1,797 patterns of 64 spins (fewer with ``classes``), ``int64`` labels,
        shape ``(8, 8)``.

    Raises
    ------
    ImportError
        If scikit-learn is not installed, with the command that installs it.
    """
    try:
        from sklearn.datasets import load_digits  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError as exc:
        raise ImportError(
            "hopfield.datasets.digits() needs scikit-learn, which is not installed: "
            "pip install 'hopfield[data]' (or pip install scikit-learn). "
            "hopfield.datasets.letters() needs nothing."
        ) from exc
    data = load_digits()
    images = np.asarray(data.images, dtype=np.float64).reshape(-1, 64)
    labels = np.asarray(data.target, dtype=np.int64)
    if classes is not None:
        if not isinstance(classes, str) or not classes or not classes.isdigit():
            raise ValueError(f"classes must be a string of digits such as '0147', got {classes!r}")
        wanted = [int(c) for c in classes]
        keep = np.isin(labels, wanted)
        images, labels = images[keep], labels[keep]
    pats = np.where(images > threshold, 1, -1).astype(np.int8)
    return Dataset(pats, labels, (8, 8))


#: The photographs :func:`photos` loads, in order: the names of the
#: ``skimage.data`` functions that return them (all bundled with
#: scikit-image, none downloaded).
PHOTOS = (
    "camera",
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "coins",
    "moon",
    "page",
    "text",
    "clock",
    "hubble_deep_field",
    "immunohistochemistry",
    "grass",
    "brick",
)


def _skimage() -> tuple[object, object]:
    """``skimage.data`` and ``skimage.transform``, or an ``ImportError`` that
    names the extra which installs them."""
    try:
        from skimage import data, transform  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError as exc:
        raise ImportError(
            "hopfield.datasets.photos() needs scikit-image, which is not installed: "
            "pip install 'hopfield[images]' (or pip install scikit-image). "
            "hopfield.datasets.letters() needs nothing."
        ) from exc
    return data, transform


def photos(size: int = 128, *, count: int | None = None) -> Dataset:
    """scikit-image's bundled photographs as ±1 patterns of ``size × size`` pixels.

    Each photograph (see :data:`PHOTOS`) is converted to grey (the mean of
    its colour channels), resized to ``size × size`` with anti-aliasing, and
    binarized at its own median: a pixel brighter than the median is ``+1``,
    so about half of every pattern is ``+1``. The slide this project comes
    from stores these at 128 × 128 (``N = 16,384`` neurons).

    Parameters
    ----------
    size : int
        Side of the square images, at least 4 (default 128).
    count : int or None
        Keep the first ``count`` photographs (1 to 14); ``None`` keeps all 14.

    Returns
    -------
    Dataset
        ``count`` patterns of ``size²`` spins (row-major pixels), the
        photographs' names as labels, shape ``(size, size)``.

    Raises
    ------
    ImportError
        If scikit-image is not installed, with the command that installs it.
    ValueError, TypeError
        A ``size`` or ``count`` out of range or not an integer.
    """
    size = check_int(size, "size", 4)
    if count is not None:
        count = check_int(count, "count", 1)
        if count > len(PHOTOS):
            raise ValueError(f"count must be at most {len(PHOTOS)}, got {count}")
    data, transform = _skimage()
    names = PHOTOS[: len(PHOTOS) if count is None else count]
    rows = []
    for name in names:
        image = np.asarray(getattr(data, name)(), dtype=np.float64)
        grey = image[..., :3].mean(axis=-1) if image.ndim == 3 else image
        small = np.asarray(
            transform.resize(grey, (size, size), anti_aliasing=True),  # type: ignore[attr-defined]
            dtype=np.float64,
        )
        rows.append(np.where(small > np.median(small), 1, -1).astype(np.int8).reshape(-1))
    return Dataset(np.stack(rows), np.array(names), (size, size))
