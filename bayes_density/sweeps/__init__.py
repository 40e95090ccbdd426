"""Sweeps over specifications: the multiverse (specification curve)."""

__all__ = ["multiverse"]
