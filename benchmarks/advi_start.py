"""The ADVI chain start on nutpie's compiled model against PyMC's ``pm.fit``, side by side.

Run: ``.venv/bin/python benchmarks/advi_start.py [--spec default] [--seeds 1,2] [--steps 5000]``.
Builds and compiles the spec's model on the shipped data once, then per seed runs
:func:`bayes_density.inference.init.advi_start` (mean-field ADVI on the compiled log density
and gradient) and ``pm.fit(method="advi")`` with the same Adam settings, and prints each one's
wall time and the log density (nats, unconstrained space, nutpie's) at its mean: a higher one
is a better start. PyMC's time includes compiling its own graph, as a fit would pay it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pymc as pm

from bayes_density.data.io import load_data
from bayes_density.inference.fit import compile_model
from bayes_density.inference.init import ADVI_LEARNING_RATE, LogpGrad, advi_start, flat_point
from bayes_density.inference.quiet import quiet
from bayes_density.model.design import prepare
from bayes_density.model.joint import build_model
from bayes_density.model.spec import load_spec


def pymc_advi_mean(model: pm.Model, compiled, seed: int, steps: int) -> np.ndarray:
    """``pm.fit``'s mean-field mean, put in nutpie's flat order."""
    with quiet(), model:
        approx = pm.fit(n=steps, method="advi", random_seed=seed, progressbar=False,
                        obj_optimizer=pm.adam(learning_rate=ADVI_LEARNING_RATE))
    mean = approx.mean.eval()
    return flat_point(compiled, {name: mean[info[1]] for name, info in approx.groups[0].ordering.items()})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="default")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--steps", type=int, default=5000)
    a = ap.parse_args()
    spec = load_spec(a.spec)
    inputs = prepare(load_data(), spec)
    model = build_model(inputs, spec)
    t = time.perf_counter()
    compiled = compile_model(model, inputs, spec)
    print(f"spec {spec.name}: {compiled.n_dim} unconstrained coordinates, compiled in {time.perf_counter() - t:.1f} s")
    logp = LogpGrad(compiled)
    print(f"{'seed':>4}  {'method':<22} {'wall s':>7}  {'log density at mean':>20}")
    for seed in (int(s) for s in a.seeds.split(",")):
        t = time.perf_counter()
        mu, _ = advi_start(compiled, model, seed, n_iter=a.steps)
        print(f"{seed:>4}  {'compiled (init.py)':<22} {time.perf_counter() - t:>7.2f}  {logp(mu)[1]:>20.1f}")
        t = time.perf_counter()
        mu = pymc_advi_mean(model, compiled, seed, a.steps)
        print(f"{seed:>4}  {'pm.fit':<22} {time.perf_counter() - t:>7.2f}  {logp(mu)[1]:>20.1f}")


if __name__ == "__main__":
    main()
