"""Density trend forms f(t): log density (nats) as a function of years since t0.

One function serves PyTensor (inside the model) and NumPy (derived quantities
on posterior draws): pass ``xp=pytensor.tensor`` or ``xp=numpy``.

- ``linear``:      f(t) = intercept + slope * t
- ``break``:       continuous hinge at a known date tb: slope before, slope + slope_change after,
                   optionally a jump at tb
- ``changepoint``: the same hinge at an unknown date tau, smoothed over ``switch_width``
                   years (softplus hinge) so that NUTS can move tau
"""

from __future__ import annotations

import numpy as np


def softplus(x, xp=np):
    """log(1 + exp(x)), stable for large |x|, for numpy or pytensor."""
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


def sigmoid(x, xp=np):
    return 1.0 / (1.0 + xp.exp(-x))


def trend_value(t, form: str, p: dict, xp=np):
    """Log density on the trend line at times ``t`` (years since t0).

    ``p`` holds: intercept, slope; for breaks also slope_change and
    break_t (years) or changepoint (years) and switch_width; optionally jump.
    Broadcasting: parameters may carry sample dimensions in front of t's.
    """
    f = p["intercept"] + p["slope"] * t
    if form == "linear":
        return f
    if form == "break":
        dt = t - p["break_t"]
        f = f + p["slope_change"] * xp.maximum(dt, 0.0)
        if "jump" in p:
            f = f + p["jump"] * (dt > 0)
        return f
    if form == "changepoint":
        w = p["switch_width"]
        dt = t - p["changepoint"]
        f = f + p["slope_change"] * w * softplus(dt / w, xp)
        if "jump" in p:
            f = f + p["jump"] * sigmoid(dt / w, xp)
        return f
    raise ValueError(f"unknown trend form {form!r}")


def latest_slope(form: str, p: dict):
    """Slope of the trend after its last break (per year): what projections extrapolate."""
    if form == "linear":
        return p["slope"]
    return p["slope"] + p["slope_change"]
