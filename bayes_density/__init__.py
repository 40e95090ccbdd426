"""bayes-density: Bayesian analysis of LLM capability density (the "densing law").

Main entry points: :func:`load_data` (shipped or your CSVs), :func:`load_spec`
(``models/*.toml``), :class:`DensityAnalysis` (fit and summarise), and the
``bayes-density`` command line.
"""

from .analysis import DensityAnalysis
from .data.io import DataError, DensityData, load_data
from .model.spec import ModelSpec, SpecError, load_spec

__all__ = ["DataError", "DensityAnalysis", "DensityData", "ModelSpec", "SpecError", "load_data", "load_spec"]
__version__ = "0.1.0"
