"""Model checks (compute only; tidy tables and dicts, no figures): PPC and LOO-PIT (ppc), LOO/LFO comparison, prior sensitivity."""

__all__ = ["comparison", "ppc", "sensitivity"]
