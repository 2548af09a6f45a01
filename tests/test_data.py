"""Letters A-Z, images to spins and back, and the digits data set."""

from __future__ import annotations

import sys
import types

import hopfield as hf
import numpy as np
import pytest
from hopfield import datasets
from hopfield.experiments import hamming_matrix
from hopfield.lab.images import binarize, luminance, otsu_threshold, to_image
from hopfield.lab.letters import LETTERS, letter_patterns


def test_letters_well_formed() -> None:
    assert {"A", "B", "C", "H", "T", "X"} <= set(LETTERS)
    shapes = {(len(rows), len(rows[0])) for rows in LETTERS.values()}
    assert len(shapes) == 1
    for key, rows in LETTERS.items():
        assert len({len(r) for r in rows}) == 1, key
        assert set("".join(rows)) <= {"#", "."}, key


def test_letter_patterns() -> None:
    pats, (h, w) = letter_patterns()
    assert pats.shape == (6, h * w) and pats.dtype == np.int8
    assert (h, w) == (len(LETTERS["A"]), len(LETTERS["A"][0]))
    # all distinct, and none is the negation of another
    for i in range(len(pats)):
        for j in range(i + 1, len(pats)):
            assert not np.array_equal(pats[i], pats[j])
            assert not np.array_equal(pats[i], -pats[j])
    np.testing.assert_array_equal(letter_patterns(["x", "a"])[0], pats[[5, 0]])
    all_pats, _ = letter_patterns("".join(LETTERS))
    assert all_pats.shape == (len(LETTERS), h * w)


def test_letter_patterns_unknown() -> None:
    with pytest.raises(ValueError, match=r"letters has no built-in bitmap for \['7'\]"):
        letter_patterns("A7")


def test_all_26_letters_distinct_and_readable() -> None:
    assert "".join(sorted(hf.LETTERS)) == "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    d = datasets.letters()
    assert d.patterns.shape == (26, 63) and d.shape == (9, 7)
    assert list(d.labels) == list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    h = hamming_matrix(d.patterns)
    off = h[~np.eye(26, dtype=bool)]
    assert off.min() >= 2  # no two letters (nearly) identical
    for pat, key in zip(d.patterns, d.labels, strict=True):
        assert hf.to_text(pat, d.shape) == "\n".join(hf.LETTERS[key])


def test_letter_scale() -> None:
    small, shape1 = hf.letter_patterns("AX")
    big, shape3 = hf.letter_patterns("AX", scale=3)
    assert shape3 == (27, 21) and big.shape == (2, 27 * 21)
    grid = big.reshape(2, 27, 21)
    assert np.array_equal(grid[:, ::3, ::3].reshape(2, -1), small)
    assert np.array_equal(grid[:, 2::3, 1::3].reshape(2, -1), small)
    with pytest.raises(ValueError, match="scale"):
        hf.letter_patterns("A", scale=0)


def test_binarize_mean_and_rgb() -> None:
    img = np.array([[0, 10, 20], [30, 200, 250]], dtype=np.uint8)
    before = img.copy()
    s = binarize(img)
    assert s.dtype == np.int8 and s.shape == (6,)
    assert list(s) == [-1, -1, -1, -1, 1, 1]  # mean = 85
    assert np.array_equal(img, before)
    assert list(binarize(img, invert=True)) == [1, 1, 1, 1, -1, -1]
    rgb = np.stack([img, img, img], axis=-1)
    assert np.array_equal(binarize(rgb), s)
    rgba = np.concatenate([rgb, np.zeros((2, 3, 1), np.uint8)], axis=-1)
    assert np.array_equal(binarize(rgba), s)
    assert luminance([[[1.0, 0.0, 0.0]]])[0, 0] == pytest.approx(0.299)


def test_binarize_otsu_separates_two_tones() -> None:
    rng = np.random.default_rng(0)
    dark = rng.normal(40, 5, 700)
    bright = rng.normal(180, 5, 300)  # unbalanced: the mean cut would sit at 82
    img = np.concatenate([dark, bright]).reshape(25, 40)
    assert 55 < otsu_threshold(img) < 165
    s = binarize(img, "otsu")
    assert np.array_equal(s > 0, img.reshape(-1) > 110)


def test_binarize_dither_keeps_gray_levels_as_densities() -> None:
    ramp = np.tile(np.linspace(0, 1, 64), (64, 1))  # left dark, right bright
    s = binarize(ramp, "dither").reshape(64, 64)
    density = (s > 0).mean(axis=0)
    blocks = density.reshape(8, 8).mean(axis=1)
    assert np.all(np.diff(blocks) > 0)
    assert blocks[0] < 0.1 and blocks[-1] > 0.9
    # Black, mid-gray and white bands: the gray band is exactly half on
    # (32 of the 64 Bayer thresholds lie below 0.5).
    bands = np.zeros((16, 48))
    bands[:, 16:32], bands[:, 32:] = 0.5, 1.0
    on = binarize(bands, "dither").reshape(16, 48) > 0
    assert on[:, :16].mean() == 0.0 and on[:, 16:32].mean() == 0.5 and on[:, 32:].mean() == 1.0


def test_to_image_round_trip() -> None:
    rng = np.random.default_rng(1)
    img = rng.random((12, 9))
    s = binarize(img)
    back = to_image(s, (12, 9))
    assert back.shape == (12, 9) and back.dtype == np.float64
    assert np.array_equal(back > 0.5, img > img.mean())
    batch = to_image(np.stack([s, -s]), (12, 9))
    assert batch.shape == (2, 12, 9)
    assert np.array_equal(batch[0] + batch[1], np.ones((12, 9)))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: binarize(np.zeros((2, 2, 5))), ValueError, "grayscale"),
        (lambda: binarize(np.zeros(4)), ValueError, "grayscale"),
        (lambda: binarize(np.array([["a"]])), TypeError, "numeric"),
        (lambda: binarize(np.array([[np.nan, 1.0]])), ValueError, "finite"),
        (lambda: binarize(np.zeros((0, 3))), ValueError, "empty"),
        (lambda: binarize(np.zeros((2, 2)), "median"), ValueError, "method must be one of"),
        (lambda: to_image(np.ones(5), (2, 2)), ValueError, r"shape \(4,\)"),
        (lambda: to_image(np.ones(4), 4), TypeError, "pair of integers"),
    ],
)
def test_bad_images(call, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call()


def test_digits_without_scikit_learn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"needs scikit-learn.*hopfield\[data\]"):
        datasets.digits()


def test_digits_with_scikit_learn(monkeypatch: pytest.MonkeyPatch) -> None:
    """scikit-learn's loader replaced by one with the same interface (8x8 ink counts 0-16)."""
    rng = np.random.default_rng(2)
    images = rng.integers(0, 17, size=(30, 8, 8)).astype(np.float64)
    target = np.arange(30) % 10
    fake = types.ModuleType("sklearn.datasets")
    fake.load_digits = lambda: types.SimpleNamespace(images=images, target=target)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sklearn", types.ModuleType("sklearn"))
    monkeypatch.setitem(sys.modules, "sklearn.datasets", fake)
    d = datasets.digits()
    assert d.patterns.shape == (30, 64) and d.patterns.dtype == np.int8 and d.shape == (8, 8)
    assert np.array_equal(d.patterns > 0, images.reshape(30, 64) > 8)
    assert np.array_equal(d.labels, target)
    d2 = datasets.digits(classes="07", threshold=3)
    assert set(d2.labels) == {0, 7} and len(d2.labels) == 6
    assert np.array_equal(d2.patterns > 0, images[np.isin(target, [0, 7])].reshape(-1, 64) > 3)
    with pytest.raises(ValueError, match="classes"):
        datasets.digits(classes="0x")


def test_photos_without_scikit_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.raises(ImportError, match=r"needs scikit-image.*hopfield\[images\]"):
        hf.datasets.photos(16)


def test_photos_are_the_bundled_photographs_binarized_at_their_median() -> None:
    from skimage import data, transform

    d = hf.datasets.photos(24)
    assert d.patterns.shape == (14, 24 * 24) and d.patterns.dtype == np.int8
    assert d.shape == (24, 24)
    assert list(d.labels) == list(hf.datasets.PHOTOS)
    assert len(set(map(bytes, d.patterns))) == 14  # all distinct
    # About half of every photograph is +1 (ties at the median go to -1).
    assert np.all(np.abs(d.patterns.mean(axis=1)) < 0.2)
    # The coffee cup, by hand: grey, resized, above its median.
    grey = np.asarray(data.coffee(), dtype=np.float64).mean(axis=-1)
    small = transform.resize(grey, (24, 24), anti_aliasing=True)
    expected = np.where(small > np.median(small), 1, -1).reshape(-1)
    np.testing.assert_array_equal(d.patterns[2], expected)
    few = hf.datasets.photos(24, count=3)
    np.testing.assert_array_equal(few.patterns, d.patterns[:3])


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"size": 2}, ValueError, "size must be"),
        ({"size": 8.5}, TypeError, "size must be an integer"),
        ({"count": 15}, ValueError, "count must be at most 14"),
        ({"count": 0}, ValueError, "count must be"),
    ],
)
def test_bad_photo_arguments(kw, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        hf.datasets.photos(**kw)
