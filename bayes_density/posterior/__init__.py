"""Posterior quantities from a run: summaries, the measurement model (source offsets, domains, floors), the paper's method (baseline), new-model placement, projections, trend draws."""

__all__ = ["baseline", "measurement", "placement", "projection", "summaries", "trend_draws"]
