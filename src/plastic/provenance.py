"""Where a run's code came from, for summary.json and the tracking stores: plastic's version
and git commit, the versions of the array libraries, and the rule's own source.

A rule's source is the distribution that ships it and its version (an installed package, as
its entry point or its module declares it), and always the file that defines the class with
the SHA-256 of its bytes: a rule run by `--config-dir` from a file of one's own is traced by
that hash.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np

import plastic
from plastic._paths import repo_dir


def versions() -> dict[str, str | None]:
    """plastic, Python and the array libraries (cupy None where it is not installed)."""
    return {
        "plastic": plastic.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": _version("numba"),
        "cupy": _cupy_version(),
    }


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cupy_version() -> str | None:
    for name in ("cupy", "cupy-cuda13x", "cupy-cuda12x", "cupy-cuda11x"):
        found = _version(name)
        if found:
            return found
    return None


@functools.cache  # once a process: a sweep's jobs run the code the process imported
def git_commit() -> str | None:
    """The commit of the checkout plastic runs from, when it runs from one."""
    root = repo_dir()
    if root is None:
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def rule_source(cls: type) -> dict[str, str | None]:
    """The rule's class, distribution and version (None for a file of one's own), and its
    file with the SHA-256 of its bytes."""
    dotted = f"{cls.__module__}.{cls.__qualname__}"
    distribution = _distribution_of(cls)
    try:
        path = Path(inspect.getfile(cls)).resolve()
        digest = _sha256(path)
    except (TypeError, OSError):  # defined interactively: no file to hash
        path, digest = None, None
    return {
        "class": dotted,
        "distribution": distribution[0] if distribution else None,
        "version": distribution[1] if distribution else None,
        "file": str(path) if path else None,
        "sha256": digest,
    }


@functools.cache
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _distribution_of(cls: type) -> tuple[str, str] | None:
    """(name, version) of the distribution that ships the class: the one whose entry point
    names it, else the one that installs its top-level package."""
    from plastic import registry

    dotted = f"{cls.__module__}.{cls.__qualname__}"
    for offer in registry.offers(registry.RULES).values():
        if offer.dotted == dotted and offer.source != "?":
            name, _, version = offer.source.rpartition(" ")
            return name, version
    try:  # a module of an installed package (not a file of one's own by the same name)
        installed = any(
            part in ("site-packages", "dist-packages") for part in Path(inspect.getfile(cls)).parts
        )
    except TypeError:
        installed = False
    names = _top_level_distributions().get(cls.__module__.split(".")[0], [])
    if installed and names:
        return names[0], _version(names[0]) or "?"
    return None


@functools.cache
def _top_level_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()
