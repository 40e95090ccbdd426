"""Inference: compile and sample (fit), fast approximations (fast), the run object (run), convergence diagnostics."""

__all__ = ["diagnostics", "fast", "fit", "run"]
