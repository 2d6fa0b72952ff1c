"""The Ray executor against the local one, on a real local Ray instance with 2 CPUs.

Same seed, same results: generation, filtering and an experiment grid run on Ray write exactly
what the local executor writes. A Ray worker SIGKILLed mid-task is restarted and its call retried
(no record lost or duplicated); a driver SIGKILLed mid-run resumes to the same records.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from sentisynth.distributed import LocalExecutor, RayExecutor, make_executor
from sentisynth.evaluation.config import parse_experiment_config
from sentisynth.evaluation.experiment import Experiment
from sentisynth.filters.base import FilterChain
from sentisynth.generators.base import make_generator
from sentisynth.pipeline import write_filter_run, write_generation_run
from sentisynth.store import read_json

from .helpers import assert_user_error, cli_command, run_cli, sst2_rows, write_csv

pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_executor():
    """One local Ray instance (2 CPUs) for the module, shut down at the end."""
    executor = RayExecutor(num_cpus=2).start()
    yield executor
    executor.close()


def _seed_set():
    from sentisynth.data import load_splits, subsample_per_class

    return subsample_per_class(load_splits("sst2").train, 20, seed=0)


def _generate(out: Path, executor, n: int, batch_size: int) -> Path:
    return write_generation_run(out, make_generator("eda", batch_size=batch_size), _seed_set(), n, seed=0,
                                source="sst2", executor=executor)


def test_generation_on_ray_writes_the_local_records(tmp_path, ray_executor):
    local = _generate(tmp_path / "local", LocalExecutor(), 3000, 100)
    ray = _generate(tmp_path / "ray", ray_executor, 3000, 100)
    assert ray.read_bytes() == local.read_bytes()
    m = read_json(tmp_path / "ray" / "manifest.json")
    assert m["executor"]["name"] == "ray" and m["executor"]["cluster_cpus"] == 2
    assert m["counts"]["per_label"] == {"negative": 1500, "positive": 1500}
    assert (tmp_path / "ray" / "synthetic.parquet").exists()


def _ray_workers() -> list[int]:
    import psutil

    pids = []
    for p in psutil.Process().children(recursive=True):  # this test's Ray instance only
        try:
            if " ".join(p.cmdline()).startswith("ray::_Worker"):
                pids.append(p.pid)
        except psutil.Error:
            continue
    return pids


def test_a_worker_killed_mid_task_is_retried_and_no_record_is_lost_or_duplicated(tmp_path, ray_executor):
    n, batch = 16000, 400
    partial = tmp_path / "ray" / "synthetic.jsonl.partial"
    killed: list[int] = []

    def kill_one_busy_worker():
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            if partial.exists() and partial.stat().st_size > 0:
                busy = [pid for pid in _ray_workers() if "run" in " ".join(_cmdline(pid))]
                if busy:
                    os.kill(busy[0], signal.SIGKILL)
                    killed.append(busy[0])
                    return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_busy_worker)
    killer.start()
    ray = _generate(tmp_path / "ray", ray_executor, n, batch)
    killer.join()
    assert killed, "no busy Ray worker was found to kill"
    local = _generate(tmp_path / "local", LocalExecutor(), n, batch)
    assert ray.read_bytes() == local.read_bytes()
    texts = [json.loads(x)["text"] for x in ray.read_text().splitlines()]
    assert len(texts) == n


def _cmdline(pid: int) -> list[str]:
    import psutil

    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return []


def test_filtering_on_ray_keeps_and_rejects_what_local_does(tmp_path, ray_executor):
    source = _generate(tmp_path / "gen", LocalExecutor(), 1200, 100)
    # MinHash and n-gram checks only (no encoder), to keep the test quick; the teacher and perplexity
    # filters are per-record like these and go through the same worker path.
    specs = [{"name": "length", "params": {"min_words": 4, "max_words": 30}},
             {"name": "contamination", "params": {"ngram": 6, "embedding_threshold": None}},
             {"name": "diversity", "params": {"minhash_threshold": 0.8, "embedding_threshold": None, "seed_threshold": None}}]
    eval_texts = [t for t, _ in sst2_rows("test", 400)] + [json.loads(x)["text"] for x in source.read_text().splitlines()[:25]]
    outs = {}
    for name, executor in (("local", LocalExecutor()), ("ray", ray_executor)):
        outs[name] = tmp_path / f"filtered-{name}"
        write_filter_run(source, outs[name], FilterChain.from_config(specs), _seed_set(), eval_texts=eval_texts,
                         filter_config=specs, seed=0, seed_source="sst2", batch_size=64, executor=executor)
    for f in ("synthetic.jsonl", "rejected.jsonl"):
        assert (outs["ray"] / f).read_bytes() == (outs["local"] / f).read_bytes()
    ml, mr = read_json(outs["local"] / "manifest.json"), read_json(outs["ray"] / "manifest.json")
    assert mr["filters"] == ml["filters"] and mr["counts"] == ml["counts"]
    assert mr["contamination_found"] == ml["contamination_found"] and ml["contamination_found"]["contamination"] >= 25
    assert mr["executor"]["filters_on_workers"] == ["length", "contamination"]  # diversity dedupes in the driver
    assert all(ml["filters"][f]["rejected"] > 0 for f in ("length", "contamination", "diversity"))


def _grid(data_dir: Path, **over):
    train = write_csv(data_dir / "train.csv", sst2_rows("dev", 200))
    test = write_csv(data_dir / "test.csv", sst2_rows("test", 200))
    return parse_experiment_config({
        "name": "t", "datasets": [{"name": "mini", "train": str(train), "test": str(test)}], "k": [4, 8], "seeds": 2,
        "classifiers": [{"name": "minilm-lr", "type": "embedding-lr"}, {"name": "tfidf", "type": "tfidf-lr"}],
        "conditions": [{"name": "real", "kind": "real"},
                       {"name": "eda", "kind": "augment", "generator": "eda", "ratios": [1, 4]},
                       {"name": "ceiling", "kind": "ceiling"}],
        **over,
    })


def _results(root: Path) -> dict[str, dict]:
    out = {}
    for path in sorted((root / "eval").rglob("*.json")):
        r = read_json(path)
        r.pop("seconds")
        out[str(path.relative_to(root))] = r
    return out


def test_an_experiment_grid_on_ray_gives_the_local_metrics(tmp_path, ray_executor):
    cfg = _grid(tmp_path)
    Experiment(cfg, output_dir=tmp_path / "local", progress=False).run()
    Experiment(cfg, output_dir=tmp_path / "ray", progress=False, executor=ray_executor).run()
    local, ray = _results(tmp_path / "local"), _results(tmp_path / "ray")
    assert len(local) == 2 * (2 * 2 * 3 + 1) and ray == local
    assert (tmp_path / "ray" / "summary.csv").read_text() == (tmp_path / "local" / "summary.csv").read_text()
    m = read_json(tmp_path / "ray" / "manifest.json")
    assert m["executor"]["name"] == "ray" and m["cells"]["run"] == len(local)
    # where a grid ran is not part of what it is: the config hash is the local one
    assert m["config_hash"] == read_json(tmp_path / "local" / "manifest.json")["config_hash"]


def test_killing_the_driver_under_ray_resumes_to_the_same_records(tmp_path):
    args = ["generate", "eda", "--dataset", "sst2", "--k", "20", "-n", "30000", "--batch-size", "250"]
    out = tmp_path / "ray"
    partial = out / "synthetic.jsonl.partial"
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    proc = subprocess.Popen(cli_command(*args, "--out", str(out), "--executor", "ray"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None and not (partial.exists() and partial.stat().st_size > 200_000):
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local Ray instance it started
    proc.wait()
    written = sum(1 for _ in partial.open())
    assert 0 < written < 30000
    done = run_cli(*args, "--out", str(out), "--executor", "ray")
    assert done.returncode == 0, done.stderr
    local = run_cli(*args, "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    assert (out / "synthetic.jsonl").read_bytes() == (tmp_path / "local" / "synthetic.jsonl").read_bytes()
    assert read_json(out / "manifest.json")["counts"]["resumed_from"] >= written - 250


def test_bad_executor_settings_are_one_line_errors(tmp_path):
    base = ["generate", "eda", "--dataset", "sst2", "--k", "4", "-n", "10", "--out", str(tmp_path / "x")]
    assert_user_error(run_cli(*base, "--executor", "spark"), "expected one of ['local', 'ray']", "spark")
    assert_user_error(run_cli(*base, "--ray-address", "auto"), "need --executor ray")
    assert not (tmp_path / "x").exists()
    with pytest.raises(Exception, match="max_retries"):
        make_executor({"name": "ray", "max_retries": -1})
    with pytest.raises(Exception, match="Unknown ray executor option"):
        make_executor({"name": "ray", "adress": "auto"})
    with pytest.raises(Exception, match="ray"):
        _grid(tmp_path, executor="ray", ray={"num_workers": 0})
