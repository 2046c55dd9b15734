"""The Celery and kombu versions Stalwart is written and tested against.

The range here is the range in ``pyproject.toml`` and the range CI runs: Stalwart
reaches into internals of both (see :mod:`stalwart.compat`), so an untested release is
refused at import with one line instead of failing in a worker at 3 a.m.
"""

from __future__ import annotations

from collections.abc import Mapping

from stalwart.errors import UnsupportedVersion

__all__ = ["SUPPORTED", "installed_versions", "require_supported", "supported_problem"]

# Package -> (lowest supported, first unsupported), as (major, minor).
SUPPORTED: Mapping[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "celery": ((5, 7), (5, 8)),
    "kombu": ((5, 7), (5, 8)),
}


def installed_versions() -> dict[str, str]:
    """The versions of Celery and kombu this process imports (their ``__version__``)."""
    import celery
    import kombu

    return {"celery": str(celery.__version__), "kombu": str(kombu.__version__)}


def _release(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or "x")
    except (IndexError, ValueError):
        return None


def _range_text(package: str) -> str:
    (lo_major, lo_minor), (hi_major, hi_minor) = SUPPORTED[package]
    if (lo_major, lo_minor + 1) == (hi_major, hi_minor):
        return f"{package} {lo_major}.{lo_minor}.x"
    return f"{package} >={lo_major}.{lo_minor},<{hi_major}.{hi_minor}"


def supported_problem(installed: Mapping[str, str]) -> str | None:
    """One line naming what is unsupported in ``installed``, or None if all is well."""
    wrong = []
    for package, (lowest, first_unsupported) in SUPPORTED.items():
        version = installed.get(package, "?")
        release = _release(version)
        if release is None or not lowest <= release < first_unsupported:
            wrong.append(f"{package} {version}")
    if not wrong:
        return None
    wanted = " and ".join(_range_text(package) for package in SUPPORTED)
    pins = " ".join(f"'{p}>={lo[0]}.{lo[1]},<{hi[0]}.{hi[1]}'" for p, (lo, hi) in SUPPORTED.items())
    return (
        f"Stalwart supports {wanted}, but this environment has {', '.join(wrong)}: "
        f"install a supported version (pip install {pins})"
    )


def require_supported() -> None:
    """Raise :class:`~stalwart.errors.UnsupportedVersion` unless Celery and kombu fit."""
    problem = supported_problem(installed_versions())
    if problem is not None:
        raise UnsupportedVersion(problem)
