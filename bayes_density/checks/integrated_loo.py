"""LOO-PIT with each fitted model's own latents integrated out (integrated LOO).

PSIS-LOO reweights the posterior draws to mimic leaving one score out. For a model
scored on one or two benchmarks that one score sets the model's density, the
importance ratios are heavy-tailed (Pareto k > 0.7 for 159-183 of the 862 shipped
scores) and the PIT values they give are pulled toward the in-sample fit, i.e.
toward 0.5: a calibrated model then fails the uniformity test for the estimator's
sake. Here the leave-one-out predictive of score o of fitted model u is computed
draw by draw of the global parameters theta (trend and scatter, links, floors,
source offsets, domain sds)::

    p(y_o | y_-o) ~= E_{theta | y} [ int p(y_o | r, d, theta) p(r, d | y_u,-o, theta) dr dd ]

The one score's pull on the globals is neglected (hundreds of scores pin them; the
same approximation as :mod:`bayes_density.posterior.placement`). Per posterior draw:

1. r from p(r | model u's other scores, theta): the trend prior at u's release date
   times the other scores' likelihood on placement's grid, domain deviations
   integrated out (:func:`~bayes_density.posterior.placement.sample_log_density`
   with the subsample fast path's grid settings: cells of 0.05 nats, located on 25
   draws); with no other score, the trend prior alone;
2. if score o is in a modelled domain k (code, math), u's deviation d_k from
   p(d_k | r, u's other scores in domain k, theta): its N(m_k, sigma_k) prior times those
   scores' likelihood on a grid of ``DEVIATION_GRID`` points over +-6 sds (0.025 sd apart),
   one inverse-CDF draw per posterior draw, jittered within its cell (a draw from the
   prior when u has no other score in k, the common case). Resampling 64 prior draws, as
   before, left a sharp likelihood a handful of candidates to choose from;
3. ``replicates`` replicate scores from the beta-binomial at that (r, d).

PIT_o = share of replicates below y_o + U x share equal to it (U ~ U(0, 1) per score:
ties randomised, as ArviZ's ``loo_pit``). Scores of reference models and targets
keep PSIS: their size is not a latent density (references) or has no trend prior
(targets), and they are few.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from ..model.joint import draw_scores, zeta
from ..posterior.placement import _Link, draw_rows, sample_log_density
from ..posterior.subsample import LOCATE_DRAWS, NEGLIGIBLE_FAST, STRIDE

#: posterior draws used (evenly spaced over all chains) and replicate scores per draw
DRAWS, REPLICATES = 500, 4
#: grid (in sds of the domain deviation's prior) on which a deviation is drawn given the unit's other scores
DEVIATION_GRID = np.linspace(-6.0, 6.0, 481)


def fitted_model_scores(tree: xr.DataTree) -> dict[int, list[int]]:
    """Fitted-model unit index -> its score observations' indices (references and targets excluded)."""
    const = tree.constant_data
    n_models = int(const.sizes.get("model", 0))
    units = const["obs_unit"].to_numpy().astype(int)
    out: dict[int, list[int]] = {}
    for o in np.flatnonzero(units < n_models):
        out.setdefault(int(units[o]), []).append(int(o))
    return out


def _scores(tree: xr.DataTree) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    const = tree.constant_data
    b = const["obs_bench"].to_numpy().astype(int)
    n = const["obs_n"].to_numpy().astype(int)
    k = tree.observed_data["k"].to_numpy().astype(int)
    kind = const["obs_kind"].to_numpy().astype(int) if "obs_kind" in const else np.zeros(len(b), int)
    return b, k, n, kind


def _domain_deviation(link: _Link, z: np.ndarray, t: float, d: int, same: list, rng,
                      specialty: str | None = None) -> np.ndarray:
    """One draw of the unit's deviation in domain d per posterior draw, given its other scores there."""
    s = z.shape[0]
    mean = link.domain_mean(d, t, specialty)
    sigma = link.domain_sigma[:, d]
    if not same:
        return mean + sigma * rng.standard_normal(s)
    dev = mean[:, None] + sigma[:, None] * DEVIATION_GRID[None, :]  # (S, grid)
    logw = -0.5 * DEVIATION_GRID[None, :] ** 2 + sum(link._loglik(z[:, None] + dev, b, k, n, kind)
                                                      for b, k, n, kind in same)
    step = sigma * (DEVIATION_GRID[1] - DEVIATION_GRID[0])
    return dev[np.arange(s), draw_rows(logw, rng)] + step * rng.uniform(-0.5, 0.5, s)


def _unit_pit(link: _Link, log_n: float, t: float, f: np.ndarray, obs: list, rng, replicates: int,
              specialty: str | None = None) -> np.ndarray:
    """Integrated LOO-PIT of each of one fitted model's scores ``obs`` ((b, k, n, kind) tuples);
    ``f``: the trend at its date t, per draw."""
    out = np.empty(len(obs))
    for i, (b, k, n, kind) in enumerate(obs):
        others = obs[:i] + obs[i + 1:]
        r, _ = sample_log_density(link, log_n, t, others, rng, f=f, stride=STRIDE, locate_draws=LOCATE_DRAWS,
                                  negligible=NEGLIGIBLE_FAST, specialty=specialty)
        z = zeta(log_n + r, link.alpha[:, 0], link.x_a, xp=np)
        d = int(link.domain[b]) if link.domain_sigma is not None else -1
        if d >= 0:
            same = [o for o in others if int(link.domain[o[0]]) == d]
            z = z + _domain_deviation(link, z, t, d, same, rng, specialty)
        p = np.broadcast_to(link.score_p(z[:, None], b, kind), (len(z), replicates))
        k_rep = draw_scores(rng, n, p, link.phi[:, b:b + 1], link.outlier_share, link.outlier_phi)
        out[i] = np.mean(k_rep < k) + rng.random() * np.mean(k_rep == k)
    return out


def integrated_loo_pit(tree: xr.DataTree, seed: int = 0, draws: int = DRAWS, replicates: int = REPLICATES,
                       threads: int | None = None) -> np.ndarray:
    """LOO-PIT per score observation with the fitted model's latents integrated out (module docstring).

    Returns an array over all observations: NaN for scores of references and targets
    (for those, use PSIS: :func:`bayes_density.checks.ppc.loo_pit`). ``draws``: posterior
    draws used, evenly spaced over all chains. Unit u uses its own generator seeded by
    (``seed``, u): the result does not depend on ``threads``.
    """
    link = _Link(tree)
    if draws < link.n_draws:
        link = link.take(np.linspace(0, link.n_draws - 1, int(draws)).round().astype(int))
    link.read_scatter()  # once, before the threads share the link
    const = tree.constant_data
    log_params, t = const["log_params"].to_numpy(), const["t"].to_numpy()
    b, k, n, kind = _scores(tree)
    by_unit = fitted_model_scores(tree)
    f = link.trend_at(t)  # (draws, models): the trend read once
    pit = np.full(len(b), np.nan)

    def one(u: int) -> None:
        idx = by_unit[u]
        obs = [(int(b[o]), int(k[o]), int(n[o]), int(kind[o])) for o in idx]
        pit[idx] = _unit_pit(link, float(log_params[u]), float(t[u]), f[:, u], obs, np.random.default_rng([seed, u]),
                             replicates, link.unit_specialty(u))

    with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1) as pool:
        list(pool.map(one, sorted(by_unit)))
    return pit
