"""The file generator: seeded per-label draws from a pool generated earlier."""

import json

import pytest

from sentisynth.errors import DataError
from sentisynth.generators.base import make_generator
from sentisynth.records import Example


def _pool(tmp_path, n_per_label=10):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "synthetic.jsonl"
    with open(path, "w") as fh:
        for lab in ("negative", "positive"):
            for i in range(n_per_label):
                fh.write(json.dumps({"text": f"{lab} text {i}", "label": lab, "meta": {}, "generator": "hierarchical"}) + "\n")
    return tmp_path


SEEDS = [Example(text="a", label="negative"), Example(text="b", label="positive")]


def _draw(path, seed, n):
    gen = make_generator("file", path=str(path), random_state=seed).fit(SEEDS)
    return [r for batch in gen.generate(n) for r in batch]


def test_balanced_seeded_draws(tmp_path):
    pool = _pool(tmp_path)
    a = _draw(pool, 0, 8)
    assert len(a) == 8 and sum(r.label == "negative" for r in a) == 4
    assert [r.label for r in a[:2]] == ["negative", "positive"]  # interleaved: prefixes stay balanced
    assert [r.text for r in a] == [r.text for r in _draw(pool, 0, 8)]
    assert {r.text for r in a} != {r.text for r in _draw(pool, 1, 8)}
    assert all(r.generator == "hierarchical" for r in a)


def test_pool_too_small_or_missing(tmp_path):
    with pytest.raises(DataError, match="10 records of label 'negative'; expected at least 11"):
        _draw(_pool(tmp_path), 0, 22)
    with pytest.raises(DataError, match="no synthetic records found"):
        _draw(tmp_path / "nope", 0, 2)


def test_several_pools_are_drawn_as_one(tmp_path):
    a, b = _pool(tmp_path / "a"), _pool(tmp_path / "b", n_per_label=5)
    gen = make_generator("file", path=[str(a), str(b / "synthetic.jsonl")], random_state=0).fit(SEEDS)
    assert {lab: len(v) for lab, v in gen.pool_.items()} == {"negative": 15, "positive": 15}
    assert len([r for batch in gen.generate(30) for r in batch]) == 30
    with pytest.raises(DataError, match="no synthetic records found"):
        make_generator("file", path=[str(a), str(tmp_path / "nope")]).fit(SEEDS)
