"""Real vs synthetic data in embedding space: fidelity, diversity, mode collapse, pictures.

Why: the GAN generator emits sentence embeddings, not text, so text metrics (distinct-n,
self-BLEU) cannot judge it; and for text generators, encoding the output shows whether it covers
what the real data covers. Four numbers answer two questions (Kynkäänniemi et al. 2019; Naeem et
al. 2020), each built on k-nearest-neighbour balls, the ball around a point reaching its k-th
nearest neighbour in its own set:

* precision — share of synthetic points inside some real ball: are samples realistic?
* recall — share of real points inside some synthetic ball: is the real variety reproduced?
* density — how many real balls hold each synthetic point, divided by k (about 1 when the two sets
  match; unlike precision it is not fooled by a few real outliers with huge balls);
* coverage — share of real balls holding at least one synthetic point (recall that is robust to
  synthetic outliers).

Mode collapse (a generator that emits near copies of a few points) also shows as a small spread:
``spread_ratio`` is the mean pairwise euclidean distance of the synthetic set over that of the real
set; below :data:`COLLAPSE_RATIO` it is flagged.

Set sizes: k-NN balls shrink as a set grows, so the four ball-based metrics compare sets of equal
size (the larger one subsampled, seeded); spreads use all rows. With fewer than ``k + 1`` rows in either set, ``k`` is clipped to ``rows - 1`` (a
few-shot seed set has 5-10 rows per class) and a warning says so; fewer than 2 rows is a
``ValueError``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

# A second sample of the real data has a ratio near 1; half the real spread is far outside sampling
# noise yet leaves room for generators that are merely conservative. A heuristic: tune per encoder.
COLLAPSE_RATIO = 0.5
# Mean pairwise distance is quadratic; a seeded sample of 2000 rows (2M pairs) estimates it closely.
SPREAD_MAX_ROWS = 2000
# t-SNE is O(n log n) but slow on two cores beyond a few thousand points; plots subsample to this.
TSNE_MAX_POINTS = 3000


def fidelity_diversity(real: Any, synthetic: Any, k: int = 5, random_state: int = 0) -> dict[str, Any]:
    """Precision, recall, density, coverage, spreads and a mode-collapse flag for two point sets.

    ``real`` and ``synthetic`` are ``(n, dim)`` arrays in the same embedding space. Returns plain
    floats/bools (JSON-ready) and ``warnings``, a list of human-readable strings.
    """
    from sklearn.metrics import pairwise_distances_chunked

    real = _as_matrix(real, "real")
    synthetic = _as_matrix(synthetic, "synthetic")
    if real.shape[1] != synthetic.shape[1]:
        raise ValueError(
            f"real and synthetic embeddings must share one space; got dimension {real.shape[1]} (real) and "
            f"{synthetic.shape[1]} (synthetic); fix: encode both with the same encoder."
        )
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"The 'k' parameter of fidelity_diversity must be an int >= 1; got {k!r} instead.")
    if min(len(real), len(synthetic)) < 2:
        raise ValueError(
            f"fidelity_diversity needs at least 2 rows on each side for k-NN balls; got {len(real)} real and "
            f"{len(synthetic)} synthetic; fix: pass more rows (or skip this label)."
        )
    warnings: list[str] = []
    rng = np.random.default_rng(random_state)
    # k-NN balls shrink as a set grows, so the ball-based metrics compare sets of equal size: the
    # larger side is subsampled (seeded) to the smaller's size. Spreads below use the full sets.
    n_eq = min(len(real), len(synthetic))
    real_b = real[np.sort(rng.choice(len(real), n_eq, replace=False))] if len(real) > n_eq else real
    syn_b = synthetic[np.sort(rng.choice(len(synthetic), n_eq, replace=False))] if len(synthetic) > n_eq else synthetic
    k_used = min(int(k), n_eq - 1)
    if k_used < k:
        warnings.append(
            f"k clipped from {k} to {k_used}: only {n_eq} rows on the smaller side "
            f"(k-NN balls need k + 1 rows); metrics are noisier."
        )
    r_real = _knn_radius(real_b, k_used)
    r_syn = _knn_radius(syn_b, k_used)

    # One pass over the (real x synthetic) distances, in memory-bounded row chunks of real.
    syn_in_real = np.zeros(n_eq, dtype=bool)  # precision: synthetic j inside some real ball
    balls_per_syn = np.zeros(n_eq, dtype=np.int64)  # density
    real_in_syn = np.zeros(n_eq, dtype=bool)  # recall: real i inside some synthetic ball
    real_covered = np.zeros(n_eq, dtype=bool)  # coverage: real ball i holds a synthetic point
    start = 0
    for D in pairwise_distances_chunked(real_b, syn_b, metric="euclidean"):
        rows = slice(start, start + len(D))
        inside_real = D <= r_real[rows, None]
        syn_in_real |= inside_real.any(axis=0)
        balls_per_syn += inside_real.sum(axis=0)
        real_covered[rows] = inside_real.any(axis=1)
        real_in_syn[rows] = (D <= r_syn[None, :]).any(axis=1)
        start += len(D)

    real_spread = _mean_pairwise_distance(real, rng)
    syn_spread = _mean_pairwise_distance(synthetic, rng)
    ratio = syn_spread / real_spread if real_spread > 0 else None
    collapse = ratio is not None and ratio < COLLAPSE_RATIO
    if collapse:
        warnings.append(
            f"possible mode collapse: synthetic points spread {ratio:.2f}x as far apart as real ones "
            f"(mean pairwise distance {syn_spread:.3g} vs {real_spread:.3g}; flagged below {COLLAPSE_RATIO}); "
            f"the generator repeats a few points: check its diversity (e.g. noise, temperature, filters)."
        )
    return {
        "n_real": len(real),
        "n_synthetic": len(synthetic),
        "n_compared": n_eq,
        "k": k_used,
        "precision": float(syn_in_real.mean()),
        "recall": float(real_in_syn.mean()),
        "density": float(balls_per_syn.mean() / k_used),
        "coverage": float(real_covered.mean()),
        "real_spread": real_spread,
        "synthetic_spread": syn_spread,
        "spread_ratio": None if ratio is None else float(ratio),
        "mode_collapse": bool(collapse),
        "warnings": warnings,
    }


def per_class_report(real_X: Any, real_y: Sequence[Any], syn_X: Any, syn_y: Sequence[Any], k: int = 5,
                     random_state: int = 0) -> dict[str, Any]:
    """:func:`fidelity_diversity` overall and per label (labels become strings for JSON).

    A generator can look fine overall while one class collapses or drifts into another, which is
    why the per-label view exists. Labels present on only one side get a warning, not metrics.
    Every warning is also collected, prefixed by its scope, in the top-level ``warnings`` list.
    """
    real_X, syn_X = _as_matrix(real_X, "real_X"), _as_matrix(syn_X, "syn_X")
    real_y, syn_y = _labels(real_y, len(real_X), "real"), _labels(syn_y, len(syn_X), "synthetic")
    overall = fidelity_diversity(real_X, syn_X, k=k, random_state=random_state)
    warnings = [f"overall: {w}" for w in overall["warnings"]]
    per_class: dict[str, Any] = {}
    for lab in sorted(set(real_y) | set(syn_y)):
        r, s = real_X[real_y == lab], syn_X[syn_y == lab]
        if len(r) < 2 or len(s) < 2:
            warnings.append(
                f"{lab}: {len(r)} real and {len(s)} synthetic rows; at least 2 of each are needed for "
                f"k-NN metrics, so this label has none."
            )
            continue
        per_class[lab] = fidelity_diversity(r, s, k=k, random_state=random_state)
        warnings += [f"{lab}: {w}" for w in per_class[lab]["warnings"]]
    return {"overall": overall, "per_class": per_class, "warnings": warnings}


def tsne_plot(real_X: Any, real_y: Sequence[Any], syn_X: Any, syn_y: Sequence[Any], path: str | Path,
              title: str = "Real vs synthetic embeddings (t-SNE)", random_state: int = 0,
              max_points: int = TSNE_MAX_POINTS) -> Path:
    """One PNG: a panel per label (real vs synthetic) and a panel with every label; returns ``path``.

    Real and synthetic points are projected together, so distances between them are comparable.
    Beyond ``max_points`` rows in all, a seeded sample is drawn. The file is written to a temporary
    sibling and moved into place, so a reader never sees half a PNG.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        from ..errors import ResourceError

        raise ResourceError("tsne_plot needs matplotlib; fix: pip install 'sentisynth[plots]'.") from None
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    real_X, syn_X = _as_matrix(real_X, "real_X"), _as_matrix(syn_X, "syn_X")
    real_y, syn_y = _labels(real_y, len(real_X), "real"), _labels(syn_y, len(syn_X), "synthetic")
    if real_X.shape[1] != syn_X.shape[1]:
        raise ValueError(
            f"real and synthetic embeddings must share one space; got dimension {real_X.shape[1]} and "
            f"{syn_X.shape[1]}; fix: encode both with the same encoder."
        )
    X = np.vstack([real_X, syn_X])
    y = np.concatenate([real_y, syn_y])
    is_syn = np.r_[np.zeros(len(real_X), bool), np.ones(len(syn_X), bool)]
    if len(X) > max_points:
        keep = np.sort(np.random.default_rng(random_state).choice(len(X), max_points, replace=False))
        X, y, is_syn = X[keep], y[keep], is_syn[keep]
    if len(X) < 3:
        raise ValueError(f"tsne_plot needs at least 3 points in all; got {len(X)}; fix: pass more rows.")
    perplexity = float(min(30.0, len(X) - 1))  # sklearn requires perplexity < n_samples
    # One thread: t-SNE's OpenMP loops spin-wait when the cores are busy (measured on 2 busy cores:
    # 38 s for 60 points with the default threads, 0.2 s with one; 2000 points take ~8 s with one).
    with threadpool_limits(limits=1):
        Z = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=random_state).fit_transform(X)

    labels = sorted(set(y))
    n_panels = len(labels) + 1
    cols = min(3, n_panels)
    rows = -(-n_panels // cols)
    fig = Figure(figsize=(4.5 * cols, 4.2 * rows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    style = {False: dict(marker="o", s=14, alpha=0.6), True: dict(marker="x", s=18, alpha=0.8)}
    for ax, lab in zip(axes, labels):
        for syn, colour in ((False, "0.4"), (True, "tab:red")):  # grey/red: not confused with label colours
            m = (y == lab) & (is_syn == syn)
            ax.scatter(Z[m, 0], Z[m, 1], c=colour, label=f"{'synthetic' if syn else 'real'} ({m.sum()})", **style[syn])
        ax.set_title(str(lab))
    ax = axes[len(labels)]
    palette = [f"C{i % 10}" for i in range(len(labels))]
    for lab, colour in zip(labels, palette):
        for syn in (False, True):
            m = (y == lab) & (is_syn == syn)
            ax.scatter(Z[m, 0], Z[m, 1], c=colour, label=f"{lab} {'syn' if syn else 'real'}", **style[syn])
    ax.set_title("all labels")
    for ax in axes[:n_panels]:
        ax.legend(fontsize=7, loc="best")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png", dpi=110)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def nearest_texts(query_X: Any, texts: Sequence[str], texts_X: Any, top: int = 1) -> list[list[tuple[str, float]]]:
    """For each query embedding, the ``top`` corpus texts by cosine similarity, best first.

    Why: a synthetic embedding (the GAN's output) cannot be read; its nearest real sentences show
    what it stands for, and a similarity near 1 reveals a copy of a training sentence.
    """
    Q = _as_matrix(query_X, "query_X")
    C = _as_matrix(texts_X, "texts_X")
    if len(texts) != len(C):
        raise ValueError(f"texts and texts_X must align; got {len(texts)} texts and {len(C)} embeddings.")
    if Q.shape[1] != C.shape[1]:
        raise ValueError(
            f"query_X has dimension {Q.shape[1]} but texts_X has {C.shape[1]}; fix: encode both with the same encoder."
        )
    if top < 1:
        raise ValueError(f"The 'top' parameter of nearest_texts must be >= 1; got {top!r} instead.")
    top = min(int(top), len(C))
    Qn = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
    Cn = C / np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
    out: list[list[tuple[str, float]]] = []
    for start in range(0, len(Qn), 1024):  # bounded memory for large corpora
        S = Qn[start : start + 1024] @ Cn.T
        idx = np.argpartition(-S, top - 1, axis=1)[:, :top]
        for row, cand in zip(S, idx):
            best = cand[np.argsort(-row[cand], kind="stable")]
            out.append([(texts[j], float(row[j])) for j in best])
    return out


def write_embedding_analysis(out_dir: str | Path, real: Sequence[Any], synthetic: Sequence[Any],
                             encoder: Any = "embeddinggemma-300m", *, corpus: Sequence[str] = (), reference_name: str = "real",
                             random_state: int = 0, max_nearest: int = 200) -> dict[str, Any]:
    """Metrics, t-SNE and nearest sentences of synthetic records against real ones, written into ``out_dir``.

    ``real`` and ``synthetic`` are records (text and/or ``embedding``); texts are encoded with
    ``encoder``, the space the synthetic embeddings must live in. Writes ``embedding_metrics.json``
    (:func:`per_class_report`), ``tsne.png``, and ``nearest.jsonl``: for the first ``max_nearest``
    synthetic records, the closest sentences among the real texts and ``corpus`` (e.g. the GAN's
    pretraining tweets) — for reading what an embedding stands for, never for training.
    """
    import json

    from ..backends.encoders import embed_examples, make_encoder
    from ..store import write_atomic, write_json

    enc = make_encoder(encoder)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    real_X, syn_X = embed_examples(enc, real), embed_examples(enc, synthetic)
    real_y, syn_y = [r.label for r in real], [r.label for r in synthetic]
    report = per_class_report(real_X, real_y, syn_X, syn_y, random_state=random_state)
    report.update({"encoder": enc.name, "reference": reference_name, "n_real": len(real), "n_synthetic": len(synthetic)})
    write_json(out / "embedding_metrics.json", report)
    tsne_plot(real_X, real_y, syn_X, syn_y, out / "tsne.png",
              title=f"{reference_name} vs synthetic ({enc.name}, t-SNE)", random_state=random_state)
    texts = [r.text for r in real if r.text is not None] + [t for t in corpus]
    if texts:
        texts = list(dict.fromkeys(texts))
        near = nearest_texts(syn_X[:max_nearest], texts, enc.encode(texts), top=3)
        lines = [json.dumps({"index": i, "label": synthetic[i].label, "text": synthetic[i].text,
                             "nearest": [{"text": t, "cosine": round(c, 4)} for t, c in row]}, ensure_ascii=False) + "\n"
                 for i, row in enumerate(near)]
        write_atomic(out / "nearest.jsonl", "".join(lines))
    return report


# --------------------------------------------------------------------------- internals


def _as_matrix(X: Any, what: str) -> np.ndarray:
    A = np.asarray(X, dtype=np.float64)
    if A.ndim != 2 or len(A) == 0:
        raise ValueError(f"{what} must be a non-empty (n, dim) array of embeddings; got shape {A.shape}.")
    if not np.isfinite(A).all():
        raise ValueError(f"{what} holds NaN or infinite values; fix: drop or re-encode those rows.")
    return A


def _labels(y: Sequence[Any], n: int, what: str) -> np.ndarray:
    labels = np.asarray([str(v) for v in y], dtype=object)
    if len(labels) != n:
        raise ValueError(f"{what} labels must align with its embeddings; got {len(labels)} labels for {n} rows.")
    return labels


def _knn_radius(X: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest neighbour in X, itself excluded."""
    from sklearn.neighbors import NearestNeighbors

    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
    return dist[:, k]


def _mean_pairwise_distance(X: np.ndarray, rng: np.random.Generator) -> float:
    from scipy.spatial.distance import pdist

    if len(X) > SPREAD_MAX_ROWS:
        X = X[rng.choice(len(X), SPREAD_MAX_ROWS, replace=False)]
    return float(pdist(X).mean()) if len(X) > 1 else 0.0
