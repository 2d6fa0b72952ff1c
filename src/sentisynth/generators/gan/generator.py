"""``gan``: synthetic *sentence embeddings* with labels, from a conditional GAN in a frozen encoder's space.

``fit(seed)`` encodes the real seed texts (MiniLM by default, or averaged GloVe 50-d), optionally
starts from a GAN pretrained on a large tweet corpus (trained once, saved as safetensors in the
cache and reused across seeds and runs), and trains on the seed embeddings. ``generate(n)`` samples
balanced labels. The records carry an ``embedding`` and no text: the ``embedding-lr`` classifier
with the *same* encoder trains on them directly.

The default is the full method (all modifications on); the plain conditional GAN is
``consistency=False, pretrain=None, instance_noise=0, real_label=1.0, early_stopping=False``.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ...errors import ConfigError, DataError
from ...records import Example, LabelSet, SyntheticExample
from ..base import Generator, register_generator


@register_generator("gan")
class GANGenerator(Generator):
    """Conditional GAN over sentence embeddings, with switchable anti-collapse modifications."""

    seed_use = "learns"  # trains on (or copies) every seed example

    produces = "embedding"

    def __init__(
        self,
        encoder: str = "all-MiniLM-L6-v2",
        consistency: bool = True,
        consistency_weight: float = 1.0,
        pretrain: str | None = "tweets-binary",
        pretrain_label_map: dict[str, str] | None = None,
        pretrain_epochs: int = 40,
        instance_noise: float = 0.2,
        real_label: float = 0.9,
        early_stopping: bool = True,
        holdout: float = 0.2,
        patience: int = 5,
        epochs: int = 100,
        steps_per_epoch: int = 10,
        batch_size: int = 64,
        learning_rate: float = 2e-4,
        noise_dim: int = 64,
        hidden: int = 128,
        normalize: str = "auto",
        n_threads: int | None = 1,
        random_state: int = 0,
    ):
        self.encoder = encoder
        self.consistency = consistency
        self.consistency_weight = consistency_weight
        self.pretrain = pretrain
        self.pretrain_label_map = pretrain_label_map
        self.pretrain_epochs = pretrain_epochs
        self.instance_noise = instance_noise
        self.real_label = real_label
        self.early_stopping = early_stopping
        self.holdout = holdout
        self.patience = patience
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.noise_dim = noise_dim
        self.hidden = hidden
        self.normalize = normalize
        self.n_threads = n_threads
        self.random_state = random_state

    # -- configuration ----------------------------------------------------------------------------

    def _validate(self) -> None:
        if not 0.5 < self.real_label <= 1.0:
            raise ConfigError(f"The 'real_label' parameter of gan must be in (0.5, 1]; got {self.real_label!r} "
                              f"(0.9 = one-sided label smoothing, 1.0 = none).")
        if self.instance_noise < 0:
            raise ConfigError(f"The 'instance_noise' parameter of gan must be >= 0; got {self.instance_noise!r}.")
        if not 0 < self.holdout < 1:
            raise ConfigError(f"The 'holdout' parameter of gan must be in (0, 1); got {self.holdout!r}.")
        if self.normalize not in ("auto", "always", "never"):
            raise ConfigError(f"The 'normalize' parameter of gan must be 'auto', 'always' or 'never'; got {self.normalize!r}.")
        for name in ("epochs", "steps_per_epoch", "batch_size", "noise_dim", "hidden", "pretrain_epochs", "patience"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"The {name!r} parameter of gan must be an int >= 1; got {v!r}.")

    def _train_config(self, *, epochs: int, steps_per_epoch: int, eval_every: int, early_stopping: bool):
        from .model import TrainConfig

        return TrainConfig(
            epochs=epochs, batch_size=self.batch_size, lr=self.learning_rate, consistency=self.consistency,
            consistency_weight=self.consistency_weight, instance_noise=float(self.instance_noise),
            real_target=float(self.real_label), early_stopping=early_stopping, eval_every=eval_every,
            patience=self.patience, min_steps_per_epoch=steps_per_epoch,
        )

    # -- fit ----------------------------------------------------------------------------------------

    def fit(self, seed_examples: Sequence[Example]) -> "GANGenerator":
        from ...backends.encoders import embed_examples, make_encoder
        from ...backends.transformers_lm import torch_threads
        from .model import train_phase

        self._validate()
        if not seed_examples:
            raise DataError("gan.fit needs real seed examples (text or embedding); got none.")
        t0 = time.perf_counter()
        self.labels_ = list(LabelSet.from_labels(e.label for e in seed_examples).names)
        if len(self.labels_) < 2:
            raise DataError(f"gan.fit needs at least two labels in the seed set; got {self.labels_}.")
        self.encoder_ = make_encoder(self.encoder)
        X = embed_examples(self.encoder_, seed_examples)
        y = np.array([self.labels_.index(e.label) for e in seed_examples])
        self.unit_norm_ = self.normalize == "always" or (
            self.normalize == "auto" and bool(np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-3)))
        with torch_threads(self.n_threads):
            start = self._pretrained() if self.pretrain else None
            if start is None:
                self.mean_, self.std_ = X.mean(0), np.maximum(X.std(0), 1e-6)
            Z = (X - self.mean_) / self.std_
            self.report_ = {"n_seed": len(Z), "pretrained": bool(start), "unit_norm_output": self.unit_norm_}
            epochs = self.epochs
            if self.early_stopping:
                tr, ho = _holdout_split(y, self.holdout, self.random_state)
                G, D = self._networks(Z.shape[1], start)
                cfg = self._train_config(epochs=self.epochs, steps_per_epoch=self.steps_per_epoch, eval_every=10,
                                         early_stopping=True)
                epochs = train_phase(G, D, Z[tr], y[tr], cfg, self.random_state, held_out=(Z[ho], y[ho]))
                self.report_["early_stopping"] = {"best_epochs": epochs, "held_out": int(len(ho)), "log": cfg.log}
            # The final model trains on every seed example for the chosen number of epochs.
            self.G_, D = self._networks(Z.shape[1], start)
            cfg = self._train_config(epochs=epochs, steps_per_epoch=self.steps_per_epoch, eval_every=10, early_stopping=False)
            train_phase(self.G_, D, Z, y, cfg, self.random_state)
        self.report_.update({"epochs": epochs, "log": cfg.log[-5:], "fit_seconds": round(time.perf_counter() - t0, 2)})
        return self

    def _networks(self, emb_dim: int, start: dict | None):
        """Fresh, seeded networks, or copies of the pretrained ones."""
        import torch

        from .model import Discriminator, Generator as GNet

        torch.manual_seed(self.random_state)
        G = GNet(self.noise_dim, len(self.labels_), emb_dim, self.hidden)
        D = Discriminator(len(self.labels_), emb_dim, self.hidden)
        if start is not None:
            G.load_state_dict(start["G"])
            D.load_state_dict(start["D"])
        return G, D

    # -- pretraining --------------------------------------------------------------------------------

    def _pretrained(self) -> dict | None:
        """The GAN pretrained on the corpus (from memory, the disk cache, or trained now); sets the scaler."""
        from ...paths import cache_dir

        corpus = self.pretraining_corpus()
        ident = self.encoder_.identity()
        key_cfg = {
            "v": 1, "encoder": [ident.get("encoder"), ident.get("weights_sha256")], "corpus": self.pretrain,
            "corpus_rows": len(corpus[0]), "corpus_hash": hashlib.sha256("\n".join(corpus[0]).encode()).hexdigest()[:16],
            "labels": self.labels_, "label_map": self.pretrain_label_map, "noise_dim": self.noise_dim, "hidden": self.hidden,
            "epochs": self.pretrain_epochs, "batch_size": self.batch_size, "lr": self.learning_rate,
            "consistency": self.consistency, "consistency_weight": self.consistency_weight,
            "instance_noise": self.instance_noise, "real_label": self.real_label, "early_stopping": self.early_stopping,
            "patience": self.patience,
        }
        key = hashlib.sha256(json.dumps(key_cfg, sort_keys=True).encode()).hexdigest()[:20]
        memo: dict = self.__dict__.setdefault("pretrained_memo_", {})
        if key not in memo:
            path = cache_dir() / "gan" / f"pretrained-{key}.safetensors"
            memo[key] = _load_pretrained(path) if path.exists() else self._pretrain(corpus, path, key_cfg)
        start = memo[key]
        self.mean_, self.std_ = start["mean"], start["std"]
        self.pretrain_report_ = start["report"]
        return start

    def pretraining_corpus(self) -> tuple[list[str], list[int]]:
        """Texts and target-label ids of the pretraining corpus (train split; labels mapped by name).

        Kept on the instance per (corpus, labels, mapping): grid cells refit one generator object,
        and the CLI's analysis reads the corpus again after fitting."""
        from ...data import load_splits

        memo: dict = self.__dict__.setdefault("corpus_memo_", {})
        memo_key = (self.pretrain, tuple(self.labels_), json.dumps(self.pretrain_label_map, sort_keys=True))
        if memo_key in memo:
            return memo[memo_key]
        train = load_splits(self.pretrain).train
        mapping = dict(self.pretrain_label_map or {lab: lab for lab in self.labels_})
        corpus_labels = set(train.label_set.names)
        missing = {t: c for t, c in mapping.items() if c not in corpus_labels}
        if set(mapping) != set(self.labels_) or missing:
            raise ConfigError(
                f"gan pretraining on {self.pretrain!r}: every target label {self.labels_} must map to a corpus label "
                f"{sorted(corpus_labels)}; found mapping {mapping}; fix: set pretrain_label_map "
                f"(target label → corpus label) or pretrain: null."
            )
        back = {c: self.labels_.index(t) for t, c in mapping.items()}
        pairs = [(e.text, back[e.label]) for e in train.examples() if e.label in back]
        memo[memo_key] = ([t for t, _ in pairs], [i for _, i in pairs])
        return memo[memo_key]

    def _pretrain(self, corpus: tuple[list[str], list[int]], path: Path, key_cfg: dict) -> dict:
        import torch
        from safetensors.torch import save_file

        from ...store import write_atomic
        from .model import train_phase

        t0 = time.perf_counter()
        texts, y = corpus[0], np.array(corpus[1])
        X = self.encoder_.encode(texts, show_progress=False)
        mean, std = X.mean(0), np.maximum(X.std(0), 1e-6)
        Z = (X - mean) / std
        pre_seed = 0  # one pretrained GAN shared by every seed and run
        tr, ho = _holdout_split(y, 0.05, pre_seed)
        torch.manual_seed(pre_seed)
        from .model import Discriminator, Generator as GNet

        G = GNet(self.noise_dim, len(self.labels_), Z.shape[1], self.hidden)
        D = Discriminator(len(self.labels_), Z.shape[1], self.hidden)
        cfg = self._train_config(epochs=self.pretrain_epochs, steps_per_epoch=1, eval_every=2,
                                 early_stopping=self.early_stopping)
        epochs = train_phase(G, D, Z[tr], y[tr], cfg, pre_seed, held_out=(Z[ho], y[ho]))
        report = {"corpus": self.pretrain, "rows": len(texts), "epochs": epochs, "seconds": round(time.perf_counter() - t0, 1),
                  "log": cfg.log[-5:]}
        tensors = {f"G.{k}": v.contiguous() for k, v in G.state_dict().items()}
        tensors.update({f"D.{k}": v.contiguous() for k, v in D.state_dict().items()})
        tensors["mean"], tensors["std"] = torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(std.astype(np.float32))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        save_file(tensors, str(tmp), metadata={"config": json.dumps(key_cfg), "report": json.dumps(report)})
        tmp.replace(path)
        write_atomic(path.with_suffix(".json"), json.dumps({"config": key_cfg, "report": report}, indent=2))
        return {"G": G.state_dict(), "D": D.state_dict(), "mean": mean, "std": std, "report": report}

    # -- generate -----------------------------------------------------------------------------------

    def generate(self, n: int, labels: Sequence[str] | None = None) -> Iterator[list[SyntheticExample]]:
        import torch

        from .model import sample

        quota = self._quota(n, labels)
        gen = torch.Generator().manual_seed(self.random_state + 1)
        for label, count in quota.items():
            for start in range(0, count, 512):
                m = min(512, count - start)
                Z = sample(self.G_, np.full(m, self.labels_.index(label)), gen)
                X = Z * self.std_ + self.mean_
                if self.unit_norm_:
                    X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
                yield [
                    SyntheticExample(text=None, label=label, embedding=x.astype(np.float32), generator=self.name,
                                     meta={"encoder": self.encoder_.name})
                    for x in X
                ]

    def report(self) -> dict[str, Any]:
        """What fitting did (pretraining, early stopping, epochs, time), for manifests."""
        out = dict(getattr(self, "report_", {}))
        if getattr(self, "pretrain_report_", None):
            out["pretraining"] = self.pretrain_report_
        return out


def _holdout_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held out): ``fraction`` of each label held out, at least one, never all."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for lab in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == lab))
        m = min(max(1, round(fraction * len(idx))), len(idx) - 1)
        held.extend(idx[:m])
        train.extend(idx[m:])
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(held, dtype=int))


def _load_pretrained(path: Path) -> dict:
    from safetensors import safe_open
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        report = json.loads((f.metadata() or {}).get("report", "{}"))
    return {
        "G": {k[2:]: v for k, v in tensors.items() if k.startswith("G.")},
        "D": {k[2:]: v for k, v in tensors.items() if k.startswith("D.")},
        "mean": tensors["mean"].numpy(), "std": tensors["std"].numpy(), "report": report,
    }
