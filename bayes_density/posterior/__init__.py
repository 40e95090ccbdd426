"""Posterior quantities from a run: summaries, the measurement model (source offsets, domains, floors), the paper's method (baseline), new-model placement, the subsample fast path (NUTS on some models, the rest placed), projections, trend draws."""

__all__ = ["baseline", "measurement", "placement", "projection", "subsample", "summaries", "trend_draws"]
