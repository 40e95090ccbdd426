"""Silence PyMC's (and pymc-extras') info logging and warnings while a fit runs."""

from __future__ import annotations

import contextlib
import logging
import warnings


@contextlib.contextmanager
def quiet(progress: bool = False):
    """Silence PyMC / pymc-extras info logging and warnings unless ``progress``; restore after."""
    if progress:
        yield
        return
    loggers = [logging.getLogger(n) for n in ("pymc", "pymc_extras")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)
