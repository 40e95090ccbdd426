"""bayes-density: Bayesian analysis of LLM capability density (the "densing law").

Main entry points: :func:`load_data` (shipped or your CSVs), :func:`load_spec`
(the analysis specs, ``models/*.toml``), :class:`DensityAnalysis` (fit and
summarise), :class:`Run` (a fitted run: load, save, spec, dates), and the
``bayes-density`` command line. Layout: ARCHITECTURE.md.
"""

from .analysis import DensityAnalysis
from .constants import VERSION as __version__
from .data.io import DensityData, load_data
from .errors import DataError, InputError, RunFileError, SelectionError, SpecError
from .inference.run import Run
from .model.spec import ModelSpec, load_spec

__all__ = ["DataError", "DensityAnalysis", "DensityData", "InputError", "ModelSpec", "Run", "RunFileError",
           "SelectionError", "SpecError", "load_data", "load_spec"]
