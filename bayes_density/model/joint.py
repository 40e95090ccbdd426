"""The joint model: loss law, benchmark link, effective sizes and density trend.

All equations are here. Indices: fitted model i, reference model j, target
q, benchmark b, score observation o, loss point l. Sizes x are natural logs of
parameter counts, d of token counts; times t are years since ``inputs.t0``;
losses are nats/token.

Reference loss law (Hoffmann et al. form, centred at Nref, Dref)::

    R(x, d) = sN exp(-alpha (x - log Nref)) + sD exp(-beta (d - log Dref))
    L(x, d) = E + R(x, d)
    log loss_l ~ StudentT(4, log L(log N_l, log D_l), loss_sigma)        [loss mode "joint"]

Effective size. Model i's effective size Neff_i is the size whose loss at D0
tokens equals model i's loss; x_i = log Neff_i and its log density is
r_i = x_i - log N_i::

    fitted models   x_i = log N_i + r_i, r_i latent (trend prior below)
    references      x_j solves R(x_j, log D0) = R(log N_j, log D_j); r_j = 0 when D_j = D0
    targets         x_q latent with a broad prior; no size, no trend

Link. Scores depend on loss; the sigmoid link is linear in loss. Written on
the loss axis measured in nats of log size at the anchor x_a (the reference
models' mean log size)::

    zeta(x) = (1 - exp(-alpha (x - x_a))) / alpha
            = (R(x_a, D0) - R(x, D0)) / (dR/dx at x_a)             (E, sN, sD0 cancel)
    p_ub    = g_b + (h_b - g_b) sigmoid(kappa_b (zeta_u - mu_b))
    k_o     ~ BetaBinomial(n_b, p phi_b, (1 - p) phi_b)

zeta ~ x - x_a near the anchor and bends as the loss law flattens. kappa_b is
benchmark b's slope (logits per nat of log size at the anchor) and mu_b its
midpoint in nats from the anchor: the reference models pin both whatever alpha
is, so the link does not trade off against alpha (it did on the raw loss axis).

The link is sampled where benchmark b's data are. With q_b = (p - g_b)/(1 - g_b)
the score as a fraction of the way from chance to 1, c_b = (h_b - g_b)/(1 - g_b)
the ceiling on that scale and q*_b the benchmark's typical level (median score,
:func:`bayes_density.design.typical_level`), the sampled parameters are::

    lambda_b  where the curve reaches q*_b (nats from the anchor)
    s_b       d logit(q)/d zeta at that point (the slope the data see)
    eta_b     c_b = q*_b + (1 - q*_b) sigmoid(eta_b)   (the ceiling lies above q*_b)

    kappa_b = s_b c_b / sigmoid(eta_b),   mu_b = lambda_b - logit(q*_b / c_b) / kappa_b

Sampled as (mu, kappa, ceiling), midpoint and slope slid along a curved ridge
with the ceiling: a lower ceiling needs a steeper curve with a lower midpoint to
fit the same scores (MMLU: bulk ESS 450-620 and R-hat 1.012-1.016 on 3 seeds of
the shipped data). lambda_b and s_b are what the scores pin whatever the ceiling.
Priors: lambda_b and log s_b hierarchical (shared mean and spread; centred, as
each benchmark's scores pin its own value); eta_b and log phi_b independent per
benchmark (see priors.py for why); g_b is the chance floor.

Measurement model. A benchmark b is a *variant* (a test as scored: BBH-MC, the
Open LLM Leaderboard's multiple-choice BBH with chance floor 0.29, beside BBH,
3-shot chain-of-thought exact match with floor 0) of a family f(b); a score
o comes from a source kind s_o (``harness``: a uniform third-party harness, the
reference; ``developer``; ``third_party``); skill domains k (code, math) give
each unit a deviation from its general capability::

    lambda_b = lambda_f(b) + dl_b,  log s_b = log s_f(b) + ds_b     dl, ds = 0 for a family's primary
    delta_sf ~ N(m_s, tau),  delta_harness,f = 0 (tau fixed, priors.py)   source-kind offset (nats);
               delta_sf = 0 where no model is scored by s and the harness on one variant of f
    d_uk     = sigma_k z_uk + m_k S_uk (+ a_k t_u with domain trends),  d_u,general = 0
               S_uk = 1 where unit u is a specialist in k (models.csv ``specialty``: CodeLlama, StarCoder, ...)
    p_o      = g_b + (h_b - g_b) sigmoid(kappa_b (zeta(x_u) + d_u,k(b) + delta_s(o),f(b) - mu_b))

Score noise. With ``robust_scores`` a share w of scores comes from a wide component (one
precision phi_out for all benchmarks) instead of phi_b, marginalised::

    k_o ~ (1 - w) BetaBinomial(n_b, p phi_b, (1 - p) phi_b) + w BetaBinomial(n_b, p phi_out, (1 - p) phi_out)

Both have mean n p. Without it, one precision per benchmark must cover both the many scores
that sit close to the link and the few that two sources disagree on (Qwen-1.8B's MMLU: 0.28
in one collection, 0.43 in another), and LOO-PIT showed both at once: half the held-out scores
in the central 40% of their predictive and 3.3% outside the central 98%.

Chance floors are learned around their nominal value: g_b = g0_b + e_b with
e_b ~ N(0, 0.01) for multiple-choice variants and e_b ~ LogNormal(log 0.01, 1.5) for
generated answers (g0 = 0; BBH's chain-of-thought exact match learns ~0.30: weak models
that emit a valid label from a closed set score at the label-guessing rate). A weak model's expected score is 1/k only on average
over answer positions and prompts (the smallest models score 0.298-0.309 on BBH-MC,
whose floor is 0.2885 with the harness's scored choices and 0.2990 with the options
shown), and exact-match or unit-test scoring has lucky hits (GPT-Neo-125M: 6 of
1,324 MATH-L5 problems, 1 of 164 HumanEval); a floor fixed too low turns guessing
into capability, and made the smallest models' densities bimodal.

The density trend is thus stated on the general capability x_u; a code specialist's
strength is d_u,code, not a high density; a developer's MMLU sits delta nats of
capability above (or below) the harness's. Both shifts act on the loss axis zeta
(nats of log size at the anchor, where zeta ~ x - x_a), not on x itself: on x, a
deviation of a 0.1B model passes through zeta's exponential bend far below the
anchor, and NUTS diverged there (GPT-Neo-125M's code deviation: R-hat 1.04, 19
divergences on the shipped data).

Trend (f: :mod:`bayes_density.trend`)::

    frontier   r_i = f(t_i) + v_i - u_i,  v ~ N(0, sv), u ~ HalfNormal(su)
               => r_i ~ SkewNormal(f(t_i), sqrt(sv^2 + su^2), -su/sv)
    mean       r_i ~ Normal(f(t_i), sigma)
    quantile   r_i ~ AsymmetricLaplace(f(t_i), s, q): f(t) is the q-quantile of log density
               (share q of models below it), log p = log(q (1 - q) / s) - rho_q((r - f) / s),
               rho_q(e) = e (q - 1[e < 0]); s from the scatter's sd (priors.py)

Reference models anchor the scale and stay out of the trend: their density is
fixed by definition, not drawn from the trend process.
"""

from __future__ import annotations

import math

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.dist_math import normal_lcdf

from .design import ModelInputs
from .priors import prior
from .spec import ModelSpec
from .trend import trend_value

LOG_NREF = math.log(1e9)  # loss-law centre for N (params): near the loss data's geometric mean
LOG_DREF = math.log(2e10)  # loss-law centre for D (tokens)
LOG2 = math.log(2.0)


def reducible_loss(x, d, sN, sD, alpha, beta):
    """R(x, d): reducible loss (nats) at log size x and log tokens d."""
    return sN * pt.exp(-alpha * (x - LOG_NREF)) + sD * pt.exp(-beta * (d - LOG_DREF))


def zeta(x, alpha, x_a, xp=pt):
    """Loss axis in nats of log size at the anchor x_a: (1 - exp(-alpha (x - x_a))) / alpha."""
    return -xp.expm1(-alpha * (x - x_a)) / alpha


def expected_score(zeta_u, g, h, kappa, mu, xp=pt):
    """p = g + (h - g) sigmoid(kappa (zeta_u - mu)), kept inside (1e-6, 1 - 1e-6).

    The link, for PyTensor (``xp=pt``, in the model) and numpy (``xp=np``: predictive
    checks and placing new models on a fitted posterior); broadcasts.
    """
    z = kappa * (zeta_u - mu)
    s = pm.math.sigmoid(z) if xp is pt else 0.5 * (1.0 + np.tanh(0.5 * z))  # tanh form: no overflow
    return xp.clip(g + (h - g) * s, 1e-6, 1 - 1e-6)


def draw_scores(rng, n, p, phi, share=None, phi_out=None):
    """Replicate counts k ~ BetaBinomial(n, p phi, (1 - p) phi) (numpy; broadcasts).

    With robust score noise (``share``, ``phi_out``: module docstring, "Score noise") each
    count comes from the wide component with probability ``share``.
    """
    shape = np.broadcast(n, p, phi).shape
    if share is not None:
        phi = np.where(rng.random(shape) < share, phi_out, phi)
    a, b = np.maximum(p * phi, 1e-12), np.maximum((1.0 - p) * phi, 1e-12)
    q = np.clip(np.nan_to_num(rng.beta(a, b, size=shape), nan=0.0), 0.0, 1.0)
    return rng.binomial(np.broadcast_to(n, shape), q)


def score_variance(n, p, phi, share=None, phi_out=None):
    """Variance of a count k given p (the beta-binomial's, or the robust mixture's: same mean)."""
    def v(f):
        return n * p * (1 - p) * (f + n) / (f + 1)
    return v(phi) if share is None else (1 - share) * v(phi) + share * v(phi_out)


def reference_log_neff(log_n, log_d, log_d0, sN, sD, alpha, beta, xp=pt):
    """x_j with R(x_j, D0) = R(log N_j, log D_j): the reference model's log effective size."""
    ratio = xp.exp(-alpha * (log_n - LOG_NREF)) + sD / sN * (
        xp.exp(-beta * (log_d - LOG_DREF)) - xp.exp(-beta * (log_d0 - LOG_DREF))
    )
    return LOG_NREF - xp.log(xp.maximum(ratio, 1e-9)) / alpha


def latent_logp(value, mu, sigma_v, sigma_u):
    """Log density of r = mu + v - u, v ~ N(0, sigma_v), u ~ HalfNormal(sigma_u).

    A skew-normal with scale sqrt(sigma_v^2 + sigma_u^2) and shape -sigma_u/sigma_v,
    written with a stable log normal CDF; sigma_u = 0 gives Normal(mu, sigma_v).
    """
    sigma = pt.sqrt(sigma_v**2 + sigma_u**2)
    e = (value - mu) / sigma
    return (LOG2 - pt.log(sigma) - 0.5 * e**2 - 0.5 * math.log(2 * math.pi)
            + normal_lcdf(0.0, 1.0, -(sigma_u / sigma_v) * e))


def quantile_logp(value, mu, scale, q, xp=pt):
    """Log density of the asymmetric Laplace at quantile q: P(r < mu) = q (module docstring).

    ``xp``: ``pytensor.tensor`` (the model) or ``numpy`` (placing new models on a run's draws).
    """
    e = (value - mu) / scale
    return xp.log(q * (1.0 - q) / scale) - e * (q - xp.where(e < 0.0, 1.0, 0.0))


def quantile_random(mu, scale, q, rng=None, size=None):
    shape = size if size is not None else np.broadcast(mu, scale, q).shape
    below = rng.random(shape) < q
    x = rng.standard_exponential(shape)
    return mu + np.where(below, -scale / (1.0 - q) * x, scale / q * x)


def quantile_scale(sd, q, xp=np):
    """Asymmetric Laplace scale s whose scatter has standard deviation ``sd`` at quantile q."""
    return sd * q * (1.0 - q) / xp.sqrt(1.0 - 2.0 * q + 2.0 * q**2)


def latent_random(mu, sigma_v, sigma_u, rng=None, size=None):
    shape = size if size is not None else np.broadcast(mu, sigma_v, sigma_u).shape
    return mu + sigma_v * rng.standard_normal(shape) - sigma_u * np.abs(rng.standard_normal(shape))


def _rv(name: str, spec: ModelSpec, dims=None, prior_name: str | None = None):
    """A random variable with the prior stated in :mod:`bayes_density.priors`."""
    family, par = prior(prior_name or name, spec.priors)
    if family == "normal":
        return pm.Normal(name, *par, dims=dims)
    if family == "halfnormal":
        return pm.HalfNormal(name, *par, dims=dims)
    if family == "beta":
        return pm.Beta(name, *par, dims=dims)
    if family == "lognormal":
        return pm.LogNormal(name, *par, dims=dims)
    if family == "fixed":
        return pt.as_tensor_variable(par[0])
    raise ValueError(f"prior family {family!r} for {name!r} is not supported")


def _hierarchical(name: str, spec: ModelSpec, n_groups: int, dims: str = "benchmark"):
    """Per-benchmark effect ~ Normal(name_mu, name_tau), centred: each benchmark's scores pin it.

    With a single benchmark a spread cannot be learned (and a centred hierarchy over one
    group is a funnel: 159 divergences on the MMLU-only data); the effect then takes the
    hyper-mean's prior directly.
    """
    base = name.removesuffix("_family")
    if n_groups == 1:
        return _rv(name, spec, dims=dims, prior_name=f"{base}_mu")
    return pm.Normal(name, _rv(f"{base}_mu", spec), _rv(f"{base}_tau", spec), dims=dims)


def _pooled_link(name: str, spec: ModelSpec, inputs: ModelInputs):
    """Per-benchmark link effect: per family (hierarchical), plus a deviation per secondary variant.

    Without variants (every family one benchmark) this is the one-level hierarchy over
    benchmarks of the first model, with the same variable names.
    """
    variants = inputs.variant_index()
    if len(variants) == 0:
        return _hierarchical(name, spec, len(inputs.benchmarks))
    fam = inputs.family_of()
    family_effect = _hierarchical(f"{name}_family", spec, len(inputs.family_names()), dims="family")
    dev = _rv(f"{name}_variant", spec, dims="variant")
    per_bench = family_effect[fam]
    per_bench = pt.set_subtensor(per_bench[variants], per_bench[variants] + dev)
    return pm.Deterministic(name, per_bench, dims="benchmark")


def domain_columns(bench_domain, n_domains: int) -> np.ndarray:
    """Per benchmark, its column in a unit's domain deviations; general benchmarks (domain -1)
    read the extra last column ``n_domains``, which holds 0 (no deviation)."""
    d = np.asarray(bench_domain, int)
    return np.where(d < 0, n_domains, d).astype("int32")


def with_reference_kind(offsets: np.ndarray, axis: int) -> np.ndarray:
    """Source-kind offsets (numpy) with the reference kind's zero row put first along ``axis``
    (the model samples offsets for the non-reference kinds only)."""
    shape = list(np.shape(offsets))
    shape[axis] = 1
    return np.concatenate([np.zeros(shape), offsets], axis=axis)


def observation_shift(inputs: ModelInputs, spec: ModelSpec, data: dict, n_units: int):
    """Per observation: (domain deviation, source-kind offset), both on the loss axis zeta.

    Creates the domain and source-kind variables; returns zeros where the spec or the
    data have none (module docstring, "Measurement model").
    """
    u, b = data["obs_unit"], data["obs_bench"]
    x_shift, z_shift = pt.zeros(inputs.n_obs), pt.zeros(inputs.n_obs)
    if inputs.domains:
        sigma = _rv("domain_sigma", spec, dims="domain")
        z = pm.Normal("domain_z", 0.0, 1.0, dims=("unit", "domain"))
        dev = sigma * z
        if spec.domain_trends:
            dev = dev + data["unit_t"][:, None] * _rv("domain_slope", spec, dims="domain")
        special = inputs.specialist_domains()
        if special:
            shift = pt.zeros(len(inputs.domains))
            shift = pt.set_subtensor(shift[special], _rv("specialist_shift", spec, dims="specialist_domain"))
            flags = data["unit_specialist"].reshape((n_units, len(inputs.domains)))
            dev = dev + flags * shift[None, :]
        dev = pm.Deterministic("domain_dev", dev, dims=("unit", "domain"))
        dom = inputs.domain_of()
        full = pt.concatenate([dev, pt.zeros((n_units, 1))], axis=1)  # column -1: general, no deviation
        column = pt.as_tensor(domain_columns(dom, len(inputs.domains)))
        x_shift = full[u, column[b]]
    if len(inputs.kinds) > 1:
        n_fam = len(inputs.family_names())
        mean = _rv("source_offset_mean", spec, dims="source_kind")
        mask = inputs.offset_mask if inputs.offset_mask is not None else np.ones((len(inputs.kinds) - 1, n_fam), bool)
        if n_fam > 1:
            # centred: most identified (kind, family) cells hold tens of models scored by both kinds
            raw = pm.Normal("source_offset_raw", mean[:, None], _rv("source_offset_tau", spec),
                            dims=("source_kind", "family"))
        else:
            raw = mean[:, None]
        # cells the data cannot identify (no model scored by both kinds on one variant) are 0
        off = pm.Deterministic("source_offset", raw * mask.astype("float64"), dims=("source_kind", "family"))
        full = pt.concatenate([pt.zeros((1, n_fam)), off], axis=0)  # row 0: the reference kind
        z_shift = full[data["obs_kind"], pt.as_tensor(inputs.family_of().astype("int32"))[b]]
    return x_shift, z_shift


def changepoint_bounds(spec: ModelSpec, inputs: ModelInputs) -> tuple[float, float]:
    """Prior range of the change point (years since t0): the spec's, or the inner 80% of dates."""
    if spec.changepoint_range is not None:
        lo, hi = inputs.years(list(spec.changepoint_range))
        return float(lo), float(hi)
    lo, hi = np.quantile(inputs.t, [0.1, 0.9])
    return float(lo), float(hi)


def trend_params(spec: ModelSpec, data: dict, frontier_offset=None) -> dict:
    """Trend parameters as model variables, keyed as :func:`trend_value` expects.

    With ``frontier_offset`` (= E[u] = sigma_u sqrt(2/pi)) the sampled level is the
    mean log density at t0 (``intercept_mean``, what the data pin) and the frontier
    intercept is derived: intercept = intercept_mean + E[u]. Sampling the frontier
    intercept itself left it on a ridge with sigma_u.
    """
    if frontier_offset is None:
        intercept = _rv("intercept", spec)
    else:
        level = _rv("intercept_mean", spec, prior_name="intercept")
        intercept = pm.Deterministic("intercept", level + frontier_offset)
    p = {"intercept": intercept, "slope": _rv("slope", spec)}
    if spec.trend in ("break", "changepoint"):
        p["slope_change"] = _rv("slope_change", spec)
        p["slope_after"] = pm.Deterministic("slope_after", p["slope"] + p["slope_change"])
        if spec.jump:
            p["jump"] = _rv("jump", spec)
    if spec.trend == "break":
        p["break_t"] = data["break_t"]
    if spec.trend == "changepoint":
        p["changepoint"] = pm.Uniform("changepoint", data["changepoint_lo"], data["changepoint_hi"])
        p["switch_width"] = _rv("switch_width", spec)
    return p


def model_data(inputs: ModelInputs, spec: ModelSpec) -> dict:
    """The data arrays of a fit as named views into shared containers (inside a model context).

    The model reads ``data["t"]`` etc.; the arrays travel packed in three ``pm.Data``
    vectors (:func:`packed_data`: floats, integers, offsets), not one container each.
    nutpie compiles an extraction of every shared container into its C callback,
    and is not cached: with one container per array (15 in the default model) a
    compile took 22-27 s, packed 15-18 s (warm numba cache). The offsets are data
    too, so a compiled model takes new data of any size (``with_data``). A first
    fit freezes the data in as constants instead (:func:`bayes_density.fit.compile_model`).
    """
    arrays = data_arrays(inputs, spec)
    shared = {k: pm.Data(k, v) for k, v in _pack(arrays).items()}
    offsets = shared["data_offsets"]
    out, slot = {}, 0
    for kind, _, names in _groups(arrays):
        for name in names:
            view = shared[f"data_{kind}"][offsets[slot]:offsets[slot + 1]]
            out[name] = view[0] if np.ndim(arrays[name]) == 0 else view
            slot += 1
        slot += 1  # each kind's offsets end with its total length
    return out


def _groups(arrays: dict[str, np.ndarray]) -> list[tuple[str, type, list[str]]]:
    """(kind, dtype, names in data_arrays order): the packing layout, floats then integers."""
    is_int = {k: np.asarray(v).dtype.kind in "iu" for k, v in arrays.items()}
    return [("float", np.float64, [k for k in arrays if not is_int[k]]),
            ("int", np.int32, [k for k in arrays if is_int[k]])]  # int32: what pm.Data holds


def packed_data(inputs: ModelInputs, spec: ModelSpec) -> dict[str, np.ndarray]:
    """:func:`data_arrays` packed as ``data_float``, ``data_int`` and ``data_offsets``.

    ``data_offsets`` holds, for the float arrays and then the integer arrays (in
    :func:`data_arrays` order), each array's start in its vector followed by that
    vector's length.
    """
    return _pack(data_arrays(inputs, spec))


def _pack(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out, offsets = {}, []
    for kind, dtype, names in _groups(arrays):
        parts = [np.ravel(arrays[k]).astype(dtype) for k in names]
        offsets.extend(np.concatenate([[0], np.cumsum([len(p) for p in parts])]).tolist())
        out[f"data_{kind}"] = np.concatenate(parts) if parts else np.zeros(0, dtype)
    out["data_offsets"] = np.asarray(offsets, dtype=np.int32)
    return out


def data_arrays(inputs: ModelInputs, spec: ModelSpec) -> dict[str, np.ndarray]:
    """Name -> array of everything data-dependent in the model (see :func:`model_data`)."""
    out = {
        "x_anchor": np.asarray(anchor(inputs)),
        "log_params": inputs.log_params, "t": inputs.t,
        "ref_log_params": inputs.ref_log_params, "ref_log_tokens": inputs.ref_log_tokens,
        "chance": inputs.chance, "link_level": inputs.level(), "obs_unit": inputs.obs_unit, "obs_bench": inputs.obs_bench,
        "obs_n": inputs.obs_n, "obs_k": inputs.obs_k,
    }
    if len(inputs.kinds) > 1:
        out["obs_kind"] = inputs.kind_of()
    if inputs.domains and spec.domain_trends:
        out["unit_t"] = inputs.unit_t()
    if inputs.specialist_domains():
        out["unit_specialist"] = inputs.specialist.astype(np.float64)
    if len(inputs.loss):
        out.update(loss_log_params=inputs.loss_log_params, loss_log_tokens=inputs.loss_log_tokens,
                   loss_log_loss=np.log(inputs.loss))
    if spec.trend == "break":
        out["break_t"] = np.asarray(float(inputs.years([spec.break_date])[0]))
    if spec.trend == "changepoint":
        lo, hi = changepoint_bounds(spec, inputs)
        out["changepoint_lo"], out["changepoint_hi"] = np.asarray(lo), np.asarray(hi)
    return out


def structure_key(inputs: ModelInputs, spec: ModelSpec) -> tuple:
    """Fits with equal keys share one compiled model (only data arrays differ)."""
    return (inputs.n_models, len(inputs.references), len(inputs.targets), tuple(inputs.benchmarks),
            len(inputs.loss) > 0, inputs.log_d0, spec.trend, spec.frontier, spec.quantile, spec.jump,
            tuple(inputs.family_of()), tuple(inputs.domain_of()), len(inputs.domains), tuple(inputs.kinds),
            spec.domain_trends, spec.learn_floors, spec.robust_scores, tuple(inputs.specialist_domains()),
            tuple(inputs.floor_index()), tuple(inputs.floor_index(True)),
            None if inputs.offset_mask is None else inputs.offset_mask.tobytes(),
            tuple(sorted((k, tuple(v)) for k, v in spec.priors.items())))


def anchor(inputs: ModelInputs) -> float:
    """x_a: the reference models' mean log size, where zeta = 0."""
    return float(np.mean(inputs.ref_log_params))


def build_model(inputs: ModelInputs, spec: ModelSpec) -> pm.Model:
    """The PyMC model for one analysis (the module docstring gives the equations)."""
    coords = {
        "family": inputs.family_names(),
        "variant": [inputs.benchmarks[i] for i in inputs.variant_index()],
        "mc_variant": [inputs.benchmarks[i] for i in inputs.floor_index()] if spec.learn_floors else [],
        "generated_variant": [inputs.benchmarks[i] for i in inputs.floor_index(True)] if spec.learn_floors else [],
        "domain": inputs.domains,
        "specialist_domain": [inputs.domains[k] for k in inputs.specialist_domains()],
        "source_kind": inputs.kinds[1:],
        "unit": inputs.units,
        "model": inputs.models,
        "reference": inputs.references,
        "target": inputs.targets,
        "benchmark": inputs.benchmarks,
        "obs": np.arange(inputs.n_obs),
        "loss_point": np.arange(len(inputs.loss)),
    }
    with pm.Model(coords=coords) as model:
        # data as views into shared containers: a compiled model is reused for new data
        # of the same structure (fit.sample caches it; nutpie's with_data swaps the arrays)
        data = model_data(inputs, spec)
        x_a = data["x_anchor"]
        # ---- reference loss law ----
        alpha = pm.Deterministic("alpha", pt.exp(_rv("log_alpha", spec)))
        beta = pm.Deterministic("beta", pt.exp(_rv("log_beta", spec)))
        sN = pm.Deterministic("sN", pt.exp(_rv("log_sN", spec)))
        sD = pm.Deterministic("sD", pt.exp(_rv("log_sD", spec)))
        if len(inputs.loss):
            E = pm.Deterministic("E", pt.exp(_rv("log_E", spec)))
            pred = E + reducible_loss(data["loss_log_params"], data["loss_log_tokens"], sN, sD, alpha, beta)
            pm.StudentT("log_loss", nu=_rv("loss_nu", spec), mu=pt.log(pred), sigma=_rv("loss_sigma", spec),
                        observed=data["loss_log_loss"], dims="loss_point")

        # ---- trend and latent log densities ----
        if spec.quantile is not None:
            q = float(spec.quantile)
            scale = pm.Deterministic("quantile_scale", quantile_scale(_rv("quantile_sd", spec), q, xp=pt))
            tp = trend_params(spec, data)
            f_model = trend_value(data["t"], spec.trend, tp, xp=pt)
            r = pm.CustomDist("log_density", f_model, scale, q, logp=quantile_logp, random=quantile_random,
                              dims="model")
        elif spec.frontier:
            # scale and one-sided share rather than (sigma_v, sigma_u): the data pin the
            # total scatter well and its split weakly; the two sds traded off on a ridge
            scale, share = _rv("frontier_scale", spec), _rv("frontier_share", spec)
            sigma_u = pm.Deterministic("frontier_sigma_u", scale * share)
            sigma_v = pm.Deterministic("frontier_sigma_v", scale * pt.sqrt(1.0 - share**2))
            tp = trend_params(spec, data, frontier_offset=sigma_u * math.sqrt(2 / math.pi))
        else:
            sigma_v, sigma_u = _rv("trend_sigma", spec), pt.as_tensor_variable(0.0)
            tp = trend_params(spec, data)
        if spec.quantile is None:
            f_model = trend_value(data["t"], spec.trend, tp, xp=pt)
            r = pm.CustomDist("log_density", f_model, sigma_v, sigma_u,
                              logp=latent_logp, random=latent_random, dims="model")
        x_model = pm.Deterministic("log_neff", data["log_params"] + r, dims="model")

        # reference models: effective size fixed by their (N, D)
        x_ref = reference_log_neff(data["ref_log_params"], data["ref_log_tokens"], inputs.log_d0,
                                   sN, sD, alpha, beta)
        pm.Deterministic("ref_log_density", x_ref - data["ref_log_params"], dims="reference")

        parts = [x_model, x_ref]
        if inputs.targets:
            parts.append(_rv("target_log_neff", spec, dims="target"))
        x_units = pt.concatenate(parts)

        # ---- benchmark link (parameterised at the typical level q*; module docstring) ----
        g, q_star = data["chance"], data["link_level"]
        if spec.learn_floors:
            mc, gen = inputs.floor_index(), inputs.floor_index(generated=True)
            if len(mc):
                g = pt.set_subtensor(g[mc], g[mc] + _rv("floor_shift", spec, dims="mc_variant"))
            if len(gen):
                g = pt.set_subtensor(g[gen], g[gen] + _rv("floor_generated", spec, dims="generated_variant"))
            g = pm.Deterministic("floor", g, dims="benchmark")
        loc = _pooled_link("link_loc", spec, inputs)
        slope_at = pt.exp(_pooled_link("link_log_slope", spec, inputs))
        eta = _rv("link_ceiling_logit", spec, dims="benchmark")
        share_above = pm.math.sigmoid(eta)
        c = q_star + (1.0 - q_star) * share_above
        h = pm.Deterministic("ceiling", g + (1.0 - g) * c, dims="benchmark")
        kappa = pm.Deterministic("link_kappa", slope_at * c / share_above, dims="benchmark")
        mu = pm.Deterministic("link_mu", loc - (pt.log(q_star) - pt.log(c - q_star)) / kappa, dims="benchmark")
        phi = pm.Deterministic("phi", pt.exp(_rv("log_phi", spec, dims="benchmark")), dims="benchmark")

        u, b = data["obs_unit"], data["obs_bench"]
        x_shift, z_shift = observation_shift(inputs, spec, data, len(inputs.units))
        if inputs.domains or len(inputs.kinds) > 1:
            zeta_o = zeta(x_units, alpha, x_a)[u] + x_shift + z_shift
        else:  # the first model's graph, unchanged
            zeta_o = zeta(x_units, alpha, x_a)[u]
        p = expected_score(zeta_o, g[b], h[b], kappa[b], mu[b])
        if spec.robust_scores:
            w = _rv("outlier_share", spec)
            phi_out = pm.Deterministic("outlier_phi", pt.exp(_rv("outlier_log_phi", spec)))
            comps = [pm.BetaBinomial.dist(n=data["obs_n"], alpha=p * f, beta=(1 - p) * f) for f in (phi[b], phi_out)]
            pm.Mixture("k", w=pt.stack([1.0 - w, w]), comp_dists=comps, observed=data["obs_k"], dims="obs")
        else:
            pm.BetaBinomial("k", n=data["obs_n"], alpha=p * phi[b], beta=(1 - p) * phi[b],
                            observed=data["obs_k"], dims="obs")
    return model
