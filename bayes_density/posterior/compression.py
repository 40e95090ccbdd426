"""Compression is not densing: do pruned / distilled models have lower density than their parents?

The Densing Law paper argues that a model pruned or distilled from a larger one is *less* dense
than the model it came from. ``data/models.csv`` states, with a source, the parent
(``derived_from``) and the method (``derivation``: pruned, distilled, both) of the compressed
models in the data. For every (child, parent) pair whose two models are both in a run, this module
reads the run's ``log_density`` draws (natural log of N_eff / N; posterior dims chain, draw, model)
and reports

- ``P(child < parent)``: the posterior probability that the child's density is below its parent's;
- the difference ``ln density(child) - ln density(parent)`` (nats; median and equal-tailed interval)
  and the same as a density ratio ``child / parent``;
- the pooled effect of compression: per draw, the mean of that difference over the pairs, with its
  interval and P(pooled < 0).

The pairs are the data's (:func:`derivation_pairs`), or any list of (child, parent) pairs given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..constants import DEFAULT_PROB
from ..inference.run import Run

__all__ = ["compression_effect", "derivation_pairs"]


def derivation_pairs(models: pd.DataFrame | None = None) -> pd.DataFrame:
    """(child, parent, derivation, source) of every compressed model with its parent named.

    ``models``: a models table (default: the shipped ``data/models.csv``). A table without the
    optional ``derived_from`` column gives no pairs.
    """
    if models is None:
        from ..data.io import read_table
        from ..data.resources import shipped_data_dir

        models = read_table(shipped_data_dir() / "models.csv", "models")
    cols = ["child", "parent", "derivation", "source"]
    if "derived_from" not in models.columns:
        return pd.DataFrame(columns=cols)
    m = models[models["derived_from"].notna() & (models["derived_from"].astype(str) != "")]
    src = m["derivation_source"] if "derivation_source" in m.columns else pd.Series("", index=m.index)
    out = pd.DataFrame({"child": m["name"].astype(str), "parent": m["derived_from"].astype(str),
                        "derivation": m["derivation"].fillna("").astype(str), "source": src.fillna("").astype(str)})
    return out[cols].reset_index(drop=True)


def _log_density(tree: xr.DataTree) -> tuple[np.ndarray, list[str]]:
    da = tree.posterior["log_density"]
    x = da.stack(sample=("chain", "draw")).transpose("sample", "model").to_numpy()
    return x, [str(m) for m in da["model"].values]


def compression_effect(run, pairs: pd.DataFrame | list | None = None, prob: float = DEFAULT_PROB) -> dict:
    """Per pair and pooled density gap of compressed models against their parents.

    ``run``: a :class:`Run` or DataTree with ``log_density`` (chain, draw, model). ``pairs``: a table
    with ``child`` and ``parent`` (and optionally ``derivation``, ``source``), a list of (child, parent)
    tuples, or None for :func:`derivation_pairs` of the shipped data. Pairs with a model not in the run
    are listed under ``missing``. Differences are ``ln density(child) - ln density(parent)`` in nats;
    ``ratio`` columns are ``exp`` of them (child's density / parent's).
    """
    tree = Run.of(run).tree
    if pairs is None:
        pairs = derivation_pairs()
    if not isinstance(pairs, pd.DataFrame):
        pairs = pd.DataFrame(list(pairs), columns=["child", "parent"])
    pairs = pairs.copy()
    for col in ("derivation", "source"):
        if col not in pairs.columns:
            pairs[col] = ""
    ld, names = _log_density(tree)
    idx = {n: i for i, n in enumerate(names)}
    q = [(1 - prob) / 2, 0.5, (1 + prob) / 2]
    rows, missing, diffs = [], [], []
    for r in pairs.itertuples(index=False):
        absent = [n for n in (r.child, r.parent) if n not in idx]
        if absent:
            missing.append({"child": r.child, "parent": r.parent, "not_in_run": absent})
            continue
        d = ld[:, idx[r.child]] - ld[:, idx[r.parent]]
        diffs.append(d)
        lo, med, hi = np.quantile(d, q)
        rows.append({"child": r.child, "parent": r.parent, "derivation": r.derivation,
                     "p_child_lower": float(np.mean(d < 0)),
                     "diff_median": float(med), "diff_lo": float(lo), "diff_hi": float(hi),
                     "ratio_median": float(np.exp(med)), "ratio_lo": float(np.exp(lo)), "ratio_hi": float(np.exp(hi)),
                     "source": r.source})
    pooled = None
    if diffs:
        pm = np.mean(np.stack(diffs, axis=1), axis=1)
        lo, med, hi = np.quantile(pm, q)
        pooled = {"n_pairs": len(diffs), "p_lower": float(np.mean(pm < 0)), "diff_median": float(med),
                  "diff_lo": float(lo), "diff_hi": float(hi), "ratio_median": float(np.exp(med)),
                  "ratio_lo": float(np.exp(lo)), "ratio_hi": float(np.exp(hi))}
    return {"prob": prob, "unit": "nats of ln density (child - parent); ratio = child density / parent density",
            "pairs": rows, "pooled": pooled, "missing": missing}
