"""The report's figures, each returned as PNG bytes (the HTML embeds them; nothing is fetched).

matplotlib's object API with the Agg canvas: no pyplot global state, no display, safe in threads.
"""

from __future__ import annotations

import io
from typing import Sequence


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        from ..errors import ResourceError

        raise ResourceError("the report's plots need matplotlib; fix: pip install 'sentisynth[report]'.") from None
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def ratio_curves(series: dict[str, list[tuple[float, float, float]]], baseline: tuple[float, float] | None,
                 ceiling: float | None, ylabel: str, title: str) -> bytes:
    """Metric vs synthetic ratio, one line per condition with error bars (mean, half-width at each ratio);
    the real-only mean as a horizontal line with its band, the full-data ceiling dashed."""
    fig = _figure(6.4, 4.0)
    ax = fig.subplots()
    xs_all = sorted({x for pts in series.values() for x, _, _ in pts})
    if baseline is not None:
        mean, half = baseline
        ax.axhline(mean, color="0.3", lw=1.5, label="real only")
        if half == half and half > 0:  # not NaN
            ax.axhspan(mean - half, mean + half, color="0.85", alpha=0.6)
    if ceiling is not None:
        ax.axhline(ceiling, color="tab:green", ls="--", lw=1.2, label="all real labels (ceiling)")
    for i, (name, pts) in enumerate(series.items()):
        pts = sorted(pts)
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[0 if p[2] != p[2] else p[2] for p in pts],
                    marker="o", capsize=3, color=f"C{i % 10}", label=name)
    if xs_all and min(xs_all) > 0:
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs_all, [f"{x:g}" for x in xs_all])
    ax.set_xlabel("synthetic records per real record (ratio)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _png(fig)


def per_class_gains(gains: dict[str, dict[str, float]], title: str) -> bytes:
    """Grouped bars: per-class F1 change vs real only (points), one group per class, one bar per condition."""
    import numpy as np

    conditions = list(gains)
    labels = sorted({lab for g in gains.values() for lab in g})
    fig = _figure(max(5.0, 0.9 * len(labels) * max(1, len(conditions)) ** 0.5 + 3), 3.6)
    ax = fig.subplots()
    width = 0.8 / max(len(conditions), 1)
    x = np.arange(len(labels))
    for i, cond in enumerate(conditions):
        ax.bar(x + (i - (len(conditions) - 1) / 2) * width, [gains[cond].get(lab, 0.0) for lab in labels], width,
               label=cond, color=f"C{i % 10}")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xticks(x, labels, rotation=30 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center")
    ax.set_ylabel("F1 change vs real only (points)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    if len(conditions) > 1:
        ax.legend(fontsize=7, loc="best")
    return _png(fig)


def filter_funnel(stages: Sequence[tuple[str, dict[str, int]]], title: str) -> bytes:
    """Horizontal stacked bars: records per label remaining after each stage (generated first)."""
    fig = _figure(6.4, 0.5 * len(stages) + 1.6)
    ax = fig.subplots()
    labels = sorted({lab for _, counts in stages for lab in counts})
    names = [name for name, _ in stages][::-1]
    left = [0.0] * len(stages)
    for i, lab in enumerate(labels):
        vals = [counts.get(lab, 0) for _, counts in stages][::-1]
        ax.barh(names, vals, left=left, color=f"C{i % 10}", label=lab)
        left = [a + b for a, b in zip(left, vals)]
    for y, total in enumerate(left):
        ax.text(total, y, f" {int(total)}", va="center", fontsize=8)
    ax.set_xlabel("records")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def bar_chart(values: dict[str, float], xlabel: str, title: str) -> bytes:
    """One horizontal bar per name (used for diversity metrics side by side)."""
    fig = _figure(6.0, 0.4 * len(values) + 1.4)
    ax = fig.subplots()
    names = list(values)[::-1]
    ax.barh(names, [values[n] for n in names], color="C0")
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)

