"""Every prior of the joint model, stated once, with the reason for it.

Each entry is ``(distribution, parameters)``. Units are given in the comment.
A model spec (``models/*.toml``, table ``[priors]``) may override any entry by
name with the same distribution family, e.g. ``slope = [0.0, 5.0]``. The
equations that use these names are in :mod:`bayes_density.model`.
"""

from __future__ import annotations

import math
from types import MappingProxyType

from ..errors import SpecError

PRIORS = MappingProxyType(
    {
        # ---- reference loss law  L = E + sN (N/Nref)^-alpha + sD (D/Dref)^-beta ----
        # E: irreducible loss (nats/token). Besiroglu et al. (2024) report 1.82 on the
        # Chinchilla points; a wide normal on log E keeps it positive and lets the
        # shipped loss points decide.
        "log_E": ("normal", (math.log(1.8), 0.5)),
        # alpha, beta: power-law exponents. Published fits lie in 0.25-0.4; a
        # lognormal centred at 0.35 with sd 0.5 (0.13-0.94 at 95%) rules out only
        # exponents nobody has measured.
        "log_alpha": ("normal", (math.log(0.35), 0.5)),
        "log_beta": ("normal", (math.log(0.35), 0.5)),
        # sN, sD: reducible loss (nats) at the loss data's geometric-mean N and D.
        # Centring there decorrelates the scale from the exponent (a and alpha
        # trade off strongly in the raw (A, alpha) form). Order 0.1-1 nat.
        "log_sN": ("normal", (math.log(0.3), 1.0)),
        "log_sD": ("normal", (math.log(0.3), 1.0)),
        # Residual sd of log-loss (Student-t, robust like the Huber loss of
        # Besiroglu et al.). Losses are digitised to ~0.01-0.02 nats, i.e. ~0.5-1%.
        "loss_sigma": ("halfnormal", (0.05,)),
        "loss_nu": ("fixed", (4.0,)),
        # ---- benchmark link  p = g + (h - g) sigmoid(kappa_b (zeta - mu_b)) ----
        # zeta: loss axis in nats of log size at the anchor (the reference models'
        # mean size, ~20B for Llama-1/2). Sampled at the benchmark's typical score
        # level q*_b (median score, as a fraction of the way from chance to 1):
        # lambda_b = where the curve reaches q*_b, s_b = its logit slope there.
        # lambda_b: the median open model has ~7B parameters, ~1 nat below the anchor;
        # N(-1, 2) for the shared mean covers typical levels reached by 0.1B to 150B
        # models, and the spread between benchmarks is of the same order.
        "link_loc_mu": ("normal", (-1.0, 2.0)),
        "link_loc_tau": ("halfnormal", (2.0,)),
        # s_b: logit change per nat (factor e) of effective size at q*_b. Llama-1 7B ->
        # 65B moves MMLU by about 2 logits over ~2.2 nats: log s ~ N(log 1, 0.75).
        "link_log_slope_mu": ("normal", (0.0, 0.75)),
        "link_log_slope_tau": ("halfnormal", (0.5,)),
        # ceiling c_b = q*_b + (1 - q*_b) sigmoid(eta_b) (fraction of the way from chance
        # to 1; a ceiling below the benchmark's median score is ruled out): label noise
        # keeps ceilings a little below 1; N(3, 1) on eta puts 95% of c between 0.88 and
        # 0.99 of the way from q*_b to 1. Independent per benchmark, not pooled: few models come near any
        # ceiling, and in simulation a learned shared mean (or spread) over such weakly
        # identified effects left chains stuck (R-hat 1.3, ESS 5) or opened a funnel.
        "link_ceiling_logit": ("normal", (3.0, 1.0)),
        # phi_b: beta-binomial precision (prompt, shot and harness spread between
        # sources). Harness differences of 2-4 points at p = 0.5 mean phi ~ 150-600.
        # Independent per benchmark: each has hundreds of scores to pin its own.
        "log_phi": ("normal", (math.log(300.0), 1.0)),
        # Robust score noise (spec [measurement] robust_scores): a share w of scores comes from a
        # wide beta-binomial with precision phi_out instead of phi_b. Outliers are rare: Beta(1, 19),
        # mean 5%, 95% below 15%. phi_out: one for all benchmarks (few outliers per benchmark);
        # LogNormal(log 20, 0.75), 95% in 4.6-87 (sd of a score near 0.5 of 0.05-0.23: the size of
        # two sources' disagreement on one model's MMLU, 0.28 vs 0.43), below the main precisions.
        "outlier_share": ("beta", (1.0, 19.0)),
        "outlier_log_phi": ("normal", (math.log(20.0), 0.75)),
        # ---- measurement model v2: variants, source kinds, domains ----
        # A secondary variant of a benchmark family (BBH-MC beside BBH, HumanEval+ beside
        # HumanEval) gets its own chance floor, items, ceiling and precision, and a location
        # and slope pooled toward the family's primary variant: deviations ~ N(0, 1) nats of
        # log effective size (the same skill scored another way moves the curve by up to
        # a factor e^2 in size either way) and N(0, 0.5) on the log slope.
        "link_loc_variant": ("normal", (0.0, 1.0)),
        # Learned chance floor of a multiple-choice variant, g_b = g0_b + e_b (fraction of
        # items): random guessing hits 1/k only on average; answer-position bias and options
        # shown vs scored move it by about a point (BBH-MC: 0.2885 scored vs 0.2990 shown).
        "floor_shift": ("normal", (0.0, 0.01)),
        # Floor of a generated-answer variant (nominal 0): lucky exact matches and trivial
        # unit tests (a tiny model solves 0-1% of MATH or HumanEval), and, where answers are
        # labels from a closed set (most BBH tasks), the rate of a model that emits a valid
        # label at random: about 0.26 for BBH (sum of n_i/k_i over its closed-label subtasks,
        # data/curation/bbh_mc_subtasks.csv, over its 6,511 items). LogNormal(log 0.01, 1.5):
        # 95% between 0.0005 and 0.19. Not HalfNormal: where most weak models score 0, the
        # likelihood pushes a half-normal floor to 0 and its log (what NUTS samples) drifts
        # down a long flat tail.
        "floor_generated": ("lognormal", (math.log(0.01), 1.5)),
        "link_log_slope_variant": ("normal", (0.0, 0.5)),
        # Source-kind offset on the link's location (nats of log effective size): a
        # developer's own report or another developer's pipeline vs the uniform third-party
        # harness (the reference kind, offset 0). Per (kind, family) ~ N(mean_kind, tau),
        # centred. Harness differences of a few points (prompt format, shots, answer
        # extraction) correspond to a few tenths of a nat; N(0, 1) on the kind mean allows
        # a factor e either way. tau is fixed at 0.25 nats (families of one kind differ by
        # a few tenths): learned, it went to ~0.1 on the shipped data (offsets are small)
        # and the centred hierarchy's funnel left it unmixed (R-hat 1.067, bulk ESS 40).
        "source_offset_mean": ("normal", (0.0, 1.0)),
        "source_offset_tau": ("fixed", (0.25,)),
        # Per-model domain deviation (code, math) of effective log size from the general
        # capability, d_ik = sigma_k z_ik, z ~ N(0, 1) (non-centred). A code model such as
        # CodeLlama-7B is weak at MMLU and strong at HumanEval: a factor e^1-e^2 in size.
        # HalfNormal(1) nats puts sigma_k below 2 nats with 95% probability.
        "domain_sigma": ("halfnormal", (1.0,)),
        # Mean domain deviation of the models trained to specialise in that domain (models.csv
        # ``specialty``: CodeLlama, StarCoder, ... for code), m_k, nats of log size on the loss axis.
        # Without it one sd per domain had to cover generalists (deviations near 0) and specialists
        # (a factor e^2 in size) at once, and its posterior mixed slowly (bulk ESS 145 on the shipped
        # data). N(0, 2): a specialist may be up to a factor e^4 stronger (or weaker) in its domain.
        "specialist_shift": ("normal", (0.0, 2.0)),
        # Optional per-domain trend (spec [measurement] domain_trends): the domain's log
        # density slope minus the general one, per year; N(0, 1) is a third of the slope's
        # prior scale (domains densify at rates of the same order as the whole).
        "domain_slope": ("normal", (0.0, 1.0)),
        # ---- density trend  log rho_i ~ f(t_i) + v_i - u_i ----
        # slope A (per year, natural log). The paper's 0.0073/day is 2.7/yr; N(0, 3)
        # allows no growth, shrinkage, or doubling every ~1 month, symmetric about 0.
        "slope": ("normal", (0.0, 3.0)),
        # intercept: log density at the centre date (t = 0) relative to the reference:
        # of the trend line (mean form) or of the models' mean (frontier form, where
        # the frontier lies E[u] = sigma_u sqrt(2/pi) above it; see model.trend_params).
        "intercept": ("normal", (0.0, 2.0)),
        # Mean form: sd of log density around the trend (nats); a factor e^1 spread
        # between models of one date is typical.
        "trend_sigma": ("halfnormal", (1.5,)),
        # Frontier form: r = f(t) + v - u, v ~ N(0, sd_v), u ~ HalfNormal(sd_u), sampled as
        # scale = sqrt(sd_v^2 + sd_u^2) (nats) and share = sd_u / scale. The data pin the
        # scale well and the share (the skewness) weakly; (sd_v, sd_u) traded off along
        # a ridge. Scale: as trend_sigma. Share ~ Beta(2, 2): no preference between a
        # symmetric scatter and a one-sided one, kept off 1, where sd_v -> 0 and the
        # density gets a hard edge at the frontier that NUTS cannot cross.
        "frontier_scale": ("halfnormal", (1.5,)),
        # Quantile form: r_i ~ AsymmetricLaplace(f(t_i), sigma, q), f the q-quantile of log
        # density. Sampled as the scatter's sd (nats; prior as trend_sigma), so the prior
        # means the same at every q: sigma = sd q (1 - q) / sqrt(1 - 2q + 2q^2).
        "quantile_sd": ("halfnormal", (1.5,)),
        "frontier_share": ("beta", (2.0, 2.0)),
        # ---- trend breaks ----
        # change in slope at the break (per year): same scale as the slope itself.
        "slope_change": ("normal", (0.0, 3.0)),
        # optional jump in log density at the break (nats).
        "jump": ("normal", (0.0, 1.0)),
        # change-point switch width (years): smooth enough for NUTS, sharp
        # compared with the 4-6 year data range.
        "switch_width": ("fixed", (0.05,)),
        # ---- targets (closed models with no parameter count) ----
        # log effective size (log params at D0): broad, centred at 1e11 params,
        # 95% between 3e8 and 3e13.
        "target_log_neff": ("normal", (math.log(1e11), 3.0)),
    }
)


def prior(name: str, overrides: dict | None = None) -> tuple[str, tuple[float, ...]]:
    """Return ``(family, params)`` for prior ``name``, with a spec override applied."""
    family, params = PRIORS[name]
    if overrides and name in overrides:
        new = tuple(float(v) for v in overrides[name])
        if len(new) != len(params):
            raise SpecError(
                f"prior override {name!r}: expected {len(params)} numbers for a {family} prior, got {len(new)}"
            )
        params = new
    return family, params
