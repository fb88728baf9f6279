"""What of an algorithm runs chunked, declared once next to the algorithm.

A public algorithm function that accepts Dask arrays declares, with :func:`chunked_support`,
which of its options (or which values of them) it cannot honour on a chunked (Dask) input, and
why. The declaration is read in two places and nowhere else:

- the function itself, at call time, through :func:`check_chunked` (a one-line ``ValueError``
  naming the option), and
- the pipeline, when a recipe is loaded and before any work, through :func:`chunked_refusals`
  (the stage maps its parameters to the function's keywords), so a recipe that cannot run
  chunked above the size threshold is refused naming stage and key instead of failing after
  hours of preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["ChunkedSupport", "chunked_support", "chunked_refusals", "check_chunked", "is_lazy"]

F = TypeVar("F", bound=Callable[..., Any])


def is_lazy(data: Any) -> bool:
    """True for a Dask (or other lazily computed) array, False for numpy."""
    import numpy as np

    return not isinstance(data, np.ndarray) and hasattr(data, "compute")


@dataclass(frozen=True)
class ChunkedSupport:
    """The options a function cannot honour chunked.

    Attributes
    ----------
    refused
        option name -> (predicate on the option's value, reason). The predicate returns True
        when that value cannot run chunked; the reason says why or what to do instead.
    """

    refused: Mapping[str, tuple[Callable[[Any], bool], str]] = field(default_factory=dict)

    def problems(self, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(option, reason) for every given option whose value cannot run chunked."""
        out = []
        for name, (refuses, reason) in self.refused.items():
            if name in options and refuses(options[name]):
                out.append((name, reason))
        return out


def chunked_support(
    **refused: tuple[Callable[[Any], bool], str],
) -> Callable[[F], F]:
    """Decorator recording on ``func.chunked_support`` what cannot run chunked.

    Examples
    --------
    >>> @chunked_support(method=(lambda m: m == "local", "local thresholds need the whole volume"))
    ... def segment(stack, *, method="otsu"): ...
    >>> chunked_refusals(segment, {"method": "local"})
    ['method: local thresholds need the whole volume']
    """

    def deco(func: F) -> F:
        func.chunked_support = ChunkedSupport(dict(refused))  # type: ignore[attr-defined]
        return func

    return deco


def _support(func: Callable[..., Any]) -> ChunkedSupport:
    support = getattr(func, "chunked_support", None)
    if support is None:
        raise TypeError(f"{getattr(func, '__qualname__', func)} declares no chunked support")
    return support


def chunked_refusals(func: Callable[..., Any], options: Mapping[str, Any]) -> list[str]:
    """``"option: reason"`` for every option in ``options`` that ``func`` cannot run chunked."""
    return [f"{name}: {reason}" for name, reason in _support(func).problems(options)]


def check_chunked(func: Callable[..., Any], options: Mapping[str, Any]) -> None:
    """Raise a one-line ``ValueError`` when ``func`` cannot run ``options`` chunked."""
    problems = chunked_refusals(func, options)
    if problems:
        name = getattr(func, "__name__", "function")
        raise ValueError(f"{name} on a chunked (Dask) input: {'; '.join(problems)}")
