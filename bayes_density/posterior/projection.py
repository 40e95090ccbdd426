"""Projections: when does a model of a given size reach a target's level?

A closed target q (say GPT-4) has a latent log effective size x_q, inferred
jointly with everything else from its reported scores. The frontier (or mean)
trend f(t) is the log density of the best models released at time t, so a
model of N parameters released at t has (at most, on the trend) log effective
size f(t) + log N. Per posterior draw the projected date t* solves::

    f(t*) + log N = x_q,   i.e.   f(t*) = c,   c = x_q - log N   (log density needed)

Which root: t* is the first date at which the trend line rises through c (the
first time a model of N parameters on the trend reaches the target). For the
forms of :mod:`bayes_density.trend`:

- ``linear``: t* = (c - intercept) / slope; no crossing when slope <= 0.
- ``break``: the piecewise line in full (slope before, latest slope after the
  known break, optional jump at the break). A crossing before the break counts
  when the before-slope is positive; otherwise the latest period is extrapolated.
- ``changepoint``: each draw uses its own change point; the smoothed hinge is
  solved on a fine grid (linear interpolation, error << 1 day) and the linear
  tails either side in closed form.

Draws without a rising crossing are "never" (t* = +inf), except where the trend
line already lies at or above c at the data start and never dips below to
rise through it again ("already", t* = -inf). Both kinds stay in the
quantiles (as -inf and +inf; a quantile that is infinite is reported as
"already" or "never") and in P(t* <= by).

Everything reads the posterior only; nothing is refitted. f(t) is evaluated by
:func:`bayes_density.placement.trend_draws`, the same function every other
derived quantity uses.
"""

from __future__ import annotations

import datetime as _dt
import json
import math

import numpy as np
import pandas as pd
import xarray as xr

from ..constants import DEFAULT_PROB
from ..errors import InputError
from ..inference.run import Run, spec_of
from .trend_draws import trend_draws
from .summaries import DAYS_PER_YEAR, draws, interval

#: grid step (years) for the smoothed change-point hinge: ~1.8 days
GRID_STEP = 0.005
#: the softplus hinge is linear to < 1e-15 nats this many switch widths from its change point
HINGE_WIDTHS = 40.0
NEVER = "never"
ALREADY = "already"


# ---------------------------------------------------------------- inputs


def _targets_in_run(tree: xr.DataTree) -> list[str]:
    return list(json.loads(tree.attrs.get("targets", "[]")))


#: log effective size grid for placing a target (nats of parameters): step 0.02
X_STEP = 0.02


def read_targets(path=None) -> pd.DataFrame:
    """The targets table: ``path`` (a CSV in the targets.csv schema) or the shipped targets.csv."""
    from ..data.io import read_table
    from ..data.resources import shipped_data_dir

    return read_table(shipped_data_dir() / "targets.csv" if path is None else path, "targets")


def place_target(tree: xr.DataTree, target: str, targets: pd.DataFrame | None = None, seed: int = 0) -> np.ndarray:
    """Draws of a target's log effective size under the run's posterior, without refitting.

    As :func:`bayes_density.posterior.placement.place_models` places models: per posterior draw,
    the target's x = log N_eff gets the prior of ``target_log_neff`` (it has no size and no date,
    so no trend prior) times the likelihood of its reported scores on the run's benchmarks
    under that draw's link (``_Link._loglik`` at the loss-axis position z = zeta(x)); x is drawn
    from that one-dimensional posterior on a grid. Scores without a source kind count as
    'developer' reports; scores in a modelled domain integrate the domain deviation out
    (mean 0: a target has no date for a domain trend).
    """
    from scipy import stats as _stats

    from ..model.joint import zeta
    from ..model.priors import prior
    from . import placement

    targets = read_targets() if targets is None else targets
    link = placement._Link(tree)
    rows = targets[targets["target"] == target]
    if rows.empty:
        known = ", ".join(sorted(dict.fromkeys(map(str, targets["target"])))) or "none"
        raise InputError(f"unknown target {target!r}; targets with reported scores: {known}")
    rows = rows[rows["benchmark"].isin(link.benchmarks)]
    if rows.empty:
        have = ", ".join(sorted(dict.fromkeys(map(str, targets.loc[targets["target"] == target, "benchmark"]))))
        raise InputError(f"target {target!r} has no reported scores on this run's benchmarks "
                         f"({', '.join(link.benchmarks)}); it has scores on: {have}")
    family, (mu, sd) = prior("target_log_neff", Run.of(tree).spec.priors)
    grid = np.arange(mu - 5 * sd, mu + 5 * sd + X_STEP / 2, X_STEP)
    logp = np.broadcast_to(_stats.norm.logpdf(grid, mu, sd), (link.mu.shape[0], grid.size)).copy()
    z = zeta(grid[None, :], link.alpha, link.x_a, xp=np)
    kinds = rows["source_kind"] if "source_kind" in rows else pd.Series([None] * len(rows), index=rows.index)
    by_domain: dict[int, list] = {}
    for (_, r), kind in zip(rows.iterrows(), kinds):
        b = link.benchmarks.index(r["benchmark"])
        n = int(link.n_items[b])
        k = int(np.clip(round(float(r["score"]) * n), 0, n))
        ki = link.kind_index(kind if isinstance(kind, str) and kind else "developer")
        d = int(link.domain[b]) if link.domain_sigma is not None else -1
        if d < 0:
            logp += link._loglik(z, b, k, n, ki)
        else:
            by_domain.setdefault(d, []).append((b, k, n, ki))
    for d, obs in by_domain.items():
        logp += link.domain_loglik(z, d, obs)
    rng = np.random.default_rng(seed)
    idx = placement.draw_rows(logp, rng)
    return grid[idx] + rng.uniform(-X_STEP / 2, X_STEP / 2, idx.size)


def target_log_neff(tree: xr.DataTree, target: str, targets: pd.DataFrame | None = None) -> np.ndarray:
    """Draws of the target's log effective size (natural log of parameters).

    A target fitted with the run (named in its spec, with scores on its benchmarks): its joint
    posterior draws. Any other target of ``targets`` (default: the shipped targets.csv): placed
    against the run's posterior without refitting (:func:`place_target`). ``targets`` given:
    placed from that table even when the run fitted a target of the same name.
    """
    available = _targets_in_run(tree)
    if targets is not None or target not in available:
        if "constant_data" in tree.children and "posterior" in tree.children and "link_mu" in tree.posterior:
            return place_target(tree, target, targets)
        avail = ", ".join(available) if available else "none"
        try:
            spec = spec_of(tree)
            in_spec, benchmarks = target in spec.targets, list(spec.benchmarks)
        except Exception:  # noqa: BLE001 - a run without a readable spec still gets a clear message
            in_spec, benchmarks = False, []
        if "constant_data" in tree.children and "benchmark" in tree.constant_data.coords:
            benchmarks = list(tree.constant_data["benchmark"].to_numpy().astype(str))
        if in_spec:
            raise InputError(
                f"target {target!r} is not in this run: it has no reported scores on the fitted benchmarks "
                f"({', '.join(benchmarks)}), so its effective size was not inferred. Targets in this run: "
                f"{avail}. Add its scores (targets.csv) on one of these benchmarks, or fit a spec whose "
                "benchmarks it has scores on"
            )
        raise InputError(
            f"unknown target {target!r}; targets in this run: {avail} (a run holds the targets named in its "
            "spec's [target] names that have scores on its benchmarks)"
        )
    post = tree.posterior
    if "target_log_neff" not in post:
        raise InputError(f"run lists target {target!r} but its posterior has no 'target_log_neff'")
    da = post["target_log_neff"]
    if "target" in da.coords:
        da = da.sel(target=target)
    else:
        da = da.isel(target=available.index(target))
    return da.stack(sample=("chain", "draw")).to_numpy().astype(float)


def _parse_date(value, name: str) -> pd.Timestamp:
    ts = pd.to_datetime(value, errors="coerce") if value is not None else pd.NaT
    if pd.isna(ts) or not isinstance(ts, pd.Timestamp):
        raise InputError(f"{name} = {value!r} is not a date (expected YYYY-MM-DD)")
    return ts.tz_convert(None) if ts.tzinfo is not None else ts  # model dates are naive (UTC) calendar days


def _check_size(size) -> float:
    try:
        s = float(size)
    except (TypeError, ValueError):
        raise InputError(f"size = {size!r} is not a number of parameters") from None
    if not math.isfinite(s) or s <= 0:
        raise InputError(f"size must be a positive number of parameters, got {size!r}")
    return s


def _check_prob(prob) -> float:
    p = float(prob)
    if not 0 < p < 1:
        raise InputError(f"prob must lie strictly between 0 and 1, got {prob!r}")
    return p


def years_since_t0(tree: xr.DataTree, date) -> float:
    """Model time (years since the run's t0) of a date."""
    return float(Run.of(tree).years(pd.Timestamp(date))[0])


def _data_span(tree: xr.DataTree) -> tuple[float, float]:
    """(first, last) fitted model date in model years; (0, 0) if the run holds none."""
    if "constant_data" in tree.children and "t" in tree.constant_data:
        t = tree.constant_data["t"].to_numpy().astype(float)
        if t.size:
            return float(t.min()), float(t.max())
    return 0.0, 0.0


def date_of(tree: xr.DataTree, t_years: float) -> str:
    """ISO date of a model time; 'never' for +inf, 'already' for -inf."""
    if np.isnan(t_years):
        return "undefined"
    if t_years == np.inf:
        return NEVER
    if t_years == -np.inf:
        return ALREADY
    days = int(round(float(t_years) * DAYS_PER_YEAR))
    ordinal = Run.of(tree).t0.date().toordinal() + days
    if ordinal > _dt.date.max.toordinal():
        return f"after {_dt.date.max.isoformat()}"
    if ordinal < 1:
        return f"before {_dt.date.min.isoformat()}"
    return _dt.date.fromordinal(ordinal).isoformat()


# ---------------------------------------------------------------- crossing


def _window(tree: xr.DataTree) -> tuple[float, float, np.ndarray]:
    """(L, R, grid): f is linear left of L and right of R in every draw; grid spans [L, R]."""
    spec = spec_of(tree)
    if spec.trend == "linear":
        return 0.0, 0.0, np.array([0.0])
    if spec.trend == "break":
        tb = years_since_t0(tree, spec.break_date)
        return tb, tb, np.array([tb])
    if spec.trend == "changepoint":
        from ..model.priors import prior

        w = float(prior("switch_width", spec.priors)[1][0])
        cp = draws(tree, "changepoint")
        lo, hi = float(cp.min()) - HINGE_WIDTHS * w, float(cp.max()) + HINGE_WIDTHS * w
        n = max(int(math.ceil((hi - lo) / GRID_STEP)) + 1, 2)
        return lo, hi, np.linspace(lo, hi, n)
    raise InputError(f"unknown trend form {spec.trend!r}")


def crossing_times(tree: xr.DataTree, level: np.ndarray) -> np.ndarray:
    """Per draw, the first model time t* (years since t0) at which f rises through ``level``.

    ``level`` is the log density to reach, one value per draw (or a scalar).
    Returns +inf where f never rises through it, -inf where f is at or above
    it from the data start on without crossing (see the module docstring).
    """
    L, R, grid = _window(tree)
    pts = np.concatenate([[L - 2.0, L - 1.0], grid, [R + 1.0, R + 2.0]])
    F = trend_draws(tree, pts)  # (S, G + 4)
    S = F.shape[0]
    c = np.broadcast_to(np.asarray(level, float), (S,)).astype(float)
    s1 = F[:, 1] - F[:, 0]  # slope left of L
    fL = F[:, 1] + s1  # left limit of f at L
    G = F[:, 2:-2]  # f on the grid
    s2 = F[:, -1] - F[:, -2]  # slope right of R
    fR = F[:, -2] - s2  # right limit of f at R (differs from f(R) by a jump at a break)

    t = np.full(S, np.nan)
    todo = np.ones(S, bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        # 1. left tail: rising line through c at or before L
        hit = todo & (s1 > 0) & (fL >= c)
        t[hit] = L - (fL[hit] - c[hit]) / s1[hit]
        todo &= ~hit
        # 2. a step up at L (not produced by the shipped forms, kept for completeness)
        hit = todo & (fL < c) & (G[:, 0] >= c)
        t[hit] = L
        todo &= ~hit
        # 3. inside the grid: first k with f(g_{k-1}) < c <= f(g_k), linear interpolation
        if G.shape[1] > 1:
            below = G < c[:, None]
            rise = below[:, :-1] & ~below[:, 1:]
            any_rise = rise.any(axis=1)
            k = np.argmax(rise, axis=1)  # first rising step (index of its left end)
            hit = todo & any_rise
            i = np.flatnonzero(hit)
            g0, g1 = grid[k[i]], grid[k[i] + 1]
            v0, v1 = G[i, k[i]], G[i, k[i] + 1]
            t[i] = g0 + (c[i] - v0) / (v1 - v0) * (g1 - g0)
            todo &= ~hit
        # 4. a step up at R: the jump at a break
        hit = todo & (G[:, -1] < c) & (fR >= c)
        t[hit] = R
        todo &= ~hit
        # 5. right tail: rising line through c after R
        hit = todo & (s2 > 0) & (fR < c)
        t[hit] = R + (c[hit] - fR[hit]) / s2[hit]
        todo &= ~hit
    if todo.any():
        start = _data_span(tree)[0]
        f_start = trend_draws(tree, np.array([start]))[:, 0]
        t[todo & (f_start >= c)] = -np.inf
        t[todo & (f_start < c)] = np.inf
    return t


def _quantiles(x: np.ndarray, qs) -> np.ndarray:
    """Quantiles that keep +-inf: linear interpolation when all draws are finite, else order statistics."""
    x = np.asarray(x, float)
    if np.all(np.isfinite(x)):
        return np.quantile(x, qs)
    return np.quantile(x, qs, method="inverted_cdf")


def _summary(x: np.ndarray, prob: float) -> dict:
    med, lo, hi = interval(np.asarray(x, float), prob)
    return {"median": float(med), "lo": float(lo), "hi": float(hi)}


def link_note(tree: xr.DataTree, target: str, x_target: np.ndarray) -> str | None:
    """A caution when the target's effective size lies outside the fitted (and reference) models'."""
    post = tree.posterior
    names, med = [], []
    if "log_neff" in post:
        med.append(np.median(draws(tree, "log_neff"), axis=0))
        names += list(post["log_neff"]["model"].to_numpy().astype(str))
    const = tree.constant_data if "constant_data" in tree.children else None
    if "ref_log_density" in post and const is not None and "ref_log_params" in const:
        med.append(np.median(draws(tree, "ref_log_density"), axis=0) + const["ref_log_params"].to_numpy())
        names += list(post["ref_log_density"]["reference"].to_numpy().astype(str))
    if not med:
        return None
    med = np.concatenate(med)
    xq = float(np.median(x_target))
    hi, lo = int(np.argmax(med)), int(np.argmin(med))
    if xq > med[hi]:
        return (f"{target}'s effective size (median {math.exp(xq):.2g} parameters) is above every fitted "
                f"model's (largest: {names[hi]}, {math.exp(med[hi]):.2g}): the projection extrapolates the "
                "benchmark link beyond the fitted range")
    if xq < med[lo]:
        return (f"{target}'s effective size (median {math.exp(xq):.2g} parameters) is below every fitted "
                f"model's (smallest: {names[lo]}, {math.exp(med[lo]):.2g}): the projection extrapolates the "
                "benchmark link beyond the fitted range")
    return None


# ---------------------------------------------------------------- public API


def project(tree: xr.DataTree, size: float = 8e9, target: str = "GPT-4", by: str = "2025-12-31",
            prob: float = DEFAULT_PROB, targets: pd.DataFrame | None = None) -> dict:
    """When does a model of ``size`` parameters on the trend reach ``target``'s effective size?

    Returns ISO dates (median, equal-tailed ``prob`` interval, 50% interval),
    P(reached by ``by``), the share of draws where it never happens, the
    target's effective size (parameters) and, when that lies outside the
    fitted models' range, a ``note``. ``placed``: True when the target was placed against the
    posterior (:func:`place_target`), False when it was fitted with the run.
    """
    size = _check_size(size)
    prob = _check_prob(prob)
    by_ts = _parse_date(by, "by")
    x_q = target_log_neff(tree, target, targets)
    level = x_q - math.log(size)  # log density the trend must reach, per draw
    t = crossing_times(tree, level)
    q = _quantiles(t, [(1 - prob) / 2, 0.25, 0.5, 0.75, (1 + prob) / 2])
    lo, q25, med, q75, hi = (date_of(tree, v) for v in q)
    first, last = _data_span(tree)
    return {
        "target": target,
        "size": size,
        "by": by_ts.date().isoformat(),
        "prob": prob,
        "trend": tree.attrs.get("trend", spec_of(tree).trend),
        "scatter": Run.of(tree).scatter,
        "date_median": med,
        "date_lo": lo,
        "date_hi": hi,
        "date_q25": q25,
        "date_q75": q75,
        # crossings that print as ``by`` or earlier (date_of rounds to the nearest day)
        "p_by": float(np.mean(t < years_since_t0(tree, by_ts) + 0.5 / DAYS_PER_YEAR)),
        "p_never": float(np.mean(t == np.inf)),
        "p_already": float(np.mean(t == -np.inf)),
        "target_neff": {k: math.exp(v) for k, v in _summary(x_q, prob).items()},
        "density_needed": {k: math.exp(v) for k, v in _summary(level, prob).items()},
        "data_start": date_of(tree, first),
        "data_end": date_of(tree, last),
        "n_draws": int(t.size),
        "note": link_note(tree, target, x_q),
        "placed": bool(targets is not None or target not in _targets_in_run(tree)),
    }


def smallest_size(tree: xr.DataTree, target: str = "GPT-4", date: str = "2026-06-30", prob: float = DEFAULT_PROB,
                  targets: pd.DataFrame | None = None) -> dict:
    """The size a model on the trend needs at ``date`` to match ``target``: S = exp(x_q - f(t)) per draw."""
    prob = _check_prob(prob)
    ts = _parse_date(date, "date")
    x_q = target_log_neff(tree, target, targets)
    f = trend_draws(tree, np.array([years_since_t0(tree, ts)]))[:, 0]
    log_size = x_q - f
    first, last = _data_span(tree)
    return {
        "target": target,
        "date": ts.date().isoformat(),
        "prob": prob,
        "trend": tree.attrs.get("trend", spec_of(tree).trend),
        "scatter": Run.of(tree).scatter,
        "size": {k: math.exp(v) for k, v in _summary(log_size, prob).items()},
        "target_neff": {k: math.exp(v) for k, v in _summary(x_q, prob).items()},
        "data_start": date_of(tree, first),
        "data_end": date_of(tree, last),
        "n_draws": int(log_size.size),
        "note": link_note(tree, target, x_q),
    }


def format_size(x: float) -> str:
    """Parameters in short form: 8e9 -> '8B', 1.2e12 -> '1.2T'."""
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if x >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"
