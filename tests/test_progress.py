"""Progress: bars in a terminal, plain lines in a log, and a run that resumes whichever it was started with."""

from __future__ import annotations

import io
import json
import os
import pty
import random
import signal
import subprocess
import threading
import time

import yaml

from sentisynth.progress import Progress
from sentisynth.store import read_json

from .fault_server import running_fault_server
from .helpers import cli_command
from .test_reliability import ENV, FAST_RETRIES, LABELS, _kill_steps, _records, _rows


def test_without_a_terminal_progress_is_plain_lines_with_rate_and_eta():
    log = io.StringIO()  # not a terminal
    with Progress(True, stream=log, interval=0) as p:
        advance, add_total = p.task("examples", 4)
        advance(1)
        add_total(2)
        advance(5)
    lines = log.getvalue().splitlines()
    assert lines[0] == "progress: examples 0/4"
    assert lines[1].startswith("progress: examples 1/4 (25 %), ") and "/s, ETA " in lines[1]
    assert lines[-1].startswith("progress: examples 6/6 (100 %), ") and "ETA" not in lines[-1]


def test_lines_are_rate_limited_and_off_means_silent():
    log = io.StringIO()
    advance, _ = Progress(True, stream=log, interval=3600).task("cells", 100)
    for _ in range(99):
        advance(1)
    assert len(log.getvalue().splitlines()) == 1  # the start line only, until the interval passes …
    advance(1)
    assert log.getvalue().splitlines()[-1].startswith("progress: cells 100/100")  # … or the task completes
    quiet = io.StringIO()
    adv, _ = Progress(False, stream=quiet).task("cells", 3)
    adv(3)
    assert quiet.getvalue() == ""


def test_a_generation_interrupted_in_a_terminal_resumes_with_stderr_in_a_log(tmp_path):
    """The run's config (and hash) do not depend on where progress goes: killed under a pseudo-terminal,
    rerun with stderr redirected to a file, it resumes its partial records instead of starting over."""
    n = 80

    def command(out, cache, url):
        cfg = tmp_path / f"{out.name}.yaml"
        cfg.write_text(yaml.safe_dump({"backend_params": FAST_RETRIES, "cache_path": str(cache), "style_examples": 0,
                                       "batch_size": 4}))
        return cli_command("generate", "hierarchical", "--backend", "openai", "--base-url", url, "--model", "fault-model",
                           "--labels", ",".join(LABELS), "--instruction", "Classify the sentiment of movie reviews.",
                           "-n", str(n), "--out", str(out), "--config", str(cfg))

    with running_fault_server(seed=3) as (url, _):
        subprocess.run(command(tmp_path / "clean", tmp_path / "clean.sqlite", url), env=ENV, check=True, timeout=300,
                       capture_output=True)
    total = _rows(tmp_path / "clean.sqlite")
    out = tmp_path / "run"
    with running_fault_server(seed=3, latency=0.05) as (url, _):
        cmd = command(out, tmp_path / "run.sqlite", url)
        master, slave = pty.openpty()
        proc = subprocess.Popen(cmd, env=ENV, stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        screen = bytearray()
        reader = threading.Thread(target=lambda: _drain(master, screen), daemon=True)
        reader.start()
        # Kill once a seeded share of the run's answers is cached, and records are on disk.
        target = _kill_steps(random.Random(5), total, kills=1)[0]
        partial = out / "synthetic.jsonl.partial"
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline and not (
                _rows(tmp_path / "run.sqlite") >= target and partial.exists() and partial.read_text().count("\n") >= 2):
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join(timeout=5)
        os.close(master)
        written = partial.read_text().count("\n")
        assert 2 <= written < n
        log = tmp_path / "stderr.log"
        with open(log, "w") as err:
            subprocess.run(cmd, env=ENV, check=True, timeout=300, stdout=subprocess.DEVNULL, stderr=err)
    m = read_json(out / "manifest.json")
    assert m["counts"]["resumed_from"] >= written, "the rerun must resume, not start over"
    assert "progress" not in m["config"]["params"]
    assert _records(out / "synthetic.jsonl") == _records(tmp_path / "clean" / "synthetic.jsonl")
    text = log.read_text()
    assert "progress: examples" in text and "\x1b[" not in text  # plain lines in a log, no terminal codes
    assert b"\x1b[" in screen  # the terminal got bars


def _drain(fd: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return
        if not chunk:
            return
        into.extend(chunk)
