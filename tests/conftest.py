"""Shared test setup.

All tests use one cache directory (``$SENTISYNTH_TEST_CACHE``, default ``<repo>/.cache/test``)
instead of the user's ``~/.cache/sentisynth``: a fresh clone (CI) starts cold and a developer's
reruns stay fast. Tests that need a cold cache point ``SENTISYNTH_CACHE`` at ``tmp_path`` themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SST2_DIR = REPO.parent / "shared" / "data" / "sst2"


@pytest.fixture(scope="session", autouse=True)
def test_cache():
    path = Path(os.environ.get("SENTISYNTH_TEST_CACHE") or REPO / ".cache" / "test")
    path.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SENTISYNTH_CACHE", str(path))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TQDM_DISABLE", "1")
        mp.delenv("SENTISYNTH_WORDNET_DIR", raising=False)
        yield path
