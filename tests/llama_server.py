"""A real llama.cpp OpenAI-compatible server for integration tests.

:func:`running_llama_server` starts ``python -m llama_cpp.server`` (llama-cpp-python's server) on
127.0.0.1 at a free port, waits until ``/v1/models`` answers, yields the ``/v1`` base URL and
always stops the process group on exit (SIGTERM, then SIGKILL), so no server outlives the tests.
The server's output goes to a log file whose tail is shown when it fails to start.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)  # the server runs in its own session: pgid == pid
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _server_env() -> dict[str, str]:
    """The environment with the library's OpenMP waiting (``configure_openmp_waiting``), which the
    server's llama.cpp reads when it loads."""
    from sentisynth.backends.llamacpp import configure_openmp_waiting

    configure_openmp_waiting()
    return dict(os.environ)


@contextlib.contextmanager
def running_llama_server(model_path: str | Path, n_ctx: int = 4096, n_threads: int = 2, timeout: float = START_TIMEOUT) -> Iterator[str]:
    """Start the server on ``model_path``; yields e.g. ``http://127.0.0.1:PORT/v1``."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_threads", str(n_threads),
        "--n_ctx", str(n_ctx),
    ]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                env=_server_env())
    stopper = functools.partial(_stop, proc)
    atexit.register(stopper)  # also on an interrupted test session
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with code {proc.returncode} before answering; log:\n{_tail(log)}")
            try:
                with urllib.request.urlopen(base_url + "/models", timeout=2) as r:
                    if r.status == 200 and json.load(r).get("data") is not None:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama.cpp server did not answer /v1/models within {timeout:.0f} s; log:\n{_tail(log)}")
            time.sleep(0.25)
        yield base_url
    finally:
        _stop(proc)
        atexit.unregister(stopper)
        with contextlib.suppress(OSError):
            log.unlink()
