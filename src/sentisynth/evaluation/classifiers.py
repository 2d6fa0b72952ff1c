"""Classifiers the harness trains on real (+ synthetic) data.

Four strengths, cheapest first:

* ``tfidf-lr`` — TF-IDF n-grams + logistic regression. Text only. A floor that needs no model.
* ``embedding-lr`` — logistic regression on frozen sentence embeddings (MiniLM by default). Accepts
  text *and* embedding-only examples (the GAN emits embeddings in the encoder's space).
* ``setfit`` — SetFit: contrastive fine-tuning of the encoder on pairs, then a LR head. The strong
  few-shot classifier; minutes per cell on CPU.
* ``finetune`` — end-to-end fine-tuning of a small transformer with a classification head. Slowest;
  optional in a grid.

All share one protocol: ``fit(examples) -> self``, ``predict(examples) -> list[label]``, and the class
attribute ``accepts`` saying which example kinds they can train on.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np

from ..errors import ConfigError
from ..records import Example, SyntheticExample
from ..registry import Registry, constructor_params

CLASSIFIERS: Registry["Classifier"] = Registry("classifier")
register_classifier = CLASSIFIERS.register


class Classifier:
    name: ClassVar[str] = "base"
    accepts: ClassVar[frozenset[str]] = frozenset({"text"})

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters; a shared encoder object is reported by its name."""
        return {p: getattr(v, "name", v) if hasattr(v, "encode") else v for p, v in constructor_params(self).items()}

    def fit(self, examples: Sequence[Example]) -> "Classifier":  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, examples: Sequence[Example]) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_kinds(self, examples: Sequence[Example]) -> None:
        if "embedding" not in self.accepts and any(e.text is None for e in examples):
            raise ConfigError(
                f"classifier {self.name!r} trains on text only, but some examples carry only an embedding; "
                f"fix: use classifier 'embedding-lr' for embedding generators (e.g. the GAN)."
            )

    @staticmethod
    def _labels(examples: Sequence[Example]) -> list[str]:
        return [e.label for e in examples]


def make_classifier(name: str, **params: Any) -> Classifier:
    return CLASSIFIERS.make(name, **params)


def _logreg(C: float, max_iter: int, class_weight: Any, random_state: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=max_iter, class_weight=class_weight, random_state=random_state)


def synthetic_sample_weight(examples: Sequence[Example], synthetic_weight: float) -> np.ndarray | None:
    """Per-example weights for the loss: ``synthetic_weight`` for generated records, 1 for real ones
    (``None`` when every weight would be 1). Why: a few real examples among many synthetic ones are
    outvoted in the loss by records that are noisier and less faithful; a weight below 1 lets more
    synthetic records add coverage without drowning the real ones (issue 20, "training on synthetic
    records")."""
    if isinstance(synthetic_weight, bool) or not isinstance(synthetic_weight, (int, float)) or not 0 < synthetic_weight:
        raise ConfigError(f"The 'synthetic_weight' parameter must be a number > 0 (1 = a synthetic record counts as "
                          f"much as a real one); got {synthetic_weight!r} instead.")
    if synthetic_weight == 1:
        return None
    return np.array([float(synthetic_weight) if isinstance(e, SyntheticExample) else 1.0 for e in examples])


def soft_target_rows(examples: Sequence[Example], labels: Sequence[str], weights: np.ndarray | None,
                     label_smoothing: float, soft_labels: bool) -> tuple[np.ndarray, list[str], np.ndarray] | None:
    """Rows, labels and weights that train a weighted logistic regression on soft targets for generated records.

    A generated record's label is a guess (the 0.5B model writes some records that deserve another label), so
    its target may be a distribution instead of one label: with ``soft_labels`` the teacher's distribution that
    a teacher filter stored in ``meta["teacher"]``, with ``label_smoothing`` ε a mix (1 − ε)·target + ε·uniform.
    Cross-entropy with a soft target equals a weighted sum over labels, so each such record becomes one row per
    label, weighted by its probability (times the record's own weight); real records stay one row with their
    label. Returns (indices into ``examples`` of each row, the rows' labels, the rows' weights), or ``None`` when
    no record needs more than its own label (then the caller fits as usual).
    """
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) or not 0 <= label_smoothing < 1:
        raise ConfigError(f"The 'label_smoothing' parameter must be a number in [0, 1) (0 = a generated record's own "
                          f"label only); got {label_smoothing!r} instead.")
    if label_smoothing == 0 and not soft_labels:
        return None
    classes = sorted(set(labels))
    rows, row_labels, row_weights = [], [], []
    for i, (e, y) in enumerate(zip(examples, labels)):
        w = 1.0 if weights is None else float(weights[i])
        if not isinstance(e, SyntheticExample):
            rows.append(i), row_labels.append(y), row_weights.append(w)
            continue
        target = {y: 1.0}
        teacher = e.meta.get("teacher") if soft_labels else None
        if teacher:
            total = sum(float(teacher.get(c, 0.0)) for c in classes)
            if total > 0:
                target = {c: float(teacher.get(c, 0.0)) / total for c in classes}
        for c in classes:
            p = (1 - label_smoothing) * target.get(c, 0.0) + label_smoothing / len(classes)
            if p > 1e-6:
                rows.append(i), row_labels.append(c), row_weights.append(w * p)
    return np.asarray(rows), row_labels, np.asarray(row_weights)


def _fit_lr(model: Any, X: Any, examples: Sequence[Example], labels: list[str], synthetic_weight: float,
            label_smoothing: float, soft_labels: bool) -> Any:
    """Fit ``model`` on rows ``X`` of ``examples``: synthetic weights, then soft targets where asked for."""
    weights = synthetic_sample_weight(examples, synthetic_weight)
    soft = soft_target_rows(examples, labels, weights, label_smoothing, soft_labels)
    if soft is None:
        return model.fit(X, labels, sample_weight=weights)
    rows, row_labels, row_weights = soft
    return model.fit(X[rows], row_labels, sample_weight=row_weights)


@register_classifier("tfidf-lr")
class TfidfLogisticRegression(Classifier):
    """Word 1-2-grams with sublinear TF, then L2 logistic regression; ``synthetic_weight`` is a
    generated record's weight in the loss relative to a real one's; ``label_smoothing`` and ``soft_labels``
    give generated records soft targets (:func:`soft_target_rows`)."""

    def __init__(self, C: float = 10.0, ngram_max: int = 2, max_iter: int = 2000, class_weight: Any = None, random_state: int = 0,
                 synthetic_weight: float = 1.0, label_smoothing: float = 0.0, soft_labels: bool = False):
        self.C = C
        self.ngram_max = ngram_max
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.random_state = random_state
        self.synthetic_weight = synthetic_weight
        self.label_smoothing = label_smoothing
        self.soft_labels = soft_labels

    def fit(self, examples):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._check_kinds(examples)
        self.vectorizer_ = TfidfVectorizer(ngram_range=(1, self.ngram_max), sublinear_tf=True, min_df=1)
        X = self.vectorizer_.fit_transform([e.text for e in examples])
        self.model_ = _fit_lr(_logreg(self.C, self.max_iter, self.class_weight, self.random_state), X, examples,
                              self._labels(examples), self.synthetic_weight, self.label_smoothing, self.soft_labels)
        return self

    def predict(self, examples):
        return list(self.model_.predict(self.vectorizer_.transform([e.text for e in examples])))


@register_classifier("embedding-lr")
class EmbeddingLogisticRegression(Classifier):
    """Logistic regression on frozen sentence embeddings.

    ``encoder`` is a model name (see :mod:`sentisynth.backends.encoders`; ``glove-6b-50d`` gives
    averaged word vectors) or a ready encoder object (``SentenceEncoder``, ``GloveEncoder``) shared
    across grid cells so its cache and memo are reused. ``encoder_prompt`` names the encoder's
    sentence-transformers prompt (``"auto"``: the offline spec's measured choice; ``None``: none).
    The constructor default stays MiniLM so that configs written before the strong encoder existed
    keep their meaning (and their cached cells); the product's defaults name the encoder explicitly
    (:data:`sentisynth.backends.encoders.DEFAULT_ENCODER`). ``synthetic_weight`` is a generated
    record's weight in the loss relative to a real one's (:func:`synthetic_sample_weight`);
    ``label_smoothing`` and ``soft_labels`` give generated records soft targets (:func:`soft_target_rows`).
    """

    accepts = frozenset({"text", "embedding"})

    def __init__(self, encoder: Any = "all-MiniLM-L6-v2", C: float = 1.0, max_iter: int = 2000, class_weight: Any = None,
                 random_state: int = 0, encoder_prompt: str | None = "auto", synthetic_weight: float = 1.0,
                 label_smoothing: float = 0.0, soft_labels: bool = False):
        self.encoder = encoder
        self.C = C
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.random_state = random_state
        self.encoder_prompt = encoder_prompt
        self.synthetic_weight = synthetic_weight
        self.label_smoothing = label_smoothing
        self.soft_labels = soft_labels

    def _encoder(self):
        from ..backends.encoders import make_encoder

        if not hasattr(self, "encoder_"):
            self.encoder_ = make_encoder(self.encoder, prompt=self.encoder_prompt)
        return self.encoder_

    def embed(self, examples: Sequence[Example]) -> np.ndarray:
        """Embeddings for examples: given vectors are used as they are, texts are encoded."""
        from ..backends.encoders import embed_examples

        return embed_examples(self._encoder(), examples)

    def fit(self, examples):
        self.model_ = _fit_lr(_logreg(self.C, self.max_iter, self.class_weight, self.random_state), self.embed(examples),
                              examples, self._labels(examples), self.synthetic_weight, self.label_smoothing, self.soft_labels)
        return self

    def predict(self, examples):
        return list(self.model_.predict(self.embed(examples)))


@register_classifier("setfit")
class SetFitClassifier(Classifier):
    """SetFit (Tunstall et al. 2022): contrastive pair fine-tuning of the encoder, then a LR head."""

    def __init__(self, encoder: Any = "all-MiniLM-L6-v2", num_iterations: int = 20, num_epochs: int = 1, batch_size: int = 16, max_length: int = 64, random_state: int = 0):
        self.encoder = encoder
        self.num_iterations = num_iterations
        self.num_epochs = num_epochs
        self.batch_size = batch_size
        self.max_length = max_length
        self.random_state = random_state

    def fit(self, examples):
        import os
        import tempfile

        from ..backends.encoders import resolve_encoder_path

        self._check_kinds(examples)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments

        name = getattr(self.encoder, "model", self.encoder)
        self.model_ = SetFitModel.from_pretrained(resolve_encoder_path(name), device="cpu")
        self.workdir_ = tempfile.mkdtemp(prefix="sentisynth-setfit-")  # SetFit writes checkpoints; keep them out of cwd
        args = TrainingArguments(
            output_dir=self.workdir_,
            save_strategy="no",
            logging_strategy="no",
            batch_size=self.batch_size,
            num_epochs=self.num_epochs,
            num_iterations=self.num_iterations,
            max_length=self.max_length,
            seed=self.random_state,
            report_to="none",
            show_progress_bar=False,
        )
        train = Dataset.from_dict({"text": [e.text for e in examples], "label": self._labels(examples)})
        Trainer(model=self.model_, args=args, train_dataset=train).train()
        return self

    def predict(self, examples):
        return [str(p) for p in self.model_.predict([e.text for e in examples], batch_size=64, as_numpy=True)]


@register_classifier("finetune")
class FineTuneClassifier(Classifier):
    """End-to-end fine-tuning of a small encoder with a linear head (plain PyTorch loop)."""

    def __init__(self, encoder: Any = "all-MiniLM-L6-v2", epochs: int = 10, learning_rate: float = 5e-5, batch_size: int = 16, max_length: int = 64, random_state: int = 0):
        self.encoder = encoder
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_length = max_length
        self.random_state = random_state

    def fit(self, examples):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from ..backends.encoders import resolve_encoder_path

        self._check_kinds(examples)
        torch.manual_seed(self.random_state)
        path = resolve_encoder_path(getattr(self.encoder, "model", self.encoder))
        self.classes_ = sorted(set(self._labels(examples)))
        self.tokenizer_ = AutoTokenizer.from_pretrained(path)
        self.model_ = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(self.classes_))
        y = torch.tensor([self.classes_.index(lab) for lab in self._labels(examples)])
        texts = [e.text for e in examples]
        opt = torch.optim.AdamW(self.model_.parameters(), lr=self.learning_rate)
        gen = torch.Generator().manual_seed(self.random_state)
        self.model_.train()
        for _ in range(self.epochs):
            for idx in torch.randperm(len(texts), generator=gen).split(self.batch_size):
                batch = self.tokenizer_([texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
                loss = self.model_(**batch, labels=y[idx]).loss
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.model_.eval()
        return self

    def predict(self, examples):
        import torch

        texts = [e.text for e in examples]
        out: list[str] = []
        with torch.no_grad():
            for start in range(0, len(texts), 64):
                batch = self.tokenizer_(texts[start : start + 64], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
                out.extend(self.classes_[i] for i in self.model_(**batch).logits.argmax(-1).tolist())
        return out


def evaluate_predictions(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class F1 (percentages)."""
    from sklearn.metrics import accuracy_score, f1_score

    per_class = f1_score(y_true, y_pred, labels=list(labels), average=None, zero_division=0)
    return {
        "accuracy": 100.0 * accuracy_score(y_true, y_pred),
        "macro_f1": 100.0 * f1_score(y_true, y_pred, labels=list(labels), average="macro", zero_division=0),
        "per_class_f1": {lab: 100.0 * float(f) for lab, f in zip(labels, per_class)},
    }
