"""One class per analysis: data + spec in, fitted DataTree and tidy tables out.

    >>> from bayes_density import DensityAnalysis
    >>> a = DensityAnalysis()              # shipped data, models/default.toml
    >>> tree = a.fit(seed=1)               # nutpie, progress bar
    >>> a.trend()                          # doubling time etc. (tidy DataFrame)
    >>> a.densities().head()               # per-model effective size and density
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .constants import DEFAULT_PROB
from .data.io import DensityData, load_data
from .errors import InputError, SelectionError
from .inference import fit
from .model.design import ModelInputs, prepare
from .model.spec import ModelSpec, load_spec
from .posterior import summaries
from .posterior.baseline import attach_baseline  # noqa: F401  (its old home)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: a trend needs at least this many fitted models, released on at least this many distinct dates
MIN_TREND_MODELS, MIN_TREND_DATES = 3, 2


def check_until(value, name: str = "until") -> pd.Timestamp:
    """``value`` as a date if it is one written YYYY-MM-DD; else an InputError naming ``name``."""
    text = str(value).strip()
    ts = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce") if _ISO_DATE.fullmatch(text) else pd.NaT
    if pd.isna(ts):
        raise InputError(f"{name} {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2024-06-30")
    return ts


def check_trend_data(inputs: ModelInputs, until: str | None = None) -> None:
    """A trend over time needs models at different dates: >= 3 models on >= 2 distinct release dates."""
    dates = sorted({pd.Timestamp(d).date() for d in
                    (inputs.release_dates.get(m) for m in inputs.models) if d is not None and not pd.isna(d)})
    n_dates = len(dates) if dates else len(np.unique(np.asarray(inputs.t)))
    if inputs.n_models < MIN_TREND_MODELS or n_dates < MIN_TREND_DATES:
        on = f" ({', '.join(map(str, dates[:3]))}{', ...' if len(dates) > 3 else ''})" if dates else ""
        raise SelectionError(
            (f"until {until}: " if until else "")
            + f"the selection leaves {inputs.n_models} models on {n_dates} distinct release date(s){on}; "
            f"a trend over time needs at least {MIN_TREND_MODELS} models on at least {MIN_TREND_DATES} dates"
            + (": choose a later date" if until else ": add models released on other dates"))


class DensityAnalysis:
    """A densing-law analysis: select data by a spec, fit the joint model, summarise.

    ``data``: a :class:`DensityData`, a folder of CSVs, or None (shipped data).
    ``spec``: a :class:`ModelSpec`, a shipped spec name, a TOML path, or None (default).
    ``until``: fit only models released on or before this date (backtests).
    """

    def __init__(self, data: DensityData | str | Path | None = None, spec: ModelSpec | str | Path | None = None,
                 until: str | None = None):
        self.spec = spec if isinstance(spec, ModelSpec) else load_spec(spec)
        self.data = data if isinstance(data, DensityData) else load_data(data)
        if self.data.borrowed and self.spec.reference in self.data.reference_sets:
            self.data = self.data.for_reference(self.spec.reference)  # only this family's borrowed models
        if until is not None:
            check_until(until, "until")
            self.spec = self.spec.replace(until=str(until).strip())
        self.inputs: ModelInputs = prepare(self.data, self.spec)
        check_trend_data(self.inputs, until)
        self.tree: xr.DataTree | None = None

    def fit(self, seed: int | None = None, draws: int | None = None, tune: int | None = None,
            chains: int | None = None, progress: bool = True, sampler: str = "nutpie",
            cores: int | None = None, subsample_n: int | None = None) -> xr.DataTree:
        """Sample the posterior; attaches the paper baseline to the run's attributes.

        ``sampler``: ``"nutpie"`` (default) or ``"pymc"`` (NUTS), or an approximation from
        :mod:`bayes_density.fast` (``"advi"``, ``"pathfinder"``: ``draws`` x ``chains``
        independent draws, for screening large data sets; confirm with NUTS), or
        ``"subsample"`` (:mod:`bayes_density.posterior.subsample`: NUTS on ``subsample_n``
        random models, default 300, the others placed on its posterior; for many models).
        """
        from .inference import fast

        for key, value in (("draws", draws), ("tune", tune), ("chains", chains)):
            if value is not None and int(value) < 1:
                raise InputError(f"{key} must be >= 1, got {value}")
        if sampler == "subsample":
            from .posterior.subsample import DEFAULT_N_FIT, fit_subsample

            n_fit = DEFAULT_N_FIT if subsample_n is None else int(subsample_n)
            if n_fit < 2:
                raise InputError(f"subsample_n must be >= 2, got {subsample_n}")
            tree = fit_subsample(self.inputs, self.spec, n_fit, seed=seed, draws=draws, tune=tune, chains=chains,
                                 progress=progress)
        elif sampler in fast.METHODS:
            n = (draws or self.spec.draws) * (chains or self.spec.chains)
            tree = fast.fit_fast(self.inputs, self.spec, sampler, seed=seed, draws=n, log_likelihood=True,
                                 progress=progress)
        else:
            tree = fit.sample(self.inputs, self.spec, seed=seed, draws=draws, tune=tune, chains=chains,
                              progress=progress, sampler=sampler, cores=cores)
        attach_baseline(tree, self.inputs, self.spec.break_date if self.spec.trend != "linear" else None)
        self.tree = tree
        return tree

    def _need_fit(self) -> xr.DataTree:
        if self.tree is None:
            raise RuntimeError("call .fit() first")
        return self.tree

    def trend(self, prob: float = DEFAULT_PROB) -> pd.DataFrame:
        return summaries.trend_table(self._need_fit(), prob)

    def densities(self, prob: float = DEFAULT_PROB) -> pd.DataFrame:
        return summaries.density_table(self._need_fit(), prob)

    def diagnostics(self) -> dict:
        return summaries.diagnostics(self._need_fit())

    def summary(self, prob: float = DEFAULT_PROB) -> dict:
        return summaries.summary_dict(self._need_fit(), prob)

    def save(self, path: str | Path) -> Path:
        return fit.save(self._need_fit(), path)
