"""The package's errors. Anything the user can fix (their tables, specs, selections,
run files, command-line values) is an :class:`InputError`; the command line prints
its message as one ``error:`` line and exits 2. Any other exception is a bug: the
command line lets it through (traceback, exit 1).
"""

from __future__ import annotations

__all__ = ["DataError", "InputError", "RunFileError", "SelectionError", "SpecError"]


class InputError(ValueError):
    """A problem in what the user gave us; the message says where and what."""


class DataError(InputError):
    """A problem in an input table: ``file``, ``row`` (1-based data row, None for
    whole-file or whole-column problems), ``line`` (line in the file, header = 1)
    and ``column`` (None where no single column is at fault)."""

    def __init__(self, file, row: int | None, column: str | None, problem: str, line: int | None = None):
        self.file = None if file is None else str(file)
        self.row, self.line, self.column, self.problem = row, line, column, problem
        where = self.file or "<data>"
        if row is not None:
            where += f": row {row}" + (f" (line {line})" if line is not None else "")
            if column:
                where += f", columns ({column})" if "," in column else f", column {column!r}"
        super().__init__(f"{where}: {problem}")


class SpecError(InputError):
    """A model specification that cannot be used; the message names the file and key."""


class SelectionError(InputError):
    """The spec selects data the model cannot use (no models, no reference scores, ...)."""


class RunFileError(InputError):
    """A run file that is missing, not NetCDF, or a NetCDF file that is not a bayes-density run."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        super().__init__(f"{path}: {problem}")
