"""Saving, loading and pickling models: one versioned, code-free file format.

A saved model is an uncompressed ``.npz`` archive (a zip of ``.npy`` files)
holding:

* ``__hopfield__``: a UTF-8 JSON header (as a ``uint8`` array) with
  ``format = "hopfield"``, ``version`` (:data:`FORMAT_VERSION`), ``kind``
  (the model class, e.g. ``"HopfieldNetwork"``), ``params`` (plain JSON
  values: sizes, rule, β, …) and ``arrays``: for every array its dtype,
  shape and SHA-256 digest;
* one ``.npy`` member per array. Spin patterns are stored bit-packed
  (``numpy.packbits``, little bit order, one row per pattern), so a file is
  about as large as the model's ``nbytes``.

Loading reads with ``allow_pickle=False``: nothing in a file is ever
executed. Every array is checked against its digest, dtype and shape, so a
truncated, corrupted, wrong-version or foreign file raises ``ValueError``
naming the file and what is wrong. Saving writes a temporary file in the
target's directory, flushes it to disk and renames it over the target, so a
crash mid-save never leaves a partial file under the target name.

Saving and loading deal in regular files only. A target that is a symbolic
link is followed: the file it names is replaced (the link stays a link). A
FIFO, socket, device or directory is refused with ``ValueError`` before
anything is written or opened for reading, so a save never replaces one with
a regular file and a load never blocks on a pipe. A new file gets the mode
the umask allows (``0o666 & ~umask``, as ``open`` would give); a replaced
file keeps its mode (and, where permitted, its owner).

Pickling (``pickle``, ``multiprocessing``, joblib, Dask) uses the same state,
so a pickle is about the size of the stored data.
"""

from __future__ import annotations

import abc
import hashlib
import inspect
import io
import json
import os
import secrets
import stat
from typing import Any, ClassVar

import numpy as np

FORMAT_VERSION = 1
"""The version written by :func:`save`; :func:`load` reads versions up to it."""

_HEADER = "__hopfield__"
_KINDS: dict[str, type[Persistent]] = {}

State = tuple[dict[str, Any], dict[str, np.ndarray]]
"""A model's ``params`` (JSON values) and ``arrays``."""


class Persistent(abc.ABC):
    """Mixin giving a model ``save``, pickling and a place in :func:`load`.

    A subclass implements ``_get_state() -> (params, arrays)`` and the
    classmethod ``_from_state(params, arrays)``; it is registered under its
    class name when defined.
    """

    _KIND: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._KIND = cls.__name__
        if not inspect.isabstract(cls):  # a shared base is no kind of file
            _KINDS[cls.__name__] = cls

    @abc.abstractmethod
    def _get_state(self) -> State:
        """The model's ``(params, arrays)``."""

    @classmethod
    @abc.abstractmethod
    def _from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> Persistent:
        """Rebuild a model from :meth:`_get_state`'s output."""

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the model to ``path`` (atomically; see :mod:`hopfield.persist`).

        The file is written exactly at ``path`` (no suffix is added). Load it
        with :func:`hopfield.load`.
        """
        save(self, path)

    def __reduce__(self) -> tuple[Any, ...]:
        params, arrays = self._get_state()
        return (_restore, (self._KIND, params, arrays))


def pack_spins(patterns: np.ndarray) -> np.ndarray:
    """±1 rows ``(P, N)`` → bit-packed ``uint8`` rows (``+1`` = bit set,
    little bit order), as saved."""
    return np.packbits(patterns > 0, axis=1, bitorder="little")


def unpack_spins(packed: np.ndarray, n: int) -> np.ndarray:
    """The inverse of :func:`pack_spins`: ``int8`` ±1 rows ``(P, n)``."""
    if packed.ndim != 2 or packed.dtype != np.uint8 or packed.shape[1] != (n + 7) // 8:
        raise ValueError(f"patterns must be packed uint8 rows of {(n + 7) // 8} bytes")
    bits = np.unpackbits(packed, axis=1, count=n, bitorder="little")
    return bits.astype(np.int8) * 2 - 1


def _restore(kind: str, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> Persistent:
    """Rebuild a model from its state (the pickle entry point)."""
    cls = _KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown model kind {kind!r}; known kinds: {sorted(_KINDS)}")
    return cls._from_state(params, arrays)


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _encode(model: Persistent) -> bytes:
    params, arrays = model._get_state()
    header = {
        "format": "hopfield",
        "version": FORMAT_VERSION,
        "kind": model._KIND,
        "params": params,
        "arrays": {
            name: {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": _digest(a)}
            for name, a in arrays.items()
        },
    }
    if _HEADER in arrays:
        raise ValueError(f"array name {_HEADER!r} is reserved")
    for name, a in arrays.items():
        if a.dtype.kind not in "biuf":
            raise ValueError(f"array {name!r} has dtype {a.dtype}: only numbers can be saved")
    buffer = io.BytesIO()
    members = {_HEADER: np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    members.update({name: np.ascontiguousarray(a) for name, a in arrays.items()})
    np.savez(buffer, **members)  # type: ignore[arg-type]
    return buffer.getvalue()


def save(model: Persistent, path: str | os.PathLike[str]) -> None:
    """Save ``model`` to ``path`` in the ``hopfield`` format.

    Parameters
    ----------
    model : HopfieldNetwork, ModernHopfield or another hopfield model
        The model to save.
    path : str or os.PathLike
        Target file; written exactly there (no suffix is added). An existing
        file is replaced only once the new one is complete, and keeps its
        mode; a symbolic link is followed and the file it names replaced.

    Raises
    ------
    TypeError
        If ``model`` is not a hopfield model or ``path`` is not a path.
    ValueError
        If ``path`` (or what its symbolic links name) is a directory, FIFO,
        socket or device: only regular files are written or replaced.
    OSError
        If the file cannot be written; the target is then left untouched.
    """
    if not isinstance(model, Persistent):
        raise TypeError(f"model must be a hopfield model, got {type(model).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    name = os.fspath(path)
    # A symlink is followed: the file it names is replaced, the link kept.
    target = os.path.realpath(name)
    try:
        existing: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise ValueError(
            f"cannot save to {name!r}: it is {_file_type(existing.st_mode)}, not a regular "
            "file (hopfield saves only to regular files, and never replaces anything else)"
        )
    data = _encode(model)
    fd, tmp = _create_temporary(os.path.dirname(target))
    try:
        if existing is not None:
            _keep_mode_and_owner(fd, existing)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _file_type(mode: int) -> str:
    """What kind of file ``mode`` describes, with an article ("a FIFO")."""
    for test, what in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return what
    return "not a regular file"


def _create_temporary(directory: str) -> tuple[int, str]:
    """A new, empty file in ``directory`` opened for writing: ``(fd, path)``.

    Created with mode ``0o666`` so that the umask decides its permissions, as
    for any file a program creates (``tempfile.mkstemp`` would force ``0o600``).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".hopfield-{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # pragma: no cover - 64 random bits collided
            continue


def _keep_mode_and_owner(fd: int, existing: os.stat_result) -> None:
    """Give the new file the permissions (and, where allowed, the owner) of
    the file it replaces."""
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(existing.st_mode))
    if hasattr(os, "fchown"):
        new = os.fstat(fd)
        if (new.st_uid, new.st_gid) != (existing.st_uid, existing.st_gid):
            try:
                os.fchown(fd, existing.st_uid, existing.st_gid)
            except OSError:  # only root may give a file away
                pass


class _BadFile(ValueError):
    """A file that is not a readable hopfield model (a ``ValueError``)."""


def _bad(path: str, why: str) -> _BadFile:
    return _BadFile(f"{path!r} is not a readable hopfield model file: {why}")


def _read_header(path: str, archive: Any) -> dict[str, Any]:
    if _HEADER not in archive.files:
        raise _bad(path, "no hopfield header (not a file written by hopfield.save)")
    raw = archive[_HEADER]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _bad(path, "malformed header")
    try:
        header = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(path, f"malformed header ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != "hopfield":
        raise _bad(path, "the header does not say format 'hopfield'")
    version = header.get("version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise _bad(
            path,
            f"format version {version!r} is not supported (this hopfield reads 1 to "
            f"{FORMAT_VERSION}; a newer file needs a newer hopfield)",
        )
    for key, kind in (("kind", str), ("params", dict), ("arrays", dict)):
        if not isinstance(header.get(key), kind):
            raise _bad(path, f"header field {key!r} is missing or malformed")
    return header


def _read_arrays(path: str, archive: Any, specs: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every array the header lists, checked against its dtype, shape and digest."""
    arrays: dict[str, np.ndarray] = {}
    for key, spec in specs.items():
        if key not in archive.files:
            raise _bad(path, f"array {key!r} is missing")
        a = archive[key]
        if (
            not isinstance(spec, dict)
            or a.dtype.str != spec.get("dtype")
            or list(a.shape) != spec.get("shape")
            or _digest(a) != spec.get("sha256")
        ):
            raise _bad(path, f"array {key!r} fails its checksum (corrupted file)")
        arrays[key] = a
    return arrays


def load(path: str | os.PathLike[str]) -> Any:
    """Load a model saved with ``model.save(path)``.

    Nothing in the file is executed (arrays are read with
    ``allow_pickle=False``); each array is verified against the SHA-256
    digest, dtype and shape recorded at save time.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    HopfieldNetwork, ModernHopfield or another hopfield model
        The model, retrieving bit-identically to the one saved.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is truncated, corrupted, of an unsupported format version,
        of an unknown model kind, or not a hopfield file at all; or if it is
        not a regular file (a directory, FIFO, socket or device), which is
        refused without reading from it.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    name = os.fspath(path)
    with _open_regular(name) as file:  # a missing or unreadable file raises OSError as is
        try:
            archive = np.load(file, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise _bad(name, "not an .npz archive")
            with archive:
                header = _read_header(name, archive)
                arrays = _read_arrays(name, archive, header["arrays"])
        except (_BadFile, MemoryError):
            raise
        except Exception as exc:
            # A damaged archive can make numpy and zipfile raise almost
            # anything: BadZipFile, EOFError, ValueError (a pickled member),
            # NotImplementedError (a garbled compression method),
            # RuntimeError (a garbled encryption flag), OSError (a seek
            # outside the file).
            raise _bad(name, f"{type(exc).__name__}: {exc}") from None
    kind = header["kind"]
    if kind not in _KINDS:
        raise _bad(name, f"unknown model kind {kind!r}; known kinds: {sorted(_KINDS)}")
    try:
        return _KINDS[kind]._from_state(header["params"], arrays)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise _bad(name, f"inconsistent {kind} state ({exc})") from None


def _open_regular(name: str) -> io.BufferedReader:
    """``name`` opened for binary reading, refused (``ValueError``) unless it
    is a regular file: opening a FIFO would block until a writer came, and a
    device could stream forever."""
    before = os.stat(name)
    if not stat.S_ISREG(before.st_mode):
        raise _bad(name, f"it is {_file_type(before.st_mode)}, not a regular file")
    # Non-blocking, in case it was swapped for a FIFO since the stat.
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode):
            raise _bad(name, f"it is {_file_type(now.st_mode)}, not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
