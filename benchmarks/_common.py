"""Shared helpers of the benchmark scripts (not a test module): data, spec, memory, workers.

Every measured fit runs in a fresh Python process (:func:`run_worker`), so that

- peak memory is per configuration: ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
  of that process (the high-water mark of its resident set, threads included:
  nutpie samples in Rust threads), plus ``RUSAGE_CHILDREN`` for samplers that
  fork worker processes (PyMC's NUTS with cores > 1: the largest child);
- no in-process cache (fit.py's compiled-model cache) favours a later run.

The on-disk compilation caches (``~/.pytensor``: numba and C) are shared by
all processes; the first run of a new model structure pays for a cold cache.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIM_BENCHMARKS = ("SimMC", "SimMixed", "SimMath", "SimCodeSmall", "SimCode")


def sim_spec(**kw):
    """The simulation spec of tests/conftest.py (reference set 'sim', no targets)."""
    from bayes_density.model.spec import ModelSpec

    base = dict(name="sim", benchmarks=SIM_BENCHMARKS, reference="sim", targets=(), draws=1000, tune=1000,
                chains=4, seed=1)
    base.update(kw)
    return ModelSpec(**base)


def simulated_inputs(n_models: int, seed: int = 5):
    """(inputs, truth, spec): data drawn from the model with the default truth."""
    from bayes_density.model.simulate import simulate, synthetic_inputs

    spec = sim_spec()
    inputs, truth = simulate(synthetic_inputs(n_models, seed=seed), spec, seed=seed)
    return inputs, truth, spec


def shipped_inputs(spec_name: str = "default"):
    """(inputs, None, spec) from the shipped data, or None with a message when it cannot be used."""
    try:
        from bayes_density.model.design import prepare
        from bayes_density.data.io import load_data
        from bayes_density.model.spec import load_spec

        spec = load_spec(spec_name)
        return prepare(load_data(), spec), None, spec
    except Exception as exc:  # noqa: BLE001 - missing or invalid data: fall back, say why
        print(f"note: shipped data not usable ({type(exc).__name__}: {exc}); using simulated data instead",
              file=sys.stderr)
        return None


def rss_mb() -> dict:
    """Peak resident set sizes so far (MiB): this process and its largest waited-for child."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(me, 1), "child_peak_rss_mb": round(kids, 1)}


def save_payload(obj) -> str:
    fd, path = tempfile.mkstemp(prefix="bench-", suffix=".pkl")
    with os.fdopen(fd, "wb") as fh:
        pickle.dump(obj, fh)
    return path


def load_payload(path: str):
    with open(path, "rb") as fh:
        return pickle.load(fh)


WORKER_ARGS = ("worker", "payload", "out")


def add_worker_args(ap) -> None:
    """The hidden arguments of the worker side of :func:`run_worker` (``--worker CONFIG --payload P --out F``)."""
    import argparse

    for name in WORKER_ARGS:
        ap.add_argument(f"--{name}", help=argparse.SUPPRESS)


def serve_worker(a, worker) -> bool:
    """In a worker process (``a.worker`` set), write ``worker(a)`` as JSON to ``a.out``; True if it did."""
    if not a.worker:
        return False
    Path(a.out).write_text(json.dumps(worker(a), default=float))
    return True


def run_worker(script: str, args: list[str], timeout: float | None = None) -> dict:
    """Run ``python script --worker ... --out FILE`` in a fresh process; return its JSON result."""
    fd, out = tempfile.mkstemp(prefix="bench-", suffix=".json")
    os.close(fd)
    cmd = [sys.executable, script, *args, "--out", out]
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        Path(out).unlink(missing_ok=True)
        return {"error": f"timed out after {timeout:.0f} s", "wall_s": time.perf_counter() - t}
    try:
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-8:]
            return {"error": f"worker exit {proc.returncode}: " + " | ".join(tail)}
        return json.loads(Path(out).read_text())
    finally:
        Path(out).unlink(missing_ok=True)


def free_rv_names(model) -> list[str]:
    return [v.name for v in model.free_RVs]


def convergence(tree, names: list[str]) -> dict:
    """Min bulk ESS and max R-hat over every element of ``names`` in the posterior."""
    import arviz as az
    import numpy as np

    names = [n for n in names if n in tree.posterior]
    ess = az.ess(tree, var_names=names, method="bulk")
    out = {"ess_bulk_min": float("nan"), "ess_bulk_min_var": None, "rhat_max": float("nan"), "rhat_max_var": None}
    for v in names:
        e = np.asarray(ess[v]).ravel()
        e = e[np.isfinite(e)]
        if e.size and not (e.min() >= out["ess_bulk_min"]):
            out["ess_bulk_min"], out["ess_bulk_min_var"] = float(e.min()), v
    if tree.posterior.sizes["chain"] > 1:
        rhat = az.rhat(tree, var_names=names)
        for v in names:
            r = np.asarray(rhat[v]).ravel()
            r = r[np.isfinite(r)]
            if r.size and not (r.max() <= out["rhat_max"]):
                out["rhat_max"], out["rhat_max_var"] = float(r.max()), v
    stats = tree.get("sample_stats")
    out["divergences"] = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
    return out


def fmt_table(rows: list[dict], cols: list[tuple[str, str, str]]) -> str:
    """Plain-text table: cols = (key, header, format)."""
    def cell(r, key, f):
        v = r.get(key)
        if v is None or (isinstance(v, float) and v != v):
            return "-"
        try:
            return format(v, f)
        except (TypeError, ValueError):
            return str(v)

    body = [[cell(r, k, f) for k, _, f in cols] for r in rows]
    heads = [h for _, h, _ in cols]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(heads)]
    line = "  ".join(h.rjust(w) for h, w in zip(heads, widths))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.rjust(w) for c, w in zip(b, widths)) for b in body]
    return "\n".join(out)
