"""The model: analysis specs, priors, data -> arrays (design), trend forms, the joint PyMC model (joint), simulation."""

__all__ = ["design", "joint", "priors", "simulate", "spec", "trend"]
