"""Where the shipped data tables and analysis specs are.

The repository keeps them at its top level (``data/`` and ``models/``, the
design card's layout); a built wheel carries them as package data,
``bayes_density/_shipped/data`` and ``bayes_density/_shipped/specs`` (see
``[tool.setuptools.package-dir]`` in ``pyproject.toml``). These functions find
them in either place. ``$BAYES_DENSITY_DATA`` overrides the data folder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["shipped_data_dir", "specs_dir"]

_PACKAGE = Path(__file__).resolve().parent.parent  # bayes_density/
_INSTALLED = _PACKAGE / "_shipped"  # in a wheel
_CHECKOUT = _PACKAGE.parent  # the repository root, in a source checkout or editable install


def _find(installed: str, checkout: str) -> Path:
    wheel = _INSTALLED / installed
    if wheel.is_dir():
        return wheel
    return _CHECKOUT / checkout


def shipped_data_dir() -> Path:
    """The shipped data tables (the repository's ``data/``), or ``$BAYES_DENSITY_DATA`` if set."""
    env = os.environ.get("BAYES_DENSITY_DATA")
    return Path(env) if env else _find("data", "data")


def specs_dir() -> Path:
    """The shipped analysis specs (``*.toml``; the repository's ``models/`` folder)."""
    return _find("specs", "models")
