"""The run's headline beside the Densing Law's published figures, and one sentence, computed
from the run, on why they differ (data span, benchmarks and variants, reference family,
frontier form, measurement model), with a pointer to the multiverse and the backtest.
"""

from __future__ import annotations

import pandas as pd
import xarray as xr

from ..constants import PAPER, PAPER_BENCHMARKS
from ..inference.run import Run
from ..posterior.trend_draws import quantile_of, scatter_form

__all__ = ["differences", "paper_context", "published_rows"]


def published_rows() -> list[dict]:
    """The paper's published doubling times (point estimates; no intervals were published)."""
    a, n = PAPER["arxiv_v2"], PAPER["nature_mi_2025"]
    return [
        {"source": "arXiv 2412.04315 v2 (2024)", "doubling_months": a["doubling_months"],
         "A_per_day": a["A_per_day"], "n_models": a["n_models"], "dates": None,
         "note": f"R^2 {a['R2']}; MMLU before/after ChatGPT A = {a['mmlu_A_per_day_before_chatgpt']}/"
                 f"{a['mmlu_A_per_day_after_chatgpt']} per day", "citation": a["source"]},
        {"source": "Nature Machine Intelligence (2025)", "doubling_months": n["doubling_months"],
         "A_per_day": None, "n_models": n["n_models"], "dates": f"{n['dates'][0]} to {n['dates'][1]}",
         "note": f"before/after ChatGPT: {n['doubling_months_before_chatgpt']}/"
                 f"{n['doubling_months_after_chatgpt']} months", "citation": n["source"]},
    ]


def differences(tree: xr.DataTree) -> str:
    """One sentence on how this run's analysis differs from the paper's, computed from the run."""
    run = Run.of(tree)
    spec = run.spec_dict
    const = tree.constant_data
    dates = pd.to_datetime(const["release_date"].to_numpy()) if "release_date" in const else pd.DatetimeIndex([])
    n_models = int(tree.posterior.sizes.get("model", len(dates)))
    span = (f"{n_models} models released {dates.min():%Y-%m} to {dates.max():%Y-%m}" if len(dates)
            else f"{n_models} models")
    nmi = PAPER["nature_mi_2025"]
    benches = [str(b) for b in const["benchmark"].to_numpy().astype(str)]
    paper5 = [b for b in benches if b in PAPER_BENCHMARKS]
    missing = [b for b in PAPER_BENCHMARKS if b not in benches]
    extra = [b for b in benches if b not in PAPER_BENCHMARKS]
    bench = f"{len(benches)} benchmarks ({', '.join(paper5) or 'none'} of the paper's five"
    bench += f"; without {', '.join(missing)}" if missing else ""
    bench += f"; plus variants and others: {', '.join(extra)})" if extra else ")"
    refs = list(const["reference"].to_numpy().astype(str)) if "reference" in const else []
    ref = (f"density relative to the '{spec.get('reference', '?')}' reference family ({len(refs)} models: "
           f"{', '.join(refs[:3])}{', ...' if len(refs) > 3 else ''}) rather than the paper's own small "
           "reference models")
    scatter = scatter_form(tree)
    trend = tree.attrs.get("trend", spec.get("trend", "linear"))
    if scatter == "quantile":
        form = f"a {trend} {quantile_of(tree):.2g}-quantile frontier fitted to all models"
    else:
        form = (f"a {trend} stochastic frontier fitted to all models" if scatter == "frontier"
                else f"a {trend} mean trend over all models")
    form += " instead of least squares on the running-maximum envelope"
    post = tree.posterior
    extras = [w for v, w in (("floor", "learned floors"), ("source_offset", "per-source offsets"),
                              ("domain_dev", "domain deviations"), ("domain_sigma", "domain deviations"))
              if v in post]
    extras = list(dict.fromkeys(extras))
    meas = ("one joint beta-binomial link from loss to score" + (f" with {', '.join(extras)}" if extras else "")
            + " instead of the paper's two-step least-squares fits")
    return (f"This posterior differs from the published figures because the analysis differs: data ({span}; the "
            f"paper: {PAPER['arxiv_v2']['n_models']} models in v2, {nmi['n_models']} of {nmi['dates'][0]} to "
            f"{nmi['dates'][1]} in Nature MI), benchmarks ({bench}), reference ({ref}), frontier ({form}) and "
            f"measurement ({meas}); how far each choice moves the doubling time is what 'bayes-density multiverse' "
            "(benchmarks x reference family) and the backtest (fits on data up to earlier dates) show.")


def paper_context(tree: xr.DataTree) -> dict:
    """``published`` (the paper's figures) and ``differences`` (the sentence) for a run."""
    return {"published": published_rows(), "differences": differences(tree)}
