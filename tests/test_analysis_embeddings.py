"""Real-vs-synthetic embedding metrics, t-SNE plot and nearest texts, on controlled point clouds."""

import numpy as np
import pytest

from sentisynth.analysis.embeddings import fidelity_diversity, nearest_texts, per_class_report, tsne_plot


def _cloud(n=200, dim=10, seed=0, shift=0.0):
    return np.random.default_rng(seed).normal(size=(n, dim)) + shift


def test_copy_of_real_has_full_precision_and_recall():
    real = _cloud()
    r = fidelity_diversity(real, real.copy(), k=5)
    assert r["precision"] == pytest.approx(1.0) and r["recall"] == pytest.approx(1.0)
    assert r["coverage"] == pytest.approx(1.0) and r["spread_ratio"] == pytest.approx(1.0)
    assert not r["mode_collapse"] and r["warnings"] == []


def test_second_sample_of_same_distribution_scores_high():
    r = fidelity_diversity(_cloud(seed=0), _cloud(seed=1), k=5)
    assert r["precision"] > 0.6 and r["recall"] > 0.6 and 0.6 < r["density"] < 1.6 and r["coverage"] > 0.6
    assert 0.9 < r["spread_ratio"] < 1.1


def test_collapse_to_one_point_is_flagged():
    real = _cloud()
    r = fidelity_diversity(real, np.repeat(real[:1], 100, axis=0), k=5)
    assert r["recall"] < 0.05 and r["coverage"] < 0.1
    assert r["spread_ratio"] == 0.0 and r["mode_collapse"] is True
    assert any("mode collapse" in w for w in r["warnings"])


def test_far_away_cloud_has_no_precision():
    r = fidelity_diversity(_cloud(), _cloud(seed=1, shift=50.0), k=5)
    assert r["precision"] == 0.0 and r["recall"] == 0.0 and r["density"] == 0.0 and r["coverage"] == 0.0
    assert not r["mode_collapse"]  # shifted but just as spread out


def test_small_sets_clip_k_and_tiny_or_mismatched_sets_fail():
    r = fidelity_diversity(_cloud(4), _cloud(3, seed=1), k=5)
    assert r["k"] == 2 and "k clipped from 5 to 2" in r["warnings"][0]
    with pytest.raises(ValueError, match="at least 2 rows"):
        fidelity_diversity(_cloud(4), _cloud(1))
    with pytest.raises(ValueError, match="dimension 10 .real. and 3"):
        fidelity_diversity(_cloud(), _cloud(dim=3))
    with pytest.raises(ValueError, match="NaN"):
        fidelity_diversity(np.full((5, 2), np.nan), _cloud(5, dim=2))


def test_per_class_report_finds_the_collapsed_class():
    real_pos, real_neg = _cloud(100, seed=0), _cloud(100, seed=1, shift=5.0)
    syn_pos, syn_neg = _cloud(100, seed=2), np.repeat(real_neg[:1], 50, axis=0)
    rep = per_class_report(np.vstack([real_pos, real_neg]), ["pos"] * 100 + ["neg"] * 100,
                           np.vstack([syn_pos, syn_neg]), ["pos"] * 100 + ["neg"] * 50, k=5)
    assert set(rep["per_class"]) == {"neg", "pos"}
    assert rep["per_class"]["neg"]["mode_collapse"] and not rep["per_class"]["pos"]["mode_collapse"]
    assert any(w.startswith("neg: possible mode collapse") for w in rep["warnings"])
    assert rep["overall"]["n_synthetic"] == 150


def test_per_class_report_warns_on_label_without_synthetic_rows():
    rep = per_class_report(_cloud(20), [0] * 10 + [1] * 10, _cloud(10, seed=1), [0] * 10, k=3)
    assert set(rep["per_class"]) == {"0"}
    assert any(w.startswith("1: 10 real and 0 synthetic") for w in rep["warnings"])


def test_tsne_plot_writes_a_png(tmp_path):
    real, syn = _cloud(30, dim=8), _cloud(30, dim=8, seed=1, shift=1.0)
    y = ["negative", "positive"] * 15
    out = tsne_plot(real, y, syn, y, tmp_path / "plots" / "tsne.png", title="test")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert [p.name for p in out.parent.iterdir()] == ["tsne.png"]  # no temporary file left


def test_nearest_texts_finds_the_sentence_itself():
    texts = ["a great film", "a dull film", "terrible acting", "wonderful cast"]
    X = _cloud(4, dim=16)
    hits = nearest_texts(X[[2, 0]], texts, X, top=2)
    assert [h[0][0] for h in hits] == ["terrible acting", "a great film"]
    assert hits[0][0][1] == pytest.approx(1.0) and hits[0][0][1] >= hits[0][1][1]
    assert len(nearest_texts(X[:1], texts, X, top=10)[0]) == 4  # top clipped to the corpus size
    with pytest.raises(ValueError, match="3 texts and 4 embeddings"):
        nearest_texts(X, texts[:3], X)
