"""Data simulated from the joint model itself, for recovery and calibration tests.

Simulation uses the same PyMC graph as fitting (:func:`pymc.do` fixes the
parameters, :func:`pymc.draw` draws the rest), so the simulator and the model
cannot drift apart. :func:`synthetic_inputs` makes a design (dates, sizes,
missing scores, several sources per pair) shaped like the shipped data.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pymc as pm

from .design import ModelInputs, years_since
from .joint import build_model
from .spec import ModelSpec

# A synthetic benchmark panel shaped like the paper's five (chance floor, item
# count, share of models with a score). These are simulation settings, not data.
SIM_BENCHMARKS = pd.DataFrame(
    {
        "name": ["SimMC", "SimMixed", "SimMath", "SimCodeSmall", "SimCode"],
        "chance": [0.25, 0.1, 0.0, 0.0, 0.0],
        "n_items": [14000, 6500, 5000, 164, 500],
        "coverage": [0.95, 0.6, 0.4, 0.8, 0.4],
    }
)

# A reference family shaped like Llama-1 + Llama-2 (sizes, tokens, dates): simulation settings.
SIM_REFERENCE = pd.DataFrame(
    {
        "name": [f"Ref-{i}" for i in range(7)],
        "params": [7e9, 13e9, 33e9, 65e9, 7e9, 13e9, 70e9],
        "tokens": [1e12, 1e12, 1.4e12, 1.4e12, 2e12, 2e12, 2e12],
        "date": ["2023-02-24"] * 4 + ["2023-07-18"] * 3,
    }
)

# The link's parameterisation level q* of every simulated benchmark (fixed, so that
# data simulated from the model and the fit to them share one prior).
SIM_LEVEL = 0.35

# Parameter values close to published fits (Besiroglu et al. 2024 for the loss law,
# Xiao et al. 2024 for the slope: 0.0073/day = 2.67/yr), used as simulation truth.
DEFAULT_TRUTH = {
    "log_E": math.log(1.82),
    "log_alpha": math.log(0.35),
    "log_beta": math.log(0.37),
    "log_sN": math.log(0.36),
    "log_sD": math.log(0.35),
    "loss_sigma": 0.01,
    "intercept": 0.0,
    "intercept_mean": -0.6,
    "slope": 2.6,
    "slope_change": 0.0,
    "frontier_scale": math.hypot(0.25, 0.8),  # sd_v = 0.25, sd_u = 0.8
    "frontier_share": 0.8 / math.hypot(0.25, 0.8),
    "frontier_sigma_v": 0.25,  # derived from scale and share; kept for reference
    "frontier_sigma_u": 0.8,
    "trend_sigma": 0.8,
    "quantile_sd": 0.8,
    "link_loc_mu": 0.9,  # the typical level SIM_LEVEL is reached ~0.9 nats above the anchor
    "link_loc_tau": 1.0,
    "link_log_slope_mu": math.log(1.0),
    "link_log_slope_tau": 0.3,
    # measurement model (used when the design has it): developer +0.3, third party -0.2 nats
    "source_offset_mean": [0.3, -0.2],
    "domain_sigma": [0.6, 0.4],  # in the order of the design's domains (code, math)
}


def synthetic_inputs(
    n_models: int = 60,
    seed: int = 0,
    start: str = "2023-01-01",
    end: str = "2025-06-30",
    min_size: float = 5e8,
    max_size: float = 7e10,
    second_source: float = 0.2,
    n_loss_points: int = 120,
    n_targets: int = 0,
    measurement: bool = False,
    domains: tuple[str, ...] = ("code", "math"),
) -> ModelInputs:
    """A design like the shipped data's: dates, log-uniform sizes, missing scores, repeats.

    Observed counts are zeros here; :func:`simulate` fills them.
    """
    rng = np.random.default_rng(seed)
    t0_dates = pd.to_datetime([start, end])
    days = rng.uniform(0, (t0_dates[1] - t0_dates[0]).days, n_models)
    dates = (t0_dates[0] + pd.to_timedelta(np.sort(days).round(), unit="D"))
    log_params = rng.uniform(math.log(min_size), math.log(max_size), n_models)
    ref_dates = pd.to_datetime(SIM_REFERENCE["date"])
    all_dates = pd.Series(list(dates) + list(ref_dates))
    mean = all_dates.min() + (all_dates - all_dates.min()).mean()
    t0 = pd.Timestamp(year=mean.year, month=mean.month, day=1)
    n_ref = len(SIM_REFERENCE)
    units, benches = [], []
    cover = SIM_BENCHMARKS["coverage"].to_numpy()
    for u in range(n_models + n_ref + n_targets):
        if u >= n_models + n_ref:  # targets: a few reported scores, like GPT-4's
            have = np.zeros(len(cover), bool)
            have[[0, 3]] = True
        else:
            have = rng.random(len(cover)) < (cover if u < n_models else 1.0)
        if not have.any():
            have[0] = True
        for b in np.flatnonzero(have):
            reps = 2 if rng.random() < second_source else 1
            units += [u] * reps
            benches += [b] * reps
    n_items = SIM_BENCHMARKS["n_items"].to_numpy(float)
    obs_bench = np.array(benches)
    # loss points: a grid like the Chinchilla runs (70M-16B params, 5-500 tokens/param)
    ln = rng.uniform(math.log(7e7), math.log(1.6e10), n_loss_points)
    ld = ln + rng.uniform(math.log(5), math.log(500), n_loss_points)

    def years(d):
        return years_since(d, t0)

    out = ModelInputs(
        models=[f"Sim-{i:04d}" for i in range(n_models)],
        references=list(SIM_REFERENCE["name"]),
        targets=[f"SimTarget-{q}" for q in range(n_targets)],
        benchmarks=list(SIM_BENCHMARKS["name"]),
        log_params=log_params,
        t=years(dates),
        ref_log_params=np.log(SIM_REFERENCE["params"].to_numpy(float)),
        ref_log_tokens=np.log(SIM_REFERENCE["tokens"].to_numpy(float)),
        ref_t=years(ref_dates),
        chance=SIM_BENCHMARKS["chance"].to_numpy(float),
        n_items=n_items,
        obs_unit=np.array(units),
        obs_bench=obs_bench,
        obs_k=np.zeros(len(units), dtype=np.int64),
        obs_n=n_items[obs_bench].astype(np.int64),
        t0=t0,
        log_d0=math.log(1e12),
        loss_log_params=ln,
        loss_log_tokens=ld,
        loss=np.full(n_loss_points, 2.5),
        release_dates=dict(zip([f"Sim-{i:04d}" for i in range(n_models)], dates)),
        link_level=np.full(len(SIM_BENCHMARKS), SIM_LEVEL),
    )
    if measurement:
        _measurement_design(out, rng, domains)
    return out


#: Measurement-model layout of the simulated panel (simulation settings): SimCodeSmall is a
#: second variant of the SimCode family; SimMath is math, the two code variants code.
SIM_FAMILY = ["SimMC", "SimMixed", "SimMath", "SimCode", "SimCode"]
SIM_DOMAIN = [None, None, "math", "code", "code"]
#: shares of scores from each source kind (harness, developer, third_party): simulation settings
SIM_KIND_SHARE = (0.55, 0.3, 0.15)


def _measurement_design(inputs: ModelInputs, rng, domains) -> None:
    """Families, domains and source kinds for the simulated panel (in place)."""
    fams = list(dict.fromkeys(SIM_FAMILY))
    inputs.families = fams
    inputs.bench_family = np.array([fams.index(f) for f in SIM_FAMILY])
    inputs.domains = [d for d in domains if d in SIM_DOMAIN]
    inputs.bench_domain = np.array([inputs.domains.index(d) if d in inputs.domains else -1 for d in SIM_DOMAIN])
    inputs.kinds = ["harness", "developer", "third_party"]
    kind = rng.choice(3, size=inputs.n_obs, p=SIM_KIND_SHARE)
    # a repeated (unit, benchmark) pair is a second source: give it another kind than the first
    seen: dict[tuple[int, int], int] = {}
    for o, key in enumerate(zip(inputs.obs_unit, inputs.obs_bench)):
        if key in seen and kind[o] == kind[seen[key]]:
            kind[o] = (kind[o] + 1) % 3
        seen.setdefault(key, o)
    inputs.obs_kind = kind


def simulate(
    inputs: ModelInputs, spec: ModelSpec, truth: dict | None = None, seed: int = 0
) -> tuple[ModelInputs, dict]:
    """Draw a data set from the model with parameters fixed at ``truth``.

    Returns new inputs (observed counts and losses replaced) and the full truth:
    the fixed parameters plus the drawn latent log densities and derived link
    parameters. Per-benchmark raw effects are drawn when not given.
    """
    rng = np.random.default_rng(seed)
    truth = {**DEFAULT_TRUTH, **(truth or {})}
    model = build_model(inputs, spec)
    fixed = {}
    for name in model.free_RVs:
        vname = name.name
        if vname in truth:
            fixed[vname] = np.asarray(truth[vname], dtype=float)
    fixed = {k: v for k, v in fixed.items() if k in model.named_vars}
    free_left = [v.name for v in model.free_RVs if v.name not in fixed]
    fixed_model = pm.do(model, fixed)
    want = [v for v in ["log_density", "target_log_neff", "k", "log_loss"] if v in fixed_model.named_vars]
    derived = ["link_mu", "link_kappa", "ceiling", "phi", "ref_log_density"]
    # the measurement model's derived quantities (deterministics only: drawing an extra free variable
    # would change the random stream, and with it the data, of the first model's designs)
    determ = {d.name for d in fixed_model.deterministics}
    derived += [v for v in ("floor", "source_offset", "domain_dev", "link_loc") if v in determ and v not in want]
    if "slope_after" in fixed_model.named_vars:
        derived.append("slope_after")
    draws = pm.draw([fixed_model[v] for v in want + derived], random_seed=int(rng.integers(2**31)))
    out = dict(zip(want + derived, draws))
    sim = copy.deepcopy(inputs)
    sim.obs_k = np.asarray(out["k"], dtype=np.int64)
    if "log_loss" in out:
        sim.loss = np.exp(out["log_loss"])
    full_truth = {**{k: np.asarray(v) for k, v in fixed.items()}, **{k: np.asarray(v) for k, v in out.items()}}
    full_truth["free_not_fixed"] = [n for n in free_left if n not in out]
    return sim, full_truth


def write_tables(inputs: ModelInputs, folder, reference_set: str = "sim") -> None:
    """Write simulated inputs as CSV tables in the package schema (for end-to-end tests and demos)."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    src = "simulated by bayes_density.simulate"
    ref_dates = list(inputs.date(inputs.ref_t))
    models = pd.DataFrame({
        "name": inputs.models + inputs.references,
        "family": ["Sim"] * inputs.n_models + ["Ref"] * len(inputs.references),
        "release_date": [inputs.release_dates[m].date().isoformat() for m in inputs.models]
        + [d.date().isoformat() for d in ref_dates],
        "date_source": src,
        "params": np.exp(np.concatenate([inputs.log_params, inputs.ref_log_params])),
        "active_params": np.exp(np.concatenate([inputs.log_params, inputs.ref_log_params])),
        "tokens": [np.nan] * inputs.n_models + list(np.exp(inputs.ref_log_tokens)),
        "base_or_instruct": "base", "open_or_closed": "open", "source": src, "notes": "",
    })
    units = np.array(inputs.units)
    n_fixed = inputs.n_models + len(inputs.references)
    obs = pd.DataFrame({"unit": units[inputs.obs_unit], "is_target": inputs.obs_unit >= n_fixed,
                        "benchmark": np.array(inputs.benchmarks)[inputs.obs_bench],
                        "score": inputs.obs_k / inputs.obs_n})
    obs["source"] = [f"{src} (draw {i})" for i in range(len(obs))]
    layout = inputs.bench_family is not None and len(inputs.kinds) > 1
    kinds = np.array(inputs.kinds or ["harness"])
    obs["source_kind"] = kinds[inputs.kind_of()] if layout else "harness"
    scores = obs[~obs["is_target"]].rename(columns={"unit": "model"})
    scores = scores.assign(shots=5, cot="false", harness="sim")[
        ["model", "benchmark", "score", "shots", "cot", "harness", "source", "source_kind"]]
    targets = obs[obs["is_target"]].rename(columns={"unit": "target"}).assign(shots=5)[
        ["target", "benchmark", "score", "shots", "source", "source_kind"]]
    bench = SIM_BENCHMARKS.assign(answer_type=np.where(SIM_BENCHMARKS["chance"] > 0, "multiple_choice",
                                                       "generated"), source=src)[
        ["name", "n_items", "chance", "answer_type", "source"]]
    if inputs.bench_family is not None:
        bench = bench.assign(family=SIM_FAMILY, domain=SIM_DOMAIN)
    losses = pd.DataFrame({"params": np.exp(inputs.loss_log_params), "tokens": np.exp(inputs.loss_log_tokens),
                           "loss": inputs.loss, "source": src})
    refs = pd.DataFrame({"set": reference_set, "model": inputs.references, "source": src})
    for name, df in [("models", models), ("scores", scores), ("targets", targets), ("benchmarks", bench),
                     ("losses", losses), ("references", refs)]:
        df.to_csv(folder / f"{name}.csv", index=False)
