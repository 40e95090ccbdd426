"""A fitted run: the DataTree a fit returns (or a NetCDF run file), read once.

:class:`Run` is the one place that parses a run's attributes: its spec, ``t0``
and the date axis (years since ``t0`` <-> calendar dates, through
:func:`bayes_density.model.design.years_since` / ``dates_from_years``), the
fit's :class:`ModelInputs`, diagnostics and versions. Derived quantities take
a ``Run`` or a tree (``Run.of`` converts once). Run files are written
atomically (:func:`atomic_write`); :meth:`Run.load` turns a missing file, a
file that is not NetCDF, or a NetCDF file that is not a run into a
:class:`~bayes_density.errors.RunFileError` naming the file.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import RunFileError
from ..model.design import ModelInputs, dates_from_years, offset_identified, years_since
from ..model.spec import ModelSpec

__all__ = ["Run", "atomic_write", "inputs_from_tree", "load", "save", "spec_of"]

#: what a DataTree needs to be a bayes-density run
REQUIRED_ATTRS = ("spec", "t0")
REQUIRED_GROUPS = ("posterior", "constant_data")


def atomic_write(path: str | Path, write) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place.

    Nothing half-written is left behind: on any failure the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass(eq=False)
class Run:
    """One fitted run. ``tree`` is the ArviZ DataTree; ``path`` the file it came from, if any."""

    tree: xr.DataTree
    path: Path | None = field(default=None)

    # ------------------------------------------------------------ construction, files

    @classmethod
    def of(cls, run: Run | xr.DataTree) -> Run:
        """``run`` itself if it is a Run, else a Run around the tree."""
        return run if isinstance(run, Run) else cls(run)

    @classmethod
    def load(cls, path: str | Path) -> Run:
        """Read a run file written by :meth:`save`; RunFileError if it is not one."""
        path = Path(path)
        if not path.exists():
            raise RunFileError(path, "no such run file")
        if path.is_dir():
            raise RunFileError(path, "is a folder, not a run file (NetCDF)")
        try:
            tree = xr.open_datatree(path, engine="h5netcdf").load()
        except Exception as exc:  # h5py/h5netcdf/xarray raise several types for a non-NetCDF file
            raise RunFileError(path, f"not a NetCDF run file ({type(exc).__name__}: {exc}); "
                                     "write one with 'bayes-density fit --out RUN.nc'") from None
        missing = [a for a in REQUIRED_ATTRS if a not in tree.attrs] + [
            f"group {g!r}" for g in REQUIRED_GROUPS if g not in tree.children]
        if missing:
            raise RunFileError(path, f"a NetCDF file but not a bayes-density run (missing {', '.join(missing)}); "
                                     "write one with 'bayes-density fit --out RUN.nc'")
        sizes = tree["posterior"].sizes
        if not sizes.get("chain", 0) or not sizes.get("draw", 0) or not tree["posterior"].data_vars:
            raise RunFileError(path, f"a run with no posterior draws ({sizes.get('chain', 0)} chains x "
                                     f"{sizes.get('draw', 0)} draws); refit with --draws >= 1 and --chains >= 1")
        return cls(tree, path)

    def save(self, path: str | Path) -> Path:
        """Write the run to NetCDF atomically."""
        return atomic_write(path, lambda tmp: self.tree.to_netcdf(tmp, engine="h5netcdf"))

    # ------------------------------------------------------------ what the run says about itself

    @property
    def attrs(self) -> dict:
        return self.tree.attrs

    @cached_property
    def spec(self) -> ModelSpec:
        """The spec the run was fitted with."""
        d = json.loads(self.tree.attrs["spec"])
        for key in ("benchmarks", "targets", "changepoint_range", "exclude_variants", "domains"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return ModelSpec(**d)

    @cached_property
    def spec_dict(self) -> dict:
        """The spec as the plain dictionary stored in the run."""
        return json.loads(self.tree.attrs.get("spec", "{}"))

    @cached_property
    def t0(self) -> pd.Timestamp:
        """The date model time counts from (t = 0)."""
        return pd.Timestamp(self.tree.attrs["t0"])

    @cached_property
    def targets(self) -> list[str]:
        return json.loads(self.tree.attrs.get("targets", "[]"))

    @property
    def quantile(self) -> float | None:
        """The quantile q of a quantile-frontier run (``attrs["quantile"]``, -1 when none), else None."""
        q = float(self.tree.attrs.get("quantile", -1.0))
        return q if 0 < q < 1 else None

    @property
    def scatter(self) -> str:
        """How the run's models scatter about its trend: 'frontier' (stochastic frontier,
        skew-normal), 'quantile' (asymmetric Laplace, the trend a quantile) or 'mean' (normal)."""
        if self.quantile is not None:
            return "quantile"
        return "frontier" if bool(int(self.tree.attrs.get("frontier", 1))) else "mean"

    def years(self, dates) -> np.ndarray:
        """Dates -> years since ``t0`` (model time)."""
        return years_since(dates, self.t0)

    def dates(self, years) -> pd.DatetimeIndex:
        """Years since ``t0`` -> calendar dates (rounded to whole days)."""
        return dates_from_years(years, self.t0)

    @cached_property
    def inputs(self) -> ModelInputs:
        """The fit's :class:`ModelInputs`, rebuilt from ``constant_data`` (for refits)."""
        return inputs_from_tree(self.tree)

    def diagnostics(self) -> dict:
        """Convergence diagnostics (see :func:`bayes_density.inference.diagnostics.diagnostics`)."""
        from .diagnostics import diagnostics

        return diagnostics(self.tree)

    @property
    def versions(self) -> dict[str, str]:
        """Versions of bayes-density and its inference stack in this process."""
        from importlib import metadata

        out = {}
        for pkg in ("bayes-density", "pymc", "pytensor", "nutpie", "arviz", "numpy"):
            try:
                out[pkg] = metadata.version(pkg)
            except metadata.PackageNotFoundError:
                out[pkg] = "not installed"
        return out


# ---------------------------------------------------------------- functions (the names callers already use)


def save(tree: xr.DataTree | Run, path: str | Path) -> Path:
    """Write a run to NetCDF atomically."""
    return Run.of(tree).save(path)


def load(path: str | Path) -> xr.DataTree:
    """Read a run written by :func:`save` (its DataTree); RunFileError if the file is not a run."""
    return Run.load(path).tree


def spec_of(tree: xr.DataTree | Run) -> ModelSpec:
    """The spec a run was fitted with."""
    return Run.of(tree).spec


def inputs_from_tree(tree: xr.DataTree) -> ModelInputs:
    """Rebuild the fit's :class:`ModelInputs` from a run (for refits: LFO, backtests)."""
    c = tree.constant_data
    models = list(c["model"].to_numpy().astype(str))
    refs = list(c["reference"].to_numpy().astype(str))
    obs = tree.observed_data
    has_loss = "log_loss" in obs
    release = pd.to_datetime(c["release_date"].to_numpy())
    out = ModelInputs(
        models=models,
        references=refs,
        targets=json.loads(tree.attrs.get("targets", "[]")),
        benchmarks=list(c["benchmark"].to_numpy().astype(str)),
        log_params=c["log_params"].to_numpy(),
        t=c["t"].to_numpy(),
        ref_log_params=c["ref_log_params"].to_numpy(),
        ref_log_tokens=c["ref_log_tokens"].to_numpy(),
        ref_t=c["ref_t"].to_numpy(),
        chance=c["chance"].to_numpy(),
        n_items=c["n_items"].to_numpy(),
        obs_unit=c["obs_unit"].to_numpy().astype(int),
        obs_bench=c["obs_bench"].to_numpy().astype(int),
        obs_k=obs["k"].to_numpy().astype(np.int64),
        obs_n=c["obs_n"].to_numpy().astype(np.int64),
        t0=pd.Timestamp(tree.attrs["t0"]),
        log_d0=float(tree.attrs["log_d0"]),
        loss_log_params=c["loss_log_params"].to_numpy() if has_loss else np.zeros(0),
        loss_log_tokens=c["loss_log_tokens"].to_numpy() if has_loss else np.zeros(0),
        loss=np.exp(obs["log_loss"].to_numpy()) if has_loss else np.zeros(0),
        obs_harness=list(c["obs_harness"].to_numpy().astype(str)),
        release_dates=dict(zip(models, release)),
        link_level=c["link_level"].to_numpy() if "link_level" in c else None,
    )
    if "bench_family" in c:  # measurement-model layout (runs of the first model lack it)
        out.families = json.loads(tree.attrs.get("families", "[]"))
        out.bench_family = c["bench_family"].to_numpy().astype(int)
        out.domains = json.loads(tree.attrs.get("domains", "[]"))
        out.bench_domain = c["bench_domain"].to_numpy().astype(int)
        out.kinds = json.loads(tree.attrs.get("source_kinds", "[]"))
        out.obs_kind = c["obs_kind"].to_numpy().astype(int)
        out.offset_mask = offset_identified(out)
        fixed = json.loads(tree.attrs.get("floor_fixed", "null"))
        out.floor_fixed = None if fixed is None else np.asarray(fixed, bool)
        flags = json.loads(tree.attrs.get("specialist", "null"))
        out.specialist = None if flags is None else np.asarray(flags, bool).reshape(len(out.units), len(out.domains))
    return out
