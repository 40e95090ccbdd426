"""The data: table schemas, loading and validation (errors name file, row, column), coverage, where shipped files are."""

__all__ = ["coverage", "io", "resources", "schema"]
