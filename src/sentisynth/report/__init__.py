"""Plots and the self-contained HTML report (``sentisynth report``)."""

from .html import build_report, write_report

__all__ = ["build_report", "write_report"]
