"""The experiment grid end to end: real SST-2 sentences, real MiniLM, real EDA, real files."""

import json

import pytest

from sentisynth.evaluation.config import parse_experiment_config
from sentisynth.evaluation.experiment import Experiment
from sentisynth.store import read_json

from .helpers import sst2_rows, write_csv


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    train = write_csv(d / "train.csv", sst2_rows("dev", 200))
    test = write_csv(d / "test.csv", sst2_rows("test", 200))
    return str(train), str(test)


def _config(data_files, eda_params=None, **over):
    train, test = data_files
    raw = {
        "name": "t",
        "datasets": [{"name": "mini", "train": train, "test": test}],
        "k": [4, 8],
        "seeds": 2,
        "classifiers": [{"name": "minilm-lr", "type": "embedding-lr"}, {"name": "tfidf", "type": "tfidf-lr"}],
        "conditions": [
            {"name": "real", "kind": "real"},
            {"name": "eda", "kind": "augment", "generator": "eda", "params": eda_params or {"alpha_sr": 0.1}, "ratios": [1, 2]},
            {"name": "eda-only", "kind": "synthetic_only", "generator": "eda", "ratios": [2]},
            {"name": "ceiling", "kind": "ceiling"},
        ],
    }
    raw.update(over)
    return parse_experiment_config(raw)


def test_grid_writes_every_cell_summary_and_manifest(tmp_path, data_files):
    cfg = _config(data_files)
    summary = Experiment(cfg, output_dir=tmp_path, progress=False).run()
    cells = list((tmp_path / "eval").rglob("*.json"))
    # 2 classifiers x [2 k x 2 seeds x (real + eda@1 + eda@2 + eda-only@2) + ceiling]
    assert len(cells) == 2 * (2 * 2 * 4 + 1)
    r = read_json(tmp_path / "eval/mini/minilm-lr/k4/seed1/eda@2.json")
    assert (r["n_real"], r["n_synthetic"], r["n_train"]) == (8, 16, 24)
    only = read_json(tmp_path / "eval/mini/minilm-lr/k8/seed0/eda-only@2.json")
    assert (only["n_real"], only["n_synthetic"]) == (0, 32)
    assert len(r["predictions"]) == 200
    ceiling = read_json(tmp_path / "eval/mini/minilm-lr/ceiling.json")
    assert ceiling["n_train"] == 200 and ceiling["accuracy"] > 65  # MiniLM+LR on 200 real sentences
    # synthetic records kept, with provenance
    syn = [json.loads(x) for x in (tmp_path / "synthetic/mini/k4/seed0/eda.jsonl").read_text().splitlines()]
    assert len(syn) == 16 and {s["label"] for s in syn} == {"negative", "positive"}
    assert all(s["generator"] == "eda" and s["meta"]["source_text"] for s in syn)
    # summary: rows in config order, paired stats, gap closed
    md = (tmp_path / "summary.md").read_text()
    assert md.index("| real |") < md.index("| eda | 1 |") < md.index("| eda | 2 |")
    row = summary[(summary.condition == "eda") & (summary.k == 8) & (summary.classifier == "minilm-lr") & (summary.ratio == 2)].iloc[0]
    assert row["n_seeds"] == 2 and "gap_closed" in row and "p_ttest" in row
    m = read_json(tmp_path / "manifest.json")
    assert m["status"] == "complete" and m["cells"]["run"] == len(cells)
    assert m["models"]["all-MiniLM-L6-v2"]["weights_sha256"]
    assert m["datasets"]["mini"]["splits"]["train"]["sha256"]
    assert m["seeds"] == [0, 1] and m["config_hash"]


def test_rerun_skips_finished_cells_and_reruns_only_changed_ones(tmp_path, data_files):
    Experiment(_config(data_files), output_dir=tmp_path, progress=False).run()
    before = (tmp_path / "summary.csv").read_text()
    Experiment(_config(data_files), output_dir=tmp_path, progress=False).run()
    m = read_json(tmp_path / "manifest.json")
    assert m["cells"]["run"] == 0 and m["cells"]["skipped"] == m["cells"]["total"]
    assert (tmp_path / "summary.csv").read_text() == before
    # Changing EDA's parameters invalidates exactly the 'eda' cells (2 clf x 2 k x 2 seeds x 2 ratios).
    Experiment(_config(data_files, eda_params={"alpha_sr": 0.3}), output_dir=tmp_path, progress=False).run()
    assert read_json(tmp_path / "manifest.json")["cells"]["run"] == 16
    Experiment(_config(data_files), output_dir=tmp_path, overwrite=True, progress=False).run()
    m = read_json(tmp_path / "manifest.json")
    assert m["cells"]["run"] == m["cells"]["total"]


def test_a_changed_generator_default_reruns_its_cells_and_regenerates(tmp_path, data_files, monkeypatch):
    """Cache keys cover the config as written; a new default of the generator must not reuse old draws."""
    from sentisynth.generators.eda import EDAGenerator

    cfg = _config(data_files, k=[4], classifiers=[{"name": "tfidf", "type": "tfidf-lr"}])
    Experiment(cfg, output_dir=tmp_path, progress=False).run()
    before = (tmp_path / "synthetic/mini/k4/seed0/eda-only.jsonl").read_text()
    defaults = list(EDAGenerator.__init__.__defaults__)
    defaults[2] = 0.4  # alpha_rs (random swap), which the config leaves at its default
    monkeypatch.setattr(EDAGenerator.__init__, "__defaults__", tuple(defaults))
    Experiment(cfg, output_dir=tmp_path, progress=False).run()
    m = read_json(tmp_path / "manifest.json")
    assert m["cells"]["run"] == 2 * 3  # 2 seeds x (eda@1, eda@2, eda-only@2); real and ceiling kept
    assert (tmp_path / "synthetic/mini/k4/seed0/eda-only.jsonl").read_text() != before
    r = read_json(tmp_path / "eval/mini/tfidf/k4/seed0/eda@1.json")
    assert r["generator_params"]["alpha_rs"] == 0.4 and r["generator_params"]["random_state"] == 0


def test_same_seed_same_numbers(tmp_path, data_files):
    cfg = _config(data_files, k=[4], classifiers=[{"name": "tfidf", "type": "tfidf-lr"}])
    a = Experiment(cfg, output_dir=tmp_path / "a", progress=False).run()
    b = Experiment(cfg, output_dir=tmp_path / "b", progress=False).run()
    assert a.drop(columns=[]).equals(b)


def test_k_larger_than_a_class_fails_before_any_work(tmp_path, data_files):
    from sentisynth.errors import DataError

    with pytest.raises(DataError, match=r"class '(negative|positive)' has 100 examples; expected at least k=500"):
        Experiment(_config(data_files, k=[500]), output_dir=tmp_path / "run", progress=False).run()
    assert not tmp_path.joinpath("run").exists()


def test_imbalanced_seed_sets_and_synthetic_allocation(tmp_path, data_files):
    """class_fractions makes the seed set imbalanced; allocation decides where synthetic records go:
    rebalance fills only the deficit, proportional keeps the imbalance, balanced splits evenly."""
    train, test = data_files
    cfg = parse_experiment_config({
        "name": "imb", "metric": "macro_f1",
        "datasets": [{"name": "mini-neg25", "train": train, "test": test, "class_fractions": {"negative": 0.25}}],
        "k": [8], "seeds": 2, "classifiers": [{"name": "tfidf", "type": "tfidf-lr"}],
        "conditions": [
            {"name": "real", "kind": "real"},
            {"name": "copies", "kind": "augment", "generator": "resample", "allocation": "rebalance", "ratios": [1]},
            {"name": "eda-rebalance", "kind": "augment", "generator": "eda", "allocation": "rebalance", "ratios": [1]},
            {"name": "eda-prop", "kind": "augment", "generator": "eda", "allocation": "proportional", "ratios": [1]},
            {"name": "eda-bal", "kind": "augment", "generator": "eda", "ratios": [1]},
        ]})
    Experiment(cfg, output_dir=tmp_path, progress=False).run()
    cell = lambda name: read_json(tmp_path / f"eval/mini-neg25/tfidf/k8/seed1/{name}.json")  # noqa: E731
    assert cell("real")["n_real_per_label"] == {"negative": 2, "positive": 8}
    assert cell("copies@1")["n_synthetic_per_label"] == {"negative": 6}
    assert cell("eda-rebalance@1")["n_synthetic_per_label"] == {"negative": 6}
    assert cell("eda-prop@1")["n_synthetic_per_label"] == {"negative": 2, "positive": 8}
    assert cell("eda-bal@1")["n_synthetic_per_label"] == {"negative": 5, "positive": 5}
    copies = [json.loads(x) for x in (tmp_path / "synthetic/mini-neg25/k8/seed1/copies.jsonl").read_text().splitlines()]
    real_neg = {e for e, y in zip(*_texts_labels(train)) if y == "negative"}
    assert all(r["text"] in real_neg for r in copies if r["label"] == "negative"), "oversampling copies real examples"
    summary = (tmp_path / "summary.md").read_text()
    assert "macro_f1 (%) mean ± std" in summary


def _texts_labels(path):
    import csv

    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def test_coverage_and_flip_profiles(tmp_path, data_files):
    """coverage: true — every cell records how much of the test set its training set covers; adding
    records can only add vocabulary and points, so augmented coverage is never below real-only."""
    train, test = data_files
    cfg = parse_experiment_config({
        "name": "cov", "coverage": True, "datasets": [{"name": "mini", "train": train, "test": test}], "k": [4], "seeds": 2,
        "classifiers": [{"name": "minilm-lr", "type": "embedding-lr"}],
        "conditions": [{"name": "real", "kind": "real"}, {"name": "eda", "kind": "augment", "generator": "eda", "ratios": [4]}]})
    Experiment(cfg, output_dir=tmp_path, progress=False).run()
    for seed in (0, 1):
        real = read_json(tmp_path / f"eval/mini/minilm-lr/k4/seed{seed}/real.json")
        aug = read_json(tmp_path / f"eval/mini/minilm-lr/k4/seed{seed}/eda@4.json")
        for key in ("coverage_token", "coverage_type", "coverage_embedding"):
            assert 0 <= real[key] <= 100 and aug[key] >= real[key], key
        assert real["coverage_token"] < 100, "8 sentences cannot hold the test vocabulary"
        groups = aug["flips"]
        assert sum(g["n"] for g in groups.values()) == 200
        fixed = groups["fixed (wrong → right)"]
        assert fixed["n"] == 0 or 0 <= fixed["oov_rate_vs_real_seed"] <= 100
    md = (tmp_path / "coverage.md").read_text()
    assert "| mini | minilm-lr | 4 | eda | 4 | 2 |" in md and "fixed (wrong → right)" in md


def test_analysis_writes_a_tsne_per_synthetic_condition_and_the_report_shows_it(tmp_path, data_files):
    from sentisynth.report.html import build_report

    cfg = _config(data_files, k=[4], seeds=1, classifiers=[{"name": "minilm-lr", "type": "embedding-lr"}],
                  conditions=[{"name": "real", "kind": "real"},
                              {"name": "eda", "kind": "augment", "generator": "eda", "ratios": [2]}], analysis=True)
    Experiment(cfg, output_dir=tmp_path, progress=False).run()
    out = tmp_path / "analysis" / "mini" / "eda"
    m = read_json(out / "embedding_metrics.json")
    assert (out / "tsne.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert m["n_synthetic"] == 16 and m["n_real"] == 200 and m["reference"].startswith("mini train")
    assert not (tmp_path / "analysis" / "mini" / "real").exists()
    stamp = (out / "tsne.png").stat().st_mtime_ns
    Experiment(cfg, output_dir=tmp_path, progress=False).run()  # unchanged inputs: not redone
    assert (out / "tsne.png").stat().st_mtime_ns == stamp
    html = build_report([tmp_path])
    assert "t-SNE of real vs synthetic embeddings" in html and "condition eda" in html


def test_grid_draws_are_generation_runs_that_resume_and_older_draws_still_count(tmp_path, data_files):
    """The grid generates through the same resumable run as `sentisynth generate`: a draw cut off
    half-way resumes (records kept, none duplicated, the same stream); a draw in the older whole-file
    form (raw-<key>.jsonl + .meta.json) is read, not regenerated."""
    import shutil

    from sentisynth.report.html import run_kind

    cfg = _config(data_files, k=[4], seeds=[0], classifiers=[{"name": "tfidf", "type": "tfidf-lr"}],
                  conditions=[{"name": "real", "kind": "real"},
                              {"name": "eda", "kind": "augment", "generator": "eda", "ratios": [1, 2]}])
    Experiment(cfg, output_dir=tmp_path / "clean", progress=False).run()
    [draw] = list((tmp_path / "clean/synthetic/mini/k4/seed0").glob("raw-*/"))
    m = read_json(draw / "manifest.json")
    assert m["kind"] == "generation" and run_kind(draw) == "generation" and m["status"] == "complete"
    assert m["seed_set"]["n"] == 8 and m["counts"]["synthetic"] == 16
    records = (draw / "synthetic.jsonl").read_text().splitlines()

    # A crash half-way through the draw: the partial file holds 7 records, the manifest says running.
    shutil.copytree(tmp_path / "clean", tmp_path / "cut")
    cut = tmp_path / "cut/synthetic/mini/k4/seed0" / draw.name
    (cut / "synthetic.jsonl").unlink()
    (cut / "synthetic.parquet").unlink()
    (cut / "synthetic.jsonl.partial").write_text("\n".join(records[:7]) + "\n")
    (cut / "manifest.json").write_text((cut / "manifest.json").read_text().replace('"complete"', '"running"'))
    for stale in [*(tmp_path / "cut/synthetic/mini/k4/seed0").glob("eda.*"), *(tmp_path / "cut/eval").rglob("eda@*.json")]:
        stale.unlink()
    Experiment(cfg, output_dir=tmp_path / "cut", progress=False).run()
    assert read_json(cut / "manifest.json")["counts"]["resumed_from"] == 7
    assert (cut / "synthetic.jsonl").read_text().splitlines() == records
    assert (tmp_path / "cut/summary.csv").read_text() == (tmp_path / "clean/summary.csv").read_text()

    # An older grid's draw: the same records as one file; it is used as it is.
    shutil.copytree(tmp_path / "clean", tmp_path / "old")
    old = tmp_path / "old/synthetic/mini/k4/seed0"
    (old / f"{draw.name}.jsonl").write_text("\n".join(records) + "\n")
    (old / f"{draw.name}.meta.json").write_text(json.dumps({"n": 16, "generator": "eda", "params": m["config"]["params"]}))
    shutil.rmtree(old / draw.name)
    for stale in [*old.glob("eda.*"), *(tmp_path / "old/eval").rglob("eda@*.json")]:
        stale.unlink()
    Experiment(cfg, output_dir=tmp_path / "old", progress=False).run()
    assert not (old / draw.name).exists()
    assert (tmp_path / "old/summary.csv").read_text() == (tmp_path / "clean/summary.csv").read_text()
