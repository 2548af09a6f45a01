"""Optional progress bars (tqdm) for the experiments and the command line.

``progress=True`` shows a tqdm bar on stderr. tqdm is an optional dependency
(extra ``progress``); without it the work runs unchanged and a
``RuntimeWarning`` says once per call how to get the bar.
"""

from __future__ import annotations

import warnings
from typing import Any


class _NoBar:
    """Stands in for a tqdm bar: same calls, does nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bar(total: int, desc: str, enabled: bool) -> Any:
    """A progress bar over ``total`` steps, or a do-nothing stand-in.

    Parameters
    ----------
    total : int
        Number of steps.
    desc : str
        Label shown before the bar.
    enabled : bool
        Whether a bar was asked for (``progress=True``).
    """
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        warnings.warn(
            "progress=True needs tqdm, which is not installed; running without a progress "
            "bar (pip install 'hopfield[progress]' or pip install tqdm)",
            RuntimeWarning,
            stacklevel=3,
        )
        return _NoBar()
    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)
