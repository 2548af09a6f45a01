"""Tests for hopfield.spins: coercion, random patterns, corruption, text art."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hopfield.lab.letters import LETTERS, letter_patterns
from hopfield.spins import (
    as_spins,
    corrupt,
    random_patterns,
    to_text,
)
from hypothesis import given, settings
from hypothesis import strategies as st

DTYPES = [np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64]
UNSIGNED = [np.uint8, np.uint16, np.uint64]


def _pm(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Reference ±1 int8 array."""
    return np.random.default_rng(seed).choice(np.array([-1, 1], dtype=np.int8), size=shape)


def _check_fresh(out: np.ndarray, src: np.ndarray, expected: np.ndarray) -> None:
    assert out.dtype == np.int8
    assert out.flags.c_contiguous
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)
    assert not np.shares_memory(out, src)


# ---------------------------------------------------------------------------
# as_spins: accepted inputs


@pytest.mark.parametrize("dtype", DTYPES)
def test_as_spins_plus_minus_one(dtype: type) -> None:
    s = _pm((6, 11))
    x = s.astype(dtype)
    _check_fresh(as_spins(x), x, s)


@pytest.mark.parametrize("dtype", [*DTYPES, *UNSIGNED, np.bool_])
def test_as_spins_zero_one(dtype: type) -> None:
    s = _pm((6, 11), seed=1)
    x = (s > 0).astype(dtype)
    _check_fresh(as_spins(x), x, s)


def test_as_spins_bool_true_is_plus_one() -> None:
    out = as_spins(np.array([True, False, False, True]))
    np.testing.assert_array_equal(out, np.array([1, -1, -1, 1], dtype=np.int8))


def test_as_spins_lists_and_scalars() -> None:
    np.testing.assert_array_equal(as_spins([[0, 1], [1, 0]]), [[-1, 1], [1, -1]])
    np.testing.assert_array_equal(as_spins([-1.0, 1.0]), [-1, 1])
    out = as_spins(-1)
    assert out.shape == () and out.dtype == np.int8 and out == -1


def test_as_spins_all_ones_and_all_zeros() -> None:
    np.testing.assert_array_equal(as_spins(np.ones(5, np.int64)), np.ones(5, np.int8))
    np.testing.assert_array_equal(as_spins(np.zeros(5)), -np.ones(5, np.int8))
    np.testing.assert_array_equal(as_spins(-np.ones(5)), -np.ones(5, np.int8))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.float32, np.bool_])
def test_as_spins_memory_layouts(dtype: type) -> None:
    s = _pm((12, 30), seed=2)
    zero_one = np.dtype(dtype).kind in "bu"
    base = (s > 0).astype(dtype) if zero_one else s.astype(dtype)
    views = {
        "fortran": np.asfortranarray(base),
        "strided": base[::2, 1::3],
        "negative": base[::-1, ::-2],
        "transposed": base.T,
    }
    expected = {
        "fortran": s,
        "strided": s[::2, 1::3],
        "negative": s[::-1, ::-2],
        "transposed": s.T,
    }
    for key, view in views.items():
        _check_fresh(as_spins(view), base, expected[key])


def test_as_spins_read_only_and_not_modified() -> None:
    x = np.array([[0, 1, 1], [1, 0, 0]], dtype=np.uint8)
    x.setflags(write=False)
    before = x.copy()
    out = as_spins(x)
    np.testing.assert_array_equal(out, [[-1, 1, 1], [1, -1, -1]])
    np.testing.assert_array_equal(x, before)
    out[:] = 1  # the result is writable and independent
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("shape", [(64,), (1, 2048), (1, 2049), (100, 64)])
def test_as_spins_int8_fast_path_copies(shape: tuple[int, ...]) -> None:
    # small int8 arrays take a byte check, large ones the NumPy reductions
    x = _pm(shape)
    x.setflags(write=False)
    out = as_spins(x)
    assert out is not x
    assert not np.shares_memory(out, x)
    assert out.flags.c_contiguous and out.flags.writeable and out.dtype == np.int8
    np.testing.assert_array_equal(out, x)
    bad = x.copy()
    bad.flat[-1] = 2
    with pytest.raises(ValueError, match="found 2 at index"):
        as_spins(bad)


@pytest.mark.parametrize("shape", [(0,), (0, 5), (3, 0)])
@pytest.mark.parametrize("dtype", [np.int8, np.float64, np.bool_])
def test_as_spins_empty(shape: tuple[int, ...], dtype: type) -> None:
    out = as_spins(np.zeros(shape, dtype=dtype))
    assert out.shape == shape and out.dtype == np.int8


# ---------------------------------------------------------------------------
# as_spins: rejected inputs


def _bad_at(value: object, dtype: type, index: tuple[int, int], shape=(5, 20)) -> np.ndarray:
    x = np.ones(shape, dtype=dtype)
    x[index] = value
    return x


@pytest.mark.parametrize(
    ("value", "dtype", "index", "found"),
    [
        (0.5, np.float64, (3, 17), "0.5"),
        (0.5, np.float32, (1, 2), "0.5"),
        (np.nan, np.float64, (0, 2), "nan"),
        (np.inf, np.float64, (4, 0), "inf"),
        (-np.inf, np.float32, (2, 19), "-inf"),
        (-1.5, np.float64, (0, 0), "-1.5"),
        (2, np.int64, (3, 3), "2"),
        (-2, np.int8, (4, 19), "-2"),
        (-128, np.int8, (1, 1), "-128"),
        (255, np.uint8, (2, 5), "255"),
    ],
)
def test_as_spins_bad_value(value: object, dtype: type, index: tuple[int, int], found: str) -> None:
    x = _bad_at(value, dtype, index)
    before = x.copy()
    msg = f"x must hold spins .*found {re.escape(found)} at index {re.escape(str(index))}"
    with pytest.raises(ValueError, match=msg):
        as_spins(x)
    np.testing.assert_array_equal(x, before)


def test_as_spins_bad_value_first_in_c_order() -> None:
    x = np.ones((4, 4))
    x[2, 1] = 7.0
    x[1, 3] = 0.25
    with pytest.raises(ValueError, match=r"found 0\.25 at index \(1, 3\)"):
        as_spins(x)


def test_as_spins_bad_value_in_fortran_view() -> None:
    x = np.asfortranarray(np.ones((4, 6)))
    x[3, 0] = 0.5
    with pytest.raises(ValueError, match=r"found 0\.5 at index \(0, 3\)"):
        as_spins(x.T)


def test_as_spins_bad_value_1d_names_argument() -> None:
    with pytest.raises(ValueError, match=r"^queries must hold spins.*found 3 at index \(2,\)"):
        as_spins([1, -1, 3], name="queries")


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.float64])
def test_as_spins_mix_of_minus_one_and_zero(dtype: type) -> None:
    x = np.array([[1, -1, 1], [1, 0, 1]], dtype=dtype)
    with pytest.raises(ValueError, match=r"mixes -1 and 0.*found 0 at index \(1, 1\)"):
        as_spins(x)


def test_as_spins_mix_without_plus_one() -> None:
    with pytest.raises(ValueError, match=r"patterns .*mixes -1 and 0.*found 0 at index \(0,\)"):
        as_spins([0, -1], name="patterns")


@pytest.mark.parametrize(
    ("x", "dtype"),
    [
        (np.array([1, -1], dtype=object), "object"),
        (np.array(["1", "0"]), "<U1"),
        (np.array([1 + 0j, -1 + 0j]), "complex128"),
        (np.array([], dtype=object), "object"),
    ],
)
def test_as_spins_type_error(x: np.ndarray, dtype: str) -> None:
    with pytest.raises(TypeError, match=rf"^state .*dtype {re.escape(dtype)}"):
        as_spins(x, name="state")


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(0, 6),
    cols=st.integers(1, 9),
    dtype=st.sampled_from([*DTYPES, np.uint8, np.bool_]),
    zero_one=st.booleans(),
    fortran=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_as_spins_property(
    rows: int, cols: int, dtype: type, zero_one: bool, fortran: bool, seed: int
) -> None:
    s = _pm((rows, cols), seed)
    if dtype is np.bool_:
        x = s > 0
    elif zero_one or dtype is np.uint8:
        x = (s > 0).astype(dtype)
    else:
        x = s.astype(dtype)
    if fortran:
        x = np.asfortranarray(x)
    out = as_spins(x)
    _check_fresh(out, x, s)


# ---------------------------------------------------------------------------
# random_patterns


def test_random_patterns_shape_dtype_values() -> None:
    x = random_patterns(50, 200, seed=3)
    assert x.shape == (50, 200) and x.dtype == np.int8
    assert set(np.unique(x).tolist()) == {-1, 1}
    assert abs(x.mean()) < 0.05  # 10000 fair coins: sd 0.01


def test_random_patterns_deterministic() -> None:
    np.testing.assert_array_equal(random_patterns(7, 33, seed=11), random_patterns(7, 33, seed=11))
    assert not np.array_equal(random_patterns(7, 33, seed=11), random_patterns(7, 33, seed=12))
    x = random_patterns(np.int64(3), np.int32(4), seed=np.random.default_rng(0))
    assert x.shape == (3, 4)


def test_random_patterns_zero_count() -> None:
    assert random_patterns(0, 10).shape == (0, 10)


@pytest.mark.parametrize(
    ("count", "n", "exc", "match"),
    [
        (-1, 10, ValueError, r"count must be at least 0, got -1"),
        (5, 0, ValueError, r"n must be at least 1, got 0"),
        (5, -3, ValueError, r"n must be at least 1"),
        (True, 10, TypeError, r"count must be an integer, not bool"),
        (5, True, TypeError, r"n must be an integer, not bool"),
        (2.0, 10, TypeError, r"count must be an integer, got float"),
        (5, "8", TypeError, r"n must be an integer, got str"),
    ],
)
def test_random_patterns_bad_arguments(count: object, n: object, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        random_patterns(count, n)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# corrupt


@pytest.mark.parametrize("flip", [0.0, 0.01, 0.1, 0.25, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("n", [1, 5, 64, 101])
def test_corrupt_flips_exact_count(flip: float, n: int) -> None:
    x = random_patterns(40, n, seed=5)
    before = x.copy()
    y = corrupt(x, flip=flip, seed=6)
    assert y.shape == x.shape and y.dtype == np.int8
    assert not np.shares_memory(x, y)
    np.testing.assert_array_equal(x, before)
    assert set(np.unique(y).tolist()) <= {-1, 1}
    np.testing.assert_array_equal((x != y).sum(axis=1), round(flip * n))


def test_corrupt_rounds_half_to_even() -> None:
    x = random_patterns(10, 5, seed=0)
    assert ((x != corrupt(x, flip=0.5, seed=1)).sum(axis=1) == 2).all()  # round(2.5) == 2
    assert ((x != corrupt(x, flip=0.7, seed=1)).sum(axis=1) == 4).all()  # round(3.5) == 4


def test_corrupt_one_dimensional_and_encodings() -> None:
    x = random_patterns(1, 80, seed=2)
    y1 = corrupt(x[0], flip=0.2, seed=9)
    assert y1.shape == (80,)
    assert (y1 != x[0]).sum() == 16
    np.testing.assert_array_equal(y1, corrupt(x, flip=0.2, seed=9)[0])
    # {0, 1} input is coerced first
    np.testing.assert_array_equal(corrupt(x > 0, flip=0.2, seed=9)[0], y1)


def test_corrupt_deterministic_in_seed() -> None:
    x = random_patterns(30, 64, seed=1)
    np.testing.assert_array_equal(corrupt(x, flip=0.3, seed=4), corrupt(x, flip=0.3, seed=4))
    assert not np.array_equal(corrupt(x, flip=0.3, seed=4), corrupt(x, flip=0.3, seed=5))


def test_corrupt_positions_are_uniform() -> None:
    n, rows, k = 20, 4000, 5
    x = np.ones((rows, n), dtype=np.int8)
    y = corrupt(x, flip=k / n, seed=123)
    freq = (y < 0).mean(axis=0)  # each position is flipped with probability k/n
    np.testing.assert_allclose(freq, k / n, atol=0.03)  # sd ~ 0.007


@pytest.mark.parametrize("flip", [-0.1, 1.0001, 2, float("nan"), float("inf")])
def test_corrupt_rejects_bad_flip(flip: float) -> None:
    with pytest.raises(ValueError, match=r"flip must be in \[0, 1\]"):
        corrupt(random_patterns(2, 8, seed=0), flip=flip)


@pytest.mark.parametrize("flip", ["0.1", None, 0.1j, True])
def test_corrupt_rejects_non_real_flip(flip: object) -> None:
    with pytest.raises(TypeError, match="flip must be a real number"):
        corrupt(random_patterns(2, 8, seed=0), flip=flip)  # type: ignore[arg-type]


def test_corrupt_rejects_bad_patterns() -> None:
    with pytest.raises(ValueError, match=r"patterns must be 1-D"):
        corrupt(np.ones((2, 3, 4)), flip=0.1)
    with pytest.raises(ValueError, match=r"^patterns must hold spins.*found 2 at index \(1, 0\)"):
        corrupt([[1, 1], [2, 1]], flip=0.1)


# ---------------------------------------------------------------------------
# text art


def test_to_text_round_trip() -> None:
    pats, shape = letter_patterns(LETTERS)
    for pat, key in zip(pats, LETTERS, strict=True):
        assert to_text(pat, shape) == "\n".join(LETTERS[key])
        assert to_text(pat.reshape(shape), shape) == "\n".join(LETTERS[key])
    assert to_text([1, 0, 0, 1], (2, 2), on="X", off=" ") == "X \n X"


def test_to_text_bad_size() -> None:
    with pytest.raises(ValueError, match=r"state has 5 spins but shape \(2, 2\) needs 4"):
        to_text([1, 1, 1, 1, 1], (2, 2))
