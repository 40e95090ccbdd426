"""Where NUTS chains start: draws from a short ADVI fit (the default), or PyMC's jittered support point.

``"jitter"`` (nutpie's default): each chain starts at the prior's support point
plus U(-1, 1) noise on every unconstrained coordinate. In a model with a few
hundred latent effects a chain can start far from the posterior's typical set
and adapt its step size and mass matrix to the transient: on the shipped data
(specialists spec, seed 3) one chain of four ended its 1,000 tuning steps with a
step size of 0.009 (the others 0.11-0.14), 1,023 leapfrog steps per draw and a
log density still rising through the draws (R-hat 1.60).

``"advi"``: fit mean-field ADVI for ``n_iter`` Adam steps, then start each chain at
its own draw from the approximation, mean + sd * N(0, 1) in the unconstrained space,
so every chain begins inside the bulk of the posterior and the chains still start
apart (mean-field sds, too narrow in correlated directions, but not zero). The draws
are a function of the seed and the chain.

ADVI runs on the log density and gradient that nutpie compiled for the sampler (one
numba call per step), not on a PyMC graph of its own: no second compilation, and a
compiled model reused for new data (``with_data``) is reused here too. Mean-field
ADVI (Kucukelbir et al. 2017, JMLR 18(14)) as PyMC's ``pm.fit(method="advi")`` does
it: q(z) = N(mu, diag(softplus(rho))^2), mu starting at PyMC's initial point
(unjittered), rho at 0; one draw eps ~ N(0, I) per step and z = mu + s eps; the
ELBO's gradient is g for mu and (g eps + 1 / s) sigmoid(rho) for rho, with g the
log density's gradient at z; Adam (beta 0.9, 0.999) ascends it. A step whose log
density or gradient is not finite is skipped.

Measured (``benchmarks/scale.py --sizes 1000 --inits jitter,advi``, 1,000 simulated
models, 4 x 1000 draws, seed 1, 2026-12-04): from the jittered start two chains stuck
(2,000 divergences, max R-hat 4.1, min bulk ESS 4, 1,734 s); from ADVI draws 0
divergences, max R-hat 1.005, min bulk ESS 1,066, 406 s in all (ADVI included), the
true doubling time recovered (3.19 vs 3.20 months), 90% of true densities in their 90%
intervals (that was PyMC's ``pm.fit``; on the compiled model, same data: 0 divergences, R-hat
1.007, bulk ESS 1,132, 423 s). On the shipped default spec ADVI takes 1.3-1.7 s here against
``pm.fit``'s 11-13 s (``benchmarks/advi_start.py``, seeds 1 and 2), to the same kind of optimum
(log density at the mean -4,844 / -4,852 against ``pm.fit``'s -4,848 / -4,832; sds alike).
If ADVI diverges the chains fall back to the jittered start (with a warning).
"""

from __future__ import annotations

import ctypes

import numpy as np

ADVI_STEPS = 5000
ADVI_LEARNING_RATE = 0.02
#: share of ADVI steps allowed a non-finite log density or gradient before ADVI counts as diverged
MAX_BAD_STEPS = 0.5

_ADAM_B1, _ADAM_B2, _ADAM_EPS = 0.9, 0.999, 1e-8
_P = ctypes.POINTER(ctypes.c_double)


def flat_point(compiled, values: dict) -> np.ndarray:
    """Values of the value variables (name -> array, unconstrained) as one vector in nutpie's flat
    order; every coordinate of ``compiled`` must be given."""
    x = np.zeros(compiled.n_dim)
    names, slices, _ = compiled.shape_info
    filled = 0
    for name, sl in zip(names, slices):
        if name in values:
            x[sl] = np.asarray(values[name], float).ravel()
            filled += sl.stop - sl.start
    if filled != compiled.n_dim:
        raise ValueError(f"{filled} coordinates given, the compiled model has {compiled.n_dim}")
    return x


def support_point(compiled, model) -> np.ndarray:
    """PyMC's initial point of ``model`` (no jitter; unconstrained), in nutpie's flat order."""
    return flat_point(compiled, model.initial_point())


class LogpGrad:
    """nutpie's compiled log density and gradient (its numba C callback) as a numpy function."""

    def __init__(self, compiled):
        self.n = int(compiled.n_dim)
        self.fn = compiled.compiled_logp_func.ctypes
        self.compiled = compiled  # keeps user_data (the data pointers) alive
        self.user = ctypes.c_void_p(compiled.user_data.ctypes.data)
        self.x, self.grad, self.logp = np.empty(self.n), np.empty(self.n), np.empty(())
        self.ptrs = (self.x.ctypes.data_as(_P), self.grad.ctypes.data_as(_P), self.logp.ctypes.data_as(_P))

    def __call__(self, z: np.ndarray) -> tuple[bool, float, np.ndarray]:
        """(finite, log density, gradient) at ``z``; the gradient array is reused by the next call."""
        self.x[:] = z
        rc = self.fn(self.n, *self.ptrs, self.user)
        return rc == 0, float(self.logp), self.grad


def advi_start(compiled, model, seed: int, n_iter: int = ADVI_STEPS,
               learning_rate: float = ADVI_LEARNING_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Mean-field ADVI on nutpie's ``compiled`` model: (mean, sd) in its flat unconstrained order.

    ``model``: the PyMC model it was compiled from (for the starting point). Raises
    ``FloatingPointError`` when ADVI diverges (too many non-finite steps, or a non-finite result).
    """
    f = LogpGrad(compiled)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xAD71]))
    mu, rho = support_point(compiled, model), np.zeros(compiled.n_dim)
    m = np.zeros((2, compiled.n_dim))
    v = np.zeros((2, compiled.n_dim))
    bad, t = 0, 0
    for _ in range(int(n_iter)):
        eps = rng.standard_normal(mu.shape)
        s = np.logaddexp(0.0, rho)  # softplus
        ok, _, g = f(mu + s * eps)
        if not ok:
            bad += 1
            if bad > MAX_BAD_STEPS * n_iter:
                raise FloatingPointError("ADVI initialisation diverged (non-finite log density on most steps)")
            continue
        t += 1
        grads = np.stack([g, (g * eps + 1.0 / s) / (1.0 + np.exp(-rho))])
        m = _ADAM_B1 * m + (1 - _ADAM_B1) * grads
        v = _ADAM_B2 * v + (1 - _ADAM_B2) * grads**2
        step = learning_rate * (m / (1 - _ADAM_B1**t)) / (np.sqrt(v / (1 - _ADAM_B2**t)) + _ADAM_EPS)
        mu, rho = mu + step[0], rho + step[1]
    sd = np.logaddexp(0.0, rho)
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sd))):
        raise FloatingPointError("ADVI initialisation diverged (non-finite mean or sd)")
    return mu, sd


def initial_point_function(mu: np.ndarray, sd: np.ndarray, seed: int):
    """A function of nutpie's per-chain seed giving that chain's flat start, mu + sd * N(0, 1)."""
    mu, sd = np.asarray(mu, float), np.asarray(sd, float)
    if mu.shape != sd.shape:
        raise ValueError(f"mean and sd differ in shape: {mu.shape} vs {sd.shape}")

    def start(chain_seed: int = 0):  # nutpie passes each chain's own non-negative integer seed
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(chain_seed)]))
        return mu + sd * rng.standard_normal(mu.shape)

    return start
