"""`sentisynth report`: a self-contained page from augment, experiment, generation and filter runs,
opened in a real headless Chromium — plots decoded, tables rendered, no script from the data run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import markupsafe
import numpy as np
import pytest

from sentisynth.augment import Augmentation
from sentisynth.data import load_file
from sentisynth.evaluation.config import parse_experiment_config
from sentisynth.evaluation.experiment import Experiment
from sentisynth.report import build_report, write_report

from .helpers import sst2_by_label, sst2_rows, write_csv

PAYLOADS = [
    '<script>document.title="PWNED"</script> a dull film',
    'a fine film <img src=x onerror="document.body.setAttribute(\'data-pwned\', \'1\')">',
    '"><svg onload="document.body.setAttribute(\'data-pwned\', \'2\')"> it was bad',
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    neg, pos = sst2_by_label("train", 1200)
    data = write_csv(tmp / "mine.csv", neg[:12] + pos[:12])
    pool = tmp / "pool.jsonl"
    lines = [{"text": t, "label": y, "generator": "pool", "meta": {"topic": '<script>alert("meta")</script>'}}
             for t, y in neg[100:135] + pos[100:133]]  # with the 4 below: 36 per label, all drawn (n = 2 x 1.5 x 24)
    lines += [{"text": t, "label": "negative" if i % 2 else "positive", "generator": "pool", "meta": {}} for i, t in enumerate(PAYLOADS)]
    lines += [{"text": "ok.", "label": "positive", "generator": "pool", "meta": {}}]  # rejected by length
    pool.write_text("".join(json.dumps(x) + "\n" for x in lines))
    aug = tmp / "augment"
    Augmentation(aug, "Classify the sentiment of movie reviews.", generator="file", generator_params={"path": str(pool)},
                 ratios=(1, 2), n_splits=3, n_repeats=2).run(load_file(data), str(data))
    train = write_csv(tmp / "train.csv", sst2_rows("dev", 200))
    test = write_csv(tmp / "test.csv", sst2_rows("test", 200))
    cfg = parse_experiment_config({
        "name": "r", "datasets": [{"name": "mini", "train": str(train), "test": str(test)}], "k": [4], "seeds": 2,
        "classifiers": [{"name": "tfidf", "type": "tfidf-lr"}],
        "conditions": [{"name": "real", "kind": "real"},
                       {"name": "eda", "kind": "augment", "generator": "eda", "ratios": [1, 2],
                        "filters": [{"name": "length", "params": {"min_words": 6}}], "oversample": 2, "allow_fewer": True},
                       {"name": "ceiling", "kind": "ceiling"}]})
    exp = tmp / "experiment"
    Experiment(cfg, output_dir=exp, progress=False).run()
    return tmp, aug, exp


def test_every_generated_string_is_escaped(runs):
    _, aug, exp = runs
    page = build_report([aug, exp])
    for payload in PAYLOADS:
        assert payload not in page
        assert str(markupsafe.escape(payload)) in page, payload
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;meta&#34;)" in page
    assert len(re.findall(r"<script[ >]", page)) == 1, "only the report's own script"
    assert "default-src 'none'" in page


def test_report_sections_from_every_kind_of_run(runs):
    _, aug, exp = runs
    page = build_report([aug, exp, aug / "generation", aug / "filtering"])
    for needle in ("Out-of-fold", "Filter funnel", "Example browser", "distinct_2", "t-SNE", "accuracy vs ratio", "Test-set results over seeds",
                   "per-class", "(augment)", "(experiment)", "(generation)", "(filter)"):
        assert needle in page, needle
    assert page.count("data:image/png;base64,") >= 6


def test_bad_run_directory_is_a_clear_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "sentisynth.cli", "report", str(tmp_path), "--out", str(tmp_path / "r.html")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "not a SentiSynth run directory" in r.stderr
    assert not (tmp_path / "r.html").exists()


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI"):
        pytest.fail("headless Chromium is required in CI (.ci/run installs Debian's chromium)")
    pytest.skip("no Chromium on this machine (apt-get install chromium)")


def _browser(*args, tmp):
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
           f"--user-data-dir={tmp / 'profile'}", "--virtual-time-budget=5000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def test_report_renders_in_headless_chromium_and_no_data_script_runs(runs):
    tmp, aug, exp = runs
    out = write_report([aug, exp], tmp / "report.html")
    url = out.resolve().as_uri()
    dom = _browser("--dump-dom", url, tmp=tmp)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    # the report's own script ran (it is the only one the Content-Security-Policy allows) and found
    # every embedded plot decoded by the browser
    m = re.search(r'data-images-rendered="(\d+)/(\d+)"', page)
    assert m, "the report's script did not run"
    assert int(m.group(1)) == int(m.group(2)) >= 6
    # tables rendered with their rows; the payloads are text, not markup
    assert page.count("<table") >= 8 and page.count("<tr") > 100
    assert "PWNED" not in re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "data-pwned" not in page.split("<body", 1)[1].split(">", 1)[0]
    assert "&lt;script&gt;document.title" in page
    # a screenshot: the page painted (not blank) at a real size
    shot = tmp / "report.png"
    r = _browser(f"--screenshot={shot}", "--window-size=1280,2400", url, tmp=tmp)
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    from matplotlib.image import imread

    img = imread(shot)
    assert img.shape[0] == 2400 and img.shape[1] == 1280
    assert float(np.std(img[..., :3])) > 0.05, "blank screenshot"


def test_markdown_tables_name_their_runs(runs, tmp_path):
    _, aug, exp = runs
    r = subprocess.run([sys.executable, "-m", "sentisynth.cli", "report", str(aug), str(exp), "--out", str(tmp_path / "B.md")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "B.md").read_text()
    assert f"Run: `{aug}`" in md and f"Run: `{exp}`" in md and "config hash" in md
    assert "| condition | synthetic / fold |" in md and "| dataset | classifier | k |" in md
    assert "data:image" not in md and "<script" not in md
    # a number in the table is the one in the run's summary
    import pandas as pd

    real = pd.read_csv(exp / "summary.csv").query("condition == 'real'").iloc[0]
    assert f"{real['accuracy_mean']:.1f} ± {real['accuracy_std']:.1f}" in md


def test_contamination_is_a_sentence_not_a_dict():
    from sentisynth.report.html import contamination_sentence

    assert contamination_sentence({"contamination": 0}) == (
        "Contamination check: no synthetic record was too close to an evaluation text (contamination filter).")
    assert "3 synthetic records were too close" in contamination_sentence({"contamination": 3})
    assert "{" not in contamination_sentence({"contamination": 2})
