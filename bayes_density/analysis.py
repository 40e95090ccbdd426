"""One class per analysis: data + spec in, fitted DataTree and tidy tables out.

    >>> from bayes_density import DensityAnalysis
    >>> a = DensityAnalysis()              # shipped data, models/default.toml
    >>> tree = a.fit(seed=1)               # nutpie, progress bar
    >>> a.trend()                          # doubling time etc. (tidy DataFrame)
    >>> a.densities().head()               # per-model effective size and density
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import xarray as xr

from .data.io import DensityData, load_data
from .inference import fit
from .model.design import ModelInputs, prepare
from .model.spec import ModelSpec, load_spec
from .posterior import summaries
from .posterior.baseline import attach_baseline  # noqa: F401  (its old home)


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
        if until is not None:
            self.spec = self.spec.replace(until=until)
        self.inputs: ModelInputs = prepare(self.data, self.spec)
        self.tree: xr.DataTree | None = None

    def fit(self, seed: int | None = None, draws: int | None = None, tune: int | None = None,
            chains: int | None = None, progress: bool = True, sampler: str = "nutpie",
            cores: int | None = None) -> xr.DataTree:
        """Sample the posterior; attaches the paper baseline to the run's attributes.

        ``sampler``: ``"nutpie"`` (default) or ``"pymc"`` (NUTS), or an approximation from
        :mod:`bayes_density.fast` (``"advi"``, ``"pathfinder"``: ``draws`` x ``chains``
        independent draws, for screening large data sets; confirm with NUTS).
        """
        from .inference import fast

        if sampler in fast.METHODS:
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

    def trend(self, prob: float = 0.9) -> pd.DataFrame:
        return summaries.trend_table(self._need_fit(), prob)

    def densities(self, prob: float = 0.9) -> pd.DataFrame:
        return summaries.density_table(self._need_fit(), prob)

    def diagnostics(self) -> dict:
        return summaries.diagnostics(self._need_fit())

    def summary(self, prob: float = 0.9) -> dict:
        return summaries.summary_dict(self._need_fit(), prob)

    def save(self, path: str | Path) -> Path:
        return fit.save(self._need_fit(), path)
