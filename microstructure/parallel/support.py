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

__all__ = [
    "ChunkedSupport",
    "WholeVolumeStep",
    "chunked_support",
    "whole_volume_step",
    "chunked_refusals",
    "chunked_memory",
    "check_chunked",
    "check_chunked_memory",
    "memory_budget_bytes",
    "is_lazy",
]

F = TypeVar("F", bound=Callable[..., Any])


def is_lazy(data: Any) -> bool:
    """True for a Dask (or other lazily computed) array, False for numpy."""
    import numpy as np

    return not isinstance(data, np.ndarray) and hasattr(data, "compute")


@dataclass(frozen=True)
class WholeVolumeStep:
    """An option value that runs, on a chunked input, as one in-memory step on the whole
    (reduced) result, e.g. a watershed on the gathered boolean mask.

    Attributes
    ----------
    applies
        Predicate on the option's value: True when the step runs.
    bytes_per_voxel
        Measured peak working memory of the step per voxel of the input (bytes).
    what
        What runs in memory, for messages.
    """

    applies: Callable[[Any], bool]
    bytes_per_voxel: float
    what: str


@dataclass(frozen=True)
class ChunkedSupport:
    """The options a function cannot honour chunked, and those it honours in memory.

    Attributes
    ----------
    refused
        option name -> (predicate on the option's value, reason). The predicate returns True
        when that value cannot run chunked; the reason says why or what to do instead.
    in_memory
        option name -> :class:`WholeVolumeStep`: values that run chunked up to one step on the
        whole (reduced) volume in the calling process; refused when that step does not fit
        (:func:`check_chunked_memory`).
    """

    refused: Mapping[str, tuple[Callable[[Any], bool], str]] = field(default_factory=dict)
    in_memory: Mapping[str, WholeVolumeStep] = field(default_factory=dict)

    def memory(self, options: Mapping[str, Any], n_voxels: int) -> list[tuple[str, int, str]]:
        """(option, bytes, what) of every whole-volume step the options switch on."""
        out = []
        for name, step in self.in_memory.items():
            if name in options and step.applies(options[name]):
                out.append((name, int(step.bytes_per_voxel * n_voxels), step.what))
        return out

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
        old = getattr(func, "chunked_support", None)
        steps = dict(old.in_memory) if old is not None else {}
        func.chunked_support = ChunkedSupport(dict(refused), steps)  # type: ignore[attr-defined]
        return func

    return deco


def whole_volume_step(
    option: str, applies: Callable[[Any], bool], *, bytes_per_voxel: float, what: str
) -> Callable[[F], F]:
    """Decorator recording that ``option`` (when ``applies(value)``) runs, on a chunked input,
    as one in-memory step of ``bytes_per_voxel`` per input voxel (see :class:`WholeVolumeStep`).
    Combines with :func:`chunked_support` in either order."""

    def deco(func: F) -> F:
        old = getattr(func, "chunked_support", None) or ChunkedSupport()
        steps = dict(old.in_memory)
        steps[option] = WholeVolumeStep(applies, float(bytes_per_voxel), what)
        func.chunked_support = ChunkedSupport(dict(old.refused), steps)  # type: ignore[attr-defined]
        return func

    return deco


def memory_budget_bytes() -> int:
    """Memory a whole-volume step may use in the calling process: 80 % of the memory the
    operating system reports available now."""
    import psutil

    return int(0.8 * psutil.virtual_memory().available)


def chunked_memory(
    func: Callable[..., Any], options: Mapping[str, Any], n_voxels: int
) -> list[tuple[str, int, str]]:
    """(option, bytes, what) of each whole-volume step ``func`` runs for ``options`` on an
    input of ``n_voxels`` voxels."""
    return _support(func).memory(options, int(n_voxels))


def check_chunked_memory(
    func: Callable[..., Any],
    options: Mapping[str, Any],
    n_voxels: int,
    budget_bytes: int | None = None,
) -> None:
    """One-line ``ValueError`` when a whole-volume step of ``func`` does not fit
    ``budget_bytes`` (default :func:`memory_budget_bytes`)."""
    budget = memory_budget_bytes() if budget_bytes is None else int(budget_bytes)
    for name, nbytes, what in chunked_memory(func, options, n_voxels):
        if nbytes > budget:
            raise ValueError(
                f"{name}: {what} needs about {nbytes / 2**30:.2f} GiB in memory for "
                f"{n_voxels} voxels, more than the {budget / 2**30:.2f} GiB available; run it "
                "on a sub-volume or on a machine with more memory"
            )


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
