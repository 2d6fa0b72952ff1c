"""The embedding-space conditional GAN: shapes, balance, reproducibility, and that each modification
changes training the way it claims (real targets 0.9, fresh noise per epoch, the consistency loss,
pretraining reused from the cache, held-out early stopping)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from sentisynth.errors import ConfigError, DataError  # noqa: E402
from sentisynth.generators.base import make_generator  # noqa: E402
from sentisynth.generators.gan import model as gan_model  # noqa: E402

from .helpers import sst2_examples  # noqa: E402

FAST = dict(pretrain=None, epochs=20, steps_per_epoch=2, early_stopping=False)
VANILLA = dict(consistency=False, pretrain=None, instance_noise=0.0, real_label=1.0, early_stopping=False)


@pytest.fixture(scope="module")
def seed():
    return sst2_examples("dev", 24)


def _embeddings(gen, n):
    recs = [r for b in gen.generate(n) for r in b]
    return np.stack([r.embedding for r in recs]), [r.label for r in recs]


def test_output_shapes_and_balance_minilm(seed):
    gen = make_generator("gan", **FAST).fit(seed)
    X, labels = _embeddings(gen, 11)
    assert X.shape == (11, 384) and X.dtype == np.float32
    assert labels.count("negative") == 6 and labels.count("positive") == 5
    # MiniLM embeddings are unit vectors; generated ones are projected back onto the sphere.
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert gen.report()["fit_seconds"] > 0


def test_output_shapes_glove(seed):
    gen = make_generator("gan", encoder="glove-6b-50d", **FAST).fit(seed)
    X, _ = _embeddings(gen, 8)
    assert X.shape == (8, 50)
    assert not np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-3)  # averaged GloVe is not normalised


def test_seeded_fit_is_reproducible(seed):
    a, _ = _embeddings(make_generator("gan", random_state=3, **FAST).fit(seed), 6)
    b, _ = _embeddings(make_generator("gan", random_state=3, **FAST).fit(seed), 6)
    c, _ = _embeddings(make_generator("gan", random_state=4, **FAST).fit(seed), 6)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


class _Spy:
    """Records, in call order, every discriminator input and every BCE target of ``train_phase``.

    Each step calls the discriminator three times, in this order: real pairs, detached fakes (the
    discriminator's update), fakes (the generator's update); so ``[0::3]`` are the real pairs.
    """

    def __init__(self, monkeypatch):
        self.targets, self.inputs = [], []
        real_bce = gan_model.F.binary_cross_entropy_with_logits
        orig_forward = gan_model.Discriminator.forward

        def bce(logits, target, *a, **k):
            self.targets.append(target.detach().clone())
            return real_bce(logits, target, *a, **k)

        def forward(D, emb, onehot):
            self.inputs.append(emb.detach().clone())
            return orig_forward(D, emb, onehot)

        monkeypatch.setattr(gan_model.F, "binary_cross_entropy_with_logits", bce)
        monkeypatch.setattr(gan_model.Discriminator, "forward", forward)

    @property
    def real_targets(self):
        return self.targets[0::3]

    @property
    def real_inputs(self):
        return self.inputs[0::3]


def _train(X, y, spy=None, **cfg):
    import torch

    torch.manual_seed(0)
    G = gan_model.Generator(8, 2, X.shape[1], 16)
    D = gan_model.Discriminator(2, X.shape[1], 16)
    return G, gan_model.train_phase(G, D, X, y, gan_model.TrainConfig(**cfg), seed=0)


def _toy():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-2, 1, (10, 4)), rng.normal(2, 1, (10, 4))]).astype(np.float32)
    return X, np.array([0] * 10 + [1] * 10)


def test_one_sided_label_smoothing_targets_real_pairs_at_0_9(monkeypatch):
    X, y = _toy()
    spy = _Spy(monkeypatch)
    _train(X, y, epochs=3, batch_size=32, real_target=0.9)
    real = torch_cat(spy.real_targets)
    assert real.size == 3 * 20 and np.allclose(real, 0.9)
    # smoothing is one-sided: fakes are trained towards 0, the generator's own target stays 1
    assert np.all(torch_cat(spy.targets[1::3]) == 0.0) and np.all(torch_cat(spy.targets[2::3]) == 1.0)
    spy_off = _Spy(monkeypatch)
    _train(X, y, epochs=1, batch_size=32, real_target=1.0)
    assert np.all(torch_cat(spy_off.real_targets) == 1.0)


def test_fresh_instance_noise_each_epoch(monkeypatch):
    X, y = _toy()
    spy = _Spy(monkeypatch)
    _train(X, y, epochs=2, batch_size=32, instance_noise=0.5)
    e1, e2 = spy.real_inputs  # one batch (the whole set, shuffled) per epoch
    rows = lambda e: np.sort(np.asarray(e), axis=0)  # noqa: E731  (compare as sets of rows)
    assert not np.allclose(rows(e1), rows(X)) and not np.allclose(rows(e1), rows(e2))
    noise = np.asarray(e1) - X[np.argmin(((np.asarray(e1)[:, None] - X[None]) ** 2).sum(-1), axis=1)]
    assert 0.3 < noise.std() < 0.7  # about the configured std
    spy2 = _Spy(monkeypatch)
    _train(X, y, epochs=1, batch_size=32, instance_noise=0.0)
    assert np.allclose(rows(spy2.real_inputs[0]), rows(X))


def torch_cat(ts):
    return np.concatenate([np.asarray(t).ravel() for t in ts])


def test_consistency_loss_makes_the_seed_classifier_agree(seed):
    """With the consistency loss, the real-data classifier labels generated embeddings as their label."""
    from sklearn.linear_model import LogisticRegression

    from sentisynth.backends.encoders import make_encoder

    X_real = make_encoder("all-MiniLM-L6-v2").encode([e.text for e in seed])
    clf = LogisticRegression(max_iter=2000).fit(X_real, [e.label for e in seed])

    def agreement(**params):
        X, labels = _embeddings(make_generator("gan", **{**VANILLA, "epochs": 40, **params}).fit(seed), 200)
        return float(np.mean(clf.predict(X) == np.array(labels)))

    with_cons = agreement(consistency=True, consistency_weight=5.0)
    assert with_cons >= 0.95
    assert with_cons >= agreement()


def test_early_stopping_uses_held_out_criterion_and_refits(seed):
    gen = make_generator("gan", **{**VANILLA, "early_stopping": True, "epochs": 60, "patience": 2}).fit(seed)
    es = gen.report()["early_stopping"]
    assert es["held_out"] == 2 * round(0.2 * 12)
    scores = [e["heldout_logloss"] for e in es["log"] if "heldout_logloss" in e]
    assert scores and all(np.isfinite(scores))
    assert es["best_epochs"] % 10 == 0 and es["best_epochs"] <= 60
    assert gen.report()["epochs"] == es["best_epochs"]  # the final model is refitted for the chosen length
    # the chosen length is the check with the lowest held-out log-loss
    best = min((e for e in es["log"] if "heldout_logloss" in e), key=lambda e: e["heldout_logloss"])
    assert best["epoch"] == es["best_epochs"]


def test_pretraining_on_tweets_is_cached_and_reused(seed, monkeypatch, tmp_path):
    # A cold GAN cache only: wheels, GloVe files and embeddings stay in the shared test cache.
    import sentisynth.paths

    monkeypatch.setattr(sentisynth.paths, "cache_dir", lambda: tmp_path)
    params = dict(encoder="glove-6b-50d", pretrain="tweets-binary", pretrain_epochs=2, epochs=10, early_stopping=False)
    gen = make_generator("gan", **params).fit(seed)
    pre = gen.report()["pretraining"]
    assert pre["rows"] > 15000 and pre["epochs"] == 2
    files = list((tmp_path / "gan").glob("pretrained-*.safetensors"))
    assert len(files) == 1
    a, _ = _embeddings(gen, 6)

    def boom(*a, **k):
        raise AssertionError("pretrained again instead of reusing the cache")

    monkeypatch.setattr(type(gen), "_pretrain", boom)
    b, _ = _embeddings(make_generator("gan", **params).fit(seed), 6)  # fresh object: reads the file
    assert np.array_equal(a, b)
    # the pretrained start matters: without it the same fine-tuning ends elsewhere
    c, _ = _embeddings(make_generator("gan", **{**params, "pretrain": None}).fit(seed), 6)
    assert not np.allclose(a, c)


def test_pretraining_needs_label_mapping(seed):
    intents = [e.__class__(text=e.text, label={"negative": "refund", "positive": "balance"}[e.label]) for e in seed]
    with pytest.raises(ConfigError, match="pretrain_label_map"):
        make_generator("gan", encoder="glove-6b-50d", pretrain="tweets-binary").fit(intents)


@pytest.mark.parametrize("bad", [dict(real_label=0.3), dict(instance_noise=-1), dict(epochs=0), dict(normalize="x")])
def test_bad_parameters_are_clear_errors(seed, bad):
    with pytest.raises(ConfigError, match="parameter of gan"):
        make_generator("gan", **{**FAST, **bad}).fit(seed)


def test_one_label_is_a_clear_error(seed):
    with pytest.raises(DataError, match="two labels"):
        make_generator("gan", **FAST).fit([e for e in seed if e.label == "positive"])
