"""Posterior quantities from a run: summaries, the paper's method (baseline), new-model placement, projections, trend draws."""

__all__ = ["baseline", "placement", "projection", "summaries", "trend_draws"]
