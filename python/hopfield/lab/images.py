"""Images to spins and back: :func:`binarize` and :func:`to_image`.

A real image (grayscale ``(H, W)`` or colour ``(H, W, 3|4)``, any numeric
dtype) becomes one pattern of ``N = H·W`` spins, row-major, ``+1`` for
bright pixels; :func:`to_image` turns spins back into a ``(H, W)`` picture.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..spins import as_spins

__all__ = ["BINARIZE_METHODS", "binarize", "luminance", "otsu_threshold", "to_image"]

#: The methods :func:`binarize` accepts: threshold at the mean, at Otsu's
#: threshold, or ordered 8 × 8 Bayer dithering.
BINARIZE_METHODS = ("mean", "otsu", "dither")

#: ITU-R BT.601 luma weights for RGB.
_LUMA = np.array([0.299, 0.587, 0.114])

#: The 8 × 8 Bayer matrix of ordered dithering (values 0..63).
_BAYER8 = np.array(
    [
        [0, 32, 8, 40, 2, 34, 10, 42],
        [48, 16, 56, 24, 50, 18, 58, 26],
        [12, 44, 4, 36, 14, 46, 6, 38],
        [60, 28, 52, 20, 62, 30, 54, 22],
        [3, 35, 11, 43, 1, 33, 9, 41],
        [51, 19, 59, 27, 49, 17, 57, 25],
        [15, 47, 7, 39, 13, 45, 5, 37],
        [63, 31, 55, 23, 61, 29, 53, 21],
    ]
)


def luminance(image: ArrayLike) -> np.ndarray:
    """Grayscale float64 ``(H, W)`` of a grayscale or RGB(A) image.

    RGB uses the BT.601 weights ``0.299 R + 0.587 G + 0.114 B``; an alpha
    channel is ignored.

    Raises
    ------
    TypeError
        If the dtype is not boolean, integer or floating.
    ValueError
        If the shape is not ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``, the
        image is empty, or it holds NaN or infinite values.
    """
    a = np.asarray(image)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"image must have a numeric dtype, got {a.dtype}")
    if a.ndim == 3 and a.shape[2] in (3, 4):
        gray = a[..., :3].astype(np.float64) @ _LUMA
    elif a.ndim == 2:
        gray = a.astype(np.float64)
    else:
        raise ValueError(
            f"image must be grayscale (H, W) or colour (H, W, 3) / (H, W, 4), got shape {a.shape}"
        )
    if gray.size == 0:
        raise ValueError(f"image is empty: shape {a.shape}")
    if not np.all(np.isfinite(gray)):
        raise ValueError("image must hold finite values; found NaN or infinity")
    return gray


def otsu_threshold(gray: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the cut of a ``bins``-bin histogram that maximises the
    between-class variance (pixels above it are the bright class)."""
    lo, hi = float(gray.min()), float(gray.max())
    if lo == hi:
        return lo
    hist, edges = np.histogram(gray, bins=bins, range=(lo, hi))
    centers = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(hist)[:-1].astype(np.float64)  # class below each cut
    w1 = gray.size - w0
    s0 = np.cumsum(hist * centers)[:-1]
    mu0 = s0 / np.maximum(w0, 1)
    mu1 = (np.sum(hist * centers) - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (mu0 - mu1) ** 2
    return float(edges[1:-1][int(np.argmax(between))])


def binarize(image: ArrayLike, method: str = "mean", *, invert: bool = False) -> np.ndarray:
    """Turn an image into one pattern of ±1 spins.

    Parameters
    ----------
    image : array_like
        Grayscale ``(H, W)`` or colour ``(H, W, 3)`` / ``(H, W, 4)``, any
        numeric dtype and range (colour goes through :func:`luminance`).
        Never modified.
    method : {"mean", "otsu", "dither"}
        ``"mean"``: a pixel is ``+1`` when brighter than the image's mean.
        ``"otsu"``: brighter than Otsu's threshold (best for two-tone images).
        ``"dither"``: ordered (8 × 8 Bayer) dithering of the brightness
        rescaled to ``[0, 1]``, which keeps gray levels as dot densities.
    invert : bool
        Make dark pixels ``+1`` instead (e.g. black ink on white paper).

    Returns
    -------
    numpy.ndarray
        int8 ``(H·W,)`` of ±1, row-major; :func:`to_image` with shape
        ``(H, W)`` turns it back.

    Examples
    --------
    >>> import numpy as np
    >>> binarize(np.array([[0, 10], [200, 255]]))
    array([-1, -1,  1,  1], dtype=int8)
    """
    if method not in BINARIZE_METHODS:
        raise ValueError(f"method must be one of {BINARIZE_METHODS}, got {method!r}")
    gray = luminance(image)
    if method == "mean":
        on = gray > gray.mean()
    elif method == "otsu":
        on = gray > otsu_threshold(gray)
    else:
        lo, hi = gray.min(), gray.max()
        level = (gray - lo) / (hi - lo) if hi > lo else np.zeros_like(gray)
        h, w = gray.shape
        tile = np.tile(_BAYER8, (-(-h // 8), -(-w // 8)))[:h, :w]
        on = level > (tile + 0.5) / 64.0
    if invert:
        on = ~on
    out = on.astype(np.int8).reshape(-1)
    out *= 2
    out -= 1
    return out


def to_image(state: ArrayLike, shape: tuple[int, int]) -> np.ndarray:
    """Spins back to a picture: ``1.0`` for ``+1``, ``0.0`` for ``-1``.

    Parameters
    ----------
    state : array_like
        Spins ``(H·W,)``, or a batch ``(B, H·W)``, in any encoding accepted
        by :func:`hopfield.as_spins`.
    shape : tuple of int
        ``(H, W)``.

    Returns
    -------
    numpy.ndarray
        float64 ``(H, W)`` or ``(B, H, W)`` with values 0 and 1, ready for
        ``matplotlib.pyplot.imshow(..., cmap="gray")``.
    """
    s = as_spins(state, name="state")
    try:
        h, w = (int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"shape must be a pair of integers (H, W), got {shape!r}") from None
    if s.ndim not in (1, 2) or s.shape[-1] != h * w:
        raise ValueError(
            f"state must have shape ({h * w},) or (B, {h * w}) for shape {(h, w)}, got {s.shape}"
        )
    img = (s > 0).astype(np.float64)
    return img.reshape((h, w) if s.ndim == 1 else (s.shape[0], h, w))
