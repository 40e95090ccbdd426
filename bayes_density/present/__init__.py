"""Presentation: text (every format_* and the CLI's output), plots (matplotlib figures from tidy tables), the HTML report."""

__all__ = ["plots", "report", "text"]
