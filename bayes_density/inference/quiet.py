"""Silence library info logging and warnings while a fit or a check runs."""

from __future__ import annotations

import contextlib
import logging
import warnings

#: loggers a fit silences by default (PyMC's "Sampling: [...]", pymc-extras' notes)
FIT_LOGGERS = ("pymc", "pymc_extras")


@contextlib.contextmanager
def quiet(progress: bool = False, loggers: tuple[str, ...] = FIT_LOGGERS, all_warnings: bool = False):
    """Silence ``loggers`` below ERROR and UserWarning / RuntimeWarning (every warning with
    ``all_warnings``) unless ``progress``; restore both afterwards."""
    if progress:
        yield
        return
    logs = [logging.getLogger(n) for n in loggers]
    levels = [lg.level for lg in logs]
    try:
        for lg in logs:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            if all_warnings:
                warnings.simplefilter("ignore")
            else:
                warnings.simplefilter("ignore", UserWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
            yield
    finally:
        for lg, lv in zip(logs, levels):
            lg.setLevel(lv)
