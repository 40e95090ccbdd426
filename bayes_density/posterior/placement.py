"""Place new models on the density scale under a fitted posterior, without refitting.

Given the fitted parameters, a new model's log density r depends only on its
own scores and the trend prior at its release date. For every posterior draw
we evaluate that one-dimensional conditional posterior on a fine grid and draw
r from it: exact draws from p(r | new scores, fitted posterior), a standard
"posterior as prior" update that ignores only the new model's (tiny) feedback
on the shared parameters. Works for dates past the data (the trend is
extrapolated).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats
from scipy.special import gammaln

from ..inference.run import Run
from ..errors import InputError
from ..model.design import years_since
from ..model.joint import expected_score, quantile_logp, with_reference_kind, zeta
from .summaries import draws, interval
from .trend_draws import quantile_of, scatter_form, trend_draws  # noqa: F401  (trend_draws: its old home)

#: log density grid (nats), step 0.025. Down to -25: the 2019 models that score at chance on every
#: benchmark (GPT-2) sit where the trend extrapolated back puts them, -11.7 +- 1.2 on the shipped
#: data (NUTS), and a grid that stopped at -10 cut their placed densities off there
GRID = np.linspace(-25.0, 8.0, 1321)
#: support of the flat prior on log density (nats) that placing with ``flat_prior`` uses: a model whose
#: scores sit at chance on every benchmark has a likelihood that is flat all the way down, so a flat
#: prior needs bounds; these were the grid's own before it reached -25 (and kept the backtests' scores)
FLAT_PRIOR_RANGE = (-10.0, 8.0)


def draw_rows(logw: np.ndarray, rng) -> np.ndarray:
    """Per row of unnormalised log weights (rows x columns), one column index drawn in proportion
    to the weights (inverse CDF, one uniform per row)."""
    w = np.exp(logw - logw.max(axis=1, keepdims=True))
    cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((cdf < rng.random((len(w), 1))).sum(axis=1), w.shape[1] - 1)


def trend_logpdf(tree: xr.DataTree, r: np.ndarray, f: np.ndarray, get=None) -> np.ndarray:
    """Log prior density of log density r around trend value f, per draw (broadcasts).

    ``get(name)``: the posterior draws of a parameter, flat (default ``draws(tree, name)``;
    :class:`_Link` passes its cache).
    """
    get = (lambda name: draws(tree, name)) if get is None else get
    form = scatter_form(tree)
    shape = (-1,) + (1,) * (np.ndim(r) - 1)
    if form == "quantile":
        return quantile_logp(r, f, get("quantile_scale").reshape(shape), quantile_of(tree), xp=np)
    if form == "frontier":
        sv, su = get("frontier_sigma_v").reshape(shape), get("frontier_sigma_u").reshape(shape)
        return stats.skewnorm.logpdf(r, -su / sv, loc=f, scale=np.sqrt(sv**2 + su**2))
    return stats.norm.logpdf(r, loc=f, scale=get("trend_sigma").reshape(shape))


def betabinom_logpmf(k, n, p, phi):
    """log BetaBinomial(k | n, p phi, (1 - p) phi), vectorised (scipy's is slower on grids).

    Written with log-gamma terms so that the ones in phi alone (B(a, b)'s a + b = phi and
    the numerator's a + b + n) are computed at phi's shape (per draw), not per grid point.
    """
    a, b = p * phi, (1.0 - p) * phi
    return (gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + gammaln(phi) - gammaln(n + phi)
            + gammaln(k + a) + gammaln(n - k + b) - gammaln(a) - gammaln(b))


#: the domain-capability grid of :meth:`_Link.domain_loglik`: step (nats on the loss axis), how far
#: the normal kernel reaches (domain sds), the range kept (nats from the anchor: models from ~1e6 to
#: ~1e14 effective parameters lie well inside), and how far below a draw's maximum the smoothed
#: likelihood is floored (nats: below it, FFT round-off; a deviation more than ~7 sds away)
DOMAIN_STEP, DOMAIN_REACH, DOMAIN_RANGE, DOMAIN_FLOOR = 0.05, 7.0, (-80.0, 25.0), 30.0


class _Link:
    """Posterior draws of everything a new model's likelihood needs, read once."""

    def __init__(self, tree: xr.DataTree):
        const = tree.constant_data
        post = tree.posterior
        self.tree = tree
        self.benchmarks = list(const["benchmark"].to_numpy().astype(str))
        self.chance = const["chance"].to_numpy()
        self.n_items = const["n_items"].to_numpy()
        self.alpha = draws(tree, "alpha")[:, None]
        self.mu, self.kappa = draws(tree, "link_mu"), draws(tree, "link_kappa")
        self.ceil, self.phi = draws(tree, "ceiling"), draws(tree, "phi")
        # learned floors (measurement model): per draw; else the nominal chance
        self.floor = draws(tree, "floor") if "floor" in post else np.broadcast_to(self.chance, self.mu.shape)
        self.x_a = float(np.mean(const["ref_log_params"].to_numpy()))
        self.t0 = Run.of(tree).t0
        n_b = len(self.benchmarks)
        self.family = const["bench_family"].to_numpy().astype(int) if "bench_family" in const else np.arange(n_b)
        self.domain = const["bench_domain"].to_numpy().astype(int) if "bench_domain" in const else np.full(n_b, -1)
        self.kinds = json.loads(tree.attrs.get("source_kinds", "[]"))
        if "source_offset" in post:  # (S, kind, family) with the reference kind's zero row first
            off = draws(tree, "source_offset")
            self.offset = with_reference_kind(off, axis=1)
        else:
            self.offset = None
        self.domain_sigma = draws(tree, "domain_sigma") if "domain_sigma" in post else None
        self.domain_slope = draws(tree, "domain_slope") if "domain_slope" in post else None
        # specialists' mean domain deviation (S, domain): 0 for domains without specialists
        self.domain_names = json.loads(tree.attrs.get("domains", "[]"))
        self.specialist_shift = None
        if "specialist_shift" in post:
            shift = draws(tree, "specialist_shift")
            self.specialist_shift = np.zeros((shift.shape[0], len(self.domain_names)))
            for j, name in enumerate(post["specialist_shift"].coords["specialist_domain"].to_numpy().astype(str)):
                self.specialist_shift[:, self.domain_names.index(name)] = shift[:, j]
        flags = json.loads(tree.attrs.get("specialist", "null"))  # (units, domains) of the fitted units
        self.unit_flags = None if flags is None else np.asarray(flags, bool)
        # robust score noise (spec robust_scores): share and precision of the wide component, (S, 1)
        robust = "outlier_share" in post
        self.outlier_share = draws(tree, "outlier_share")[:, None] if robust else None
        self.outlier_phi = draws(tree, "outlier_phi")[:, None] if robust else None
        self._cache: dict[str, np.ndarray] = {}
        self._rows: np.ndarray | slice = slice(None)  # the posterior draws this link holds (take)

    #: the per-draw arrays (first axis: posterior draw) that :meth:`take` slices
    _PER_DRAW = ("alpha", "mu", "kappa", "ceil", "phi", "floor", "offset", "domain_sigma", "domain_slope",
                 "specialist_shift", "outlier_share", "outlier_phi")

    def get(self, name: str) -> np.ndarray:
        """Posterior draws of ``name`` (flat over chain and draw), read from the run once."""
        if name not in self._cache:
            self._cache[name] = draws(self.tree, name)[self._rows]
        return self._cache[name]

    @property
    def n_draws(self) -> int:
        return self.mu.shape[0]

    def take(self, idx: np.ndarray) -> "_Link":
        """The same link restricted to the posterior draws ``idx`` (for cheap coarse passes)."""
        import copy

        out = copy.copy(self)
        for name in self._PER_DRAW:
            v = getattr(self, name)
            if v is not None:
                setattr(out, name, np.asarray(v)[idx])
        out._cache = {k: v[idx] for k, v in self._cache.items()}
        out._rows = (np.arange(self.n_draws) if isinstance(self._rows, slice) else self._rows)[idx]
        return out

    def trend_at(self, t_years) -> np.ndarray:
        """f(t) per draw, shape (draws, len(t_years)): one read of the trend's draws for many dates."""
        return trend_draws(self.tree, np.atleast_1d(np.asarray(t_years, float)))[self._rows]

    def read_scatter(self) -> None:
        """Read the trend scatter's draws into the cache (before threads share this link)."""
        for name in ("frontier_sigma_v", "frontier_sigma_u", "quantile_scale", "trend_sigma"):
            if name in self.tree.posterior:
                self.get(name)

    def kind_index(self, kind) -> int:
        """Index of a score's source kind in the run (empty = 'harness'; a kind the run lacks: 0)."""
        kind = kind if isinstance(kind, str) and kind else "harness"
        return self.kinds.index(kind) if kind in self.kinds else 0

    def score_p(self, z: np.ndarray, b: int, kind: int) -> np.ndarray:
        """Expected score (fraction) on benchmark b from a source of kind ``kind`` at loss-axis
        position z (draws x points; the link and the kind's offset of each draw)."""
        if self.offset is not None:
            z = z + self.offset[:, kind, self.family[b]][:, None]
        return expected_score(z, self.floor[:, b:b + 1], self.ceil[:, b:b + 1], self.kappa[:, b:b + 1],
                              self.mu[:, b:b + 1], xp=np)

    def _loglik(self, z: np.ndarray, b: int, k: int, n: int, kind: int) -> np.ndarray:
        """log p(k of n on benchmark b | loss-axis position z), per draw and grid point."""
        p = self.score_p(z, b, kind)
        main = betabinom_logpmf(k, n, p, self.phi[:, b:b + 1])
        if self.outlier_share is None:
            return main
        w = self.outlier_share
        return np.logaddexp(np.log1p(-w) + main, np.log(w) + betabinom_logpmf(k, n, p, self.outlier_phi))

    def domain_mean(self, d: int, t_years: float, specialty: str | None = None):
        """Per draw, the mean of a unit's deviation in domain d: the domain trend at its date (with
        domain trends) plus the specialists' shift when the unit specialises in d; 0 otherwise."""
        mean = self.domain_slope[:, d] * t_years if self.domain_slope is not None else np.zeros(self.n_draws)
        if self.specialist_shift is not None and specialty == self.domain_names[d]:
            mean = mean + self.specialist_shift[:, d]
        return mean

    def unit_specialty(self, u: int) -> str | None:
        """Fitted unit u's specialist domain (the run's flags), or None."""
        return flagged_domain(self.unit_flags, self.domain_names, u)

    def grid_logp(self, log_n: float, t_years: float, obs, grid: np.ndarray = GRID,
                  f: np.ndarray | None = None, specialty: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Log of trend prior x likelihood on ``grid`` (default GRID) per draw (S, G), and f(t) per draw (S,).

        ``obs``: iterable of (benchmark index, k, n) or (benchmark index, k, n, source-kind
        index). Scores in a modelled domain (code, math) enter through the new model's
        domain deviation, integrated out under its fitted distribution (:meth:`domain_loglik`).
        ``f``: f(t_years) per draw when already known (:meth:`trend_at`), else computed.
        ``specialty``: the model's specialist domain (models.csv ``specialty``), or None.
        """
        f = self.trend_at(t_years) if f is None else np.asarray(f, float).reshape(-1, 1)  # (S, 1)
        logp = trend_logpdf(self.tree, grid[None, :], f, get=self.get)
        z = zeta(log_n + grid[None, :], self.alpha, self.x_a, xp=np)
        by_domain: dict[int, list] = {}
        for o in obs:
            b, k, n = o[:3]
            kind = o[3] if len(o) > 3 else 0
            d = int(self.domain[b]) if self.domain_sigma is not None else -1
            if d < 0:
                logp = logp + self._loglik(z, b, k, n, kind)
            else:
                by_domain.setdefault(d, []).append((b, k, n, kind))
        for d, rows in by_domain.items():
            logp = logp + self.domain_loglik(z, d, rows, self.domain_mean(d, t_years, specialty))
        return logp, f[:, 0]

    def domain_loglik(self, z: np.ndarray, d: int, rows, mean=0.0) -> np.ndarray:
        """log of the likelihood of ``rows`` ((b, k, n, kind), all in domain d) at loss-axis position
        z (draws x points), with the unit's deviation dev ~ N(mean, domain_sigma_d) integrated out.

        The scores see only y = z + dev, so the integral is a smoothing of their likelihood L(y)
        by the deviation's normal density: I(z) = int L(y) N(y; z + mean, sigma) dy = C(z + mean)
        with C = L * N(0, sigma). Per draw, L is evaluated on a uniform y grid (DOMAIN_STEP, over
        the points asked for plus DOMAIN_REACH sds each side, within DOMAIN_RANGE), smoothed by
        FFT with the kernel's exact transform, and C read off at z + mean by linear interpolation
        of log C. L is extended flat beyond its grid (exact on the plateau of a score at its floor
        or ceiling). Log C is floored DOMAIN_FLOOR nats below each draw's maximum (round-off).
        Accurate however narrow L is compared with sigma; Gauss-Hermite nodes on the prior (as
        before) turned a sharp L into a comb of spikes in z, one per node.
        """
        from scipy.fft import irfft, next_fast_len, rfft, rfftfreq

        z = np.asarray(z, float)
        sigma = self.domain_sigma[:, d].reshape(-1, 1)  # (S, 1)
        w = z + np.broadcast_to(np.asarray(mean, float), (z.shape[0],)).reshape(-1, 1)  # (S, P)
        h = DOMAIN_STEP
        reach = DOMAIN_REACH * float(sigma.max())
        lo = max(float(w.min()) - reach, DOMAIN_RANGE[0])
        hi = max(min(float(w.max()) + reach, DOMAIN_RANGE[1]), lo + h)
        y = lo + h * np.arange(int(np.ceil((hi - lo) / h)) + 1)  # (M,)
        log_l = sum(self._loglik(np.broadcast_to(y, (z.shape[0], len(y))), b, k, n, kind) for b, k, n, kind in rows)
        top = log_l.max(axis=1, keepdims=True)
        pad = int(np.ceil(reach / h))
        lin = np.pad(np.exp(log_l - top), ((0, 0), (pad, pad)), mode="edge")  # flat beyond the grid
        n_fft = next_fast_len(lin.shape[1] + pad)  # room for the kernel: no wrap-around
        kernel = np.exp(-2.0 * (np.pi * rfftfreq(n_fft, h)[None, :] * sigma) ** 2)  # FT of N(0, sigma)
        smooth = irfft(rfft(lin, n_fft, axis=1) * kernel, n_fft, axis=1)[:, pad:pad + len(y)]
        log_c = np.log(np.maximum(smooth, np.exp(-DOMAIN_FLOOR) * smooth.max(axis=1, keepdims=True)))
        pos = np.clip((w - lo) / h, 0.0, len(y) - 1.0)  # outside the grid: its edge value
        i0 = np.minimum(pos.astype(int), len(y) - 2)  # y has at least two points (hi >= lo + h)
        left, right = (np.take_along_axis(log_c, i, axis=1) for i in (i0, i0 + 1))
        return top + left + (pos - i0) * (right - left)


#: coarse-pass stride over GRID (0.2 nats) and how far below the per-draw maximum (nats) the
#: integrand is treated as negligible, for :func:`log_marginal`
COARSE, NEGLIGIBLE = 8, 30.0
#: extra range (nats) each side of a coarse pass run on a subset of the draws, and how much
#: closer than ``negligible`` to a draw's maximum the integrand must be at an inner edge of
#: that range to make sample_log_density fall back to the full coarse pass (nats)
LOCATE_MARGIN, EDGE_SLACK = 1.0, 5.0


def _live_slice(coarse_logp: np.ndarray, negligible: float = NEGLIGIBLE) -> slice:
    """The fine-grid range where a coarse pass (GRID[::COARSE]) found the integrand alive."""
    live = np.flatnonzero((coarse_logp >= coarse_logp.max(axis=1, keepdims=True) - negligible).any(axis=0))
    return slice(max(0, (int(live.min()) - 1) * COARSE), min(len(GRID), (int(live.max()) + 1) * COARSE + 1))


def sample_log_density(link: _Link, log_n: float, t_years: float, obs, rng, flat_prior: bool = False,
                       stride: int = 1, f: np.ndarray | None = None, locate_draws: int | None = None,
                       negligible: float = NEGLIGIBLE, specialty: str | None = None):
    """One log density r per posterior draw from p(r | the model's scores, draw), and f(t) per draw.

    The trend prior at t (``flat_prior``: a uniform prior on FLAT_PRIOR_RANGE) times the
    likelihood, on the fine grid over the range a coarse pass finds alive (as
    :func:`log_marginal`: within ``negligible`` nats of a draw's maximum), an inverse-CDF draw
    per row, jittered uniformly within its grid cell. Options for speed (the subsample fast
    path uses them): ``stride``, every stride-th fine-grid point (cells of stride x 0.025
    nats); ``f``, f(t) per draw when known; ``locate_draws``, run the coarse pass on only this many evenly spaced draws, pad
    the range found by ``LOCATE_MARGIN`` nats each side, and fall back to the full coarse
    pass if any draw's integrand is within ``negligible - EDGE_SLACK`` nats of its maximum
    at an edge of that range inside GRID.
    """
    f = link.trend_at(t_years)[:, 0] if f is None else np.asarray(f, float).reshape(-1)

    def logp_on(lk, grid, ff):
        lp, _ = lk.grid_logp(log_n, t_years, obs, grid, f=ff, specialty=specialty)
        if not flat_prior:
            return lp
        outside = (grid < FLAT_PRIOR_RANGE[0]) | (grid > FLAT_PRIOR_RANGE[1])
        return np.where(outside[None, :], -np.inf, lp - trend_logpdf(lk.tree, grid[None, :], ff[:, None], get=lk.get))

    logp = None
    if locate_draws is not None and locate_draws < link.n_draws:
        idx = np.linspace(0, link.n_draws - 1, int(locate_draws)).round().astype(int)
        live = _live_slice(logp_on(link.take(idx), GRID[::COARSE], f[idx]), negligible)
        pad = int(round(LOCATE_MARGIN / (GRID[1] - GRID[0])))
        grid = GRID[max(0, live.start - pad):min(len(GRID), live.stop + pad)][::stride]
        logp = logp_on(link, grid, f)
        floor = logp.max(axis=1) - (negligible - EDGE_SLACK)
        if (grid[0] > GRID[0] and (logp[:, 0] > floor).any()) or (grid[-1] < GRID[-1]
                                                                   and (logp[:, -1] > floor).any()):
            logp = None  # some draw is alive at an inner edge: the full coarse pass after all
    if logp is None:
        grid = GRID[_live_slice(logp_on(link, GRID[::COARSE], f), negligible)][::stride]
        logp = logp_on(link, grid, f)
    idx = draw_rows(logp, rng)
    step = (GRID[1] - GRID[0]) * stride
    return grid[idx] + rng.uniform(-step / 2, step / 2, len(idx)), f


def log_marginal(link: _Link, log_n: float, t_years: float, obs, specialty: str | None = None) -> np.ndarray:
    """Per draw: log of the trend prior x likelihood integrated over the log density r (S,).

    Two passes: every COARSE-th grid point locates where the integrand is within
    NEGLIGIBLE nats of its maximum in some draw; the fine grid (0.025 nats) then covers
    that range plus one coarse step each side. Equal to the full-grid sum up to terms
    below e^-30 of it, several times faster.
    """
    from scipy.special import logsumexp

    coarse, _ = link.grid_logp(log_n, t_years, obs, GRID[::COARSE], specialty=specialty)
    logp, _ = link.grid_logp(log_n, t_years, obs, GRID[_live_slice(coarse)], specialty=specialty)
    return logsumexp(logp, axis=1) + np.log(GRID[1] - GRID[0])


def log_predictive(link: _Link, log_n: float, t_years: float, obs, specialty: str | None = None) -> float:
    """log p(scores of a new model | fitted posterior): the trend prior integrated over r on the grid."""
    from scipy.special import logsumexp

    per_draw = log_marginal(link, log_n, t_years, obs, specialty)
    return float(logsumexp(per_draw) - np.log(len(per_draw)))


def place_models(tree: xr.DataTree, models: pd.DataFrame, scores: pd.DataFrame, prob: float = 0.9,
                 seed: int = 0) -> pd.DataFrame:
    """Effective size and density of new models, with intervals and P(above the trend line).

    ``models`` and ``scores`` follow the schema of models.csv and scores.csv;
    scores on benchmarks the fit did not use are ignored.
    """
    rng = np.random.default_rng(seed)
    link = _Link(tree)
    size_col = "active_params" if Run.of(tree).spec.size == "active" else "params"
    last_date = pd.to_datetime(tree.constant_data["release_date"].to_numpy()).max()
    rows = []
    for _, m in models.iterrows():
        sc = scores[(scores["model"] == m["name"]) & scores["benchmark"].isin(link.benchmarks)]
        if sc.empty:
            raise InputError(f"model {m['name']!r} has no scores on the fitted benchmarks {link.benchmarks}")
        size = m[size_col] if pd.notna(m.get(size_col)) else m["params"]
        t = float(years_since(m["release_date"], link.t0)[0])
        obs = []
        for _, s in sc.iterrows():
            b = link.benchmarks.index(s["benchmark"])
            n = int(link.n_items[b])
            obs.append((b, int(np.clip(round(float(s["score"]) * n), 0, n)), n, link.kind_index(s.get("source_kind"))))
        r, f = sample_log_density(link, float(np.log(size)), t, obs, rng, specialty=specialty_of(m))
        med, lo, hi = interval(r, prob)
        rows.append({
            "name": m["name"], "release_date": pd.Timestamp(m["release_date"]).date().isoformat(),
            "params": float(size), "n_scores": int(len(sc)),
            "log_density": float(med),
            "density": {"median": float(np.exp(med)), "lo": float(np.exp(lo)), "hi": float(np.exp(hi))},
            "neff": {"median": float(size * np.exp(med)), "lo": float(size * np.exp(lo)),
                     "hi": float(size * np.exp(hi))},
            "p_above_trend": float(np.mean(r > f)),
            "beyond_data": bool(pd.Timestamp(m["release_date"]) > last_date),
        })
    return pd.DataFrame(rows)


def specialty_of(row) -> str | None:
    """A models-table row's ``specialty`` (code, math), or None (a general model, or no such column)."""
    value = row.get("specialty") if hasattr(row, "get") else None
    return value if isinstance(value, str) and value else None


def flagged_domain(flags: np.ndarray | None, domains: list[str], u: int) -> str | None:
    """The domain unit u is flagged in by ``flags`` ((units, domains) bool, or None), or None."""
    if flags is None or flags.size == 0 or not flags[u].any():
        return None
    return domains[int(np.argmax(flags[u]))]


def unit_specialty(inputs, u: int) -> str | None:
    """Unit u's specialist domain in ``inputs`` (ModelInputs), or None."""
    return flagged_domain(inputs.specialist, inputs.domains, u)


def placement_json(df: pd.DataFrame) -> str:
    return json.dumps({"models": df.to_dict(orient="records")}, indent=2, default=str)
