"""Diversity metrics of a set of texts: distinct-n and self-BLEU.

distinct-n (Li et al., 2016) is the share of n-grams that are unique across the whole set: low
values mean the generator repeats itself ("The acting in this film was ..."). Self-BLEU (Zhu et
al., 2018) scores each text as a hypothesis against all the others as references; high values
mean texts are near paraphrases of each other. Self-BLEU is quadratic, so it is computed on a
seeded sample of at most ``max_texts`` texts.
"""

from __future__ import annotations

import random
from typing import Sequence


def _tokens(text: str) -> list[str]:
    return text.lower().split()


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique n-grams / all n-grams over the set (0 when there are no n-grams)."""
    grams = [tuple(t[i : i + n]) for t in map(_tokens, texts) for i in range(len(t) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def self_bleu(texts: Sequence[str], max_texts: int = 300, random_state: int = 0) -> float:
    """Mean BLEU-4 (smoothed) of each text against the others; 0 for fewer than two texts."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    texts = list(texts)
    if len(texts) > max_texts:
        texts = random.Random(random_state).sample(texts, max_texts)
    toks = [_tokens(t) for t in texts]
    if len(toks) < 2:
        return 0.0
    smooth = SmoothingFunction().method1
    scores = [sentence_bleu(toks[:i] + toks[i + 1 :], hyp, smoothing_function=smooth) for i, hyp in enumerate(toks)]
    return float(sum(scores) / len(scores))


def diversity_report(texts: Sequence[str], random_state: int = 0) -> dict[str, float]:
    """distinct-1, distinct-2, self-BLEU and mean words per text, rounded for manifests."""
    texts = [t for t in texts if t]
    words = [len(t.split()) for t in texts]
    return {
        "texts": len(texts),
        "distinct_1": round(distinct_n(texts, 1), 4),
        "distinct_2": round(distinct_n(texts, 2), 4),
        "self_bleu": round(self_bleu(texts, random_state=random_state), 4),
        "mean_words": round(sum(words) / len(words), 1) if words else 0.0,
    }
