"""Grounding: what the user's own examples say about their domain, in words a prompt can carry.

Why: asked only for "Classify the sentiment of product reviews.", a small model invents the domain
(source types "Wikipedia Article", tidy news-like tweets without a single @-mention). The user's
examples are the best evidence of where their texts are written, how long they are and what each
label's texts are about. Two things go into the prompts:

- a **style profile**, computed here in plain Python (no model): the length range in words and the
  surface features a small model will not infer from a task line (@-mentions, hashtags, links,
  questions, lowercase fragments, another language or script). Aggregates only: a profile cannot
  reproduce any one sentence.
- **samples of real texts**, cleaned for a prompt (HTML tags, chat-template control tokens and
  control characters removed, long texts cut), shown to the source-type and topic stages so that
  sources and topics are drawn from the seed set instead of invented.

Bad input never crashes the profile: empty texts are skipped, HTML is read as its text, and
texts that carry nothing usable give an empty profile (the prompts are then the zero-shot ones).
"""

from __future__ import annotations

import html
import json
import random
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]{0,200}>")
# Chat-template and tokenizer control tokens of common model families: shown to a model inside a
# prompt they would end the user's turn or open a new one.
_CONTROL_TOKEN = re.compile(r"<\|[^|<>]{0,40}\|>|</?s>|\[/?INST\]|<<\/?SYS>>|<(?:start|end)_of_turn>|<\|?(?:bos|eos|pad|unk)\|?>",
                            re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w{1,30}")
_HASHTAG = re.compile(r"(?<!\w)#\w{1,50}")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_WORD = re.compile(r"\w+(?:'\w+)?", re.UNICODE)
#: Frequent English function words: their share tells English text from text in another language.
_ENGLISH = frozenset("the a an and or but of to in on at for with is are was were be been it this that i you he she we "
                     "they my your not no do does did have has had what how why when where who which as by from so".split())


def clean_for_prompt(text: str, max_chars: int = 300) -> str:
    """``text`` made safe to quote inside a prompt: HTML read as text, control tokens and control
    characters removed, whitespace collapsed, cut to ``max_chars`` at a word boundary."""
    text = html.unescape(_TAG.sub(" ", str(text)))
    text = _CONTROL_TOKEN.sub(" ", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = " ".join(text.split())
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] + " …"
    return text


@dataclass
class StyleProfile:
    """Aggregate surface statistics of a set of texts (never a text itself)."""

    n_texts: int = 0
    words_low: int = 0
    words_median: int = 0
    words_high: int = 0
    shares: dict[str, float] = field(default_factory=dict)
    language_note: str = ""

    def describe(self) -> str:
        """The profile as instructions for the examples stage; empty when there were no usable texts."""
        if not self.n_texts:
            return ""
        parts = [f"Match the real texts of this task: they are {self.words_low} to {self.words_high} words long "
                 f"(typically about {self.words_median})."]
        phrases = {
            "mention": "mention a user with @name",
            "hashtag": "contain #hashtags",
            "url": "contain a link",
            "question": "are questions",
            "exclamation": "use exclamation marks",
            "lowercase": "are written in lowercase",
            "fragment": "are fragments that start in the middle of a sentence, without a capital letter",
            "emoji": "contain emoji",
            "html": "contain HTML markup",
        }
        for key, phrase in phrases.items():
            share = self.shares.get(key, 0.0)
            if share >= 0.05:
                how = "Most of them" if share >= 0.5 else "Many of them" if share >= 0.2 else "Some of them"
                parts.append(f"{how} {phrase}.")
        if self.language_note:
            parts.append(self.language_note)
        return " ".join(parts)


def profile_texts(texts: Sequence[str]) -> StyleProfile:
    """Length percentiles (10th, 50th, 90th) and feature shares of ``texts`` (empty ones skipped)."""
    raw = [str(t) for t in texts if t is not None and str(t).strip()]
    cleaned = [clean_for_prompt(t, max_chars=10_000) for t in raw]
    pairs = [(r, c) for r, c in zip(raw, cleaned) if _WORD.search(c)]
    if not pairs:
        return StyleProfile()
    lengths = sorted(len(c.split()) for _, c in pairs)

    def pct(q: float) -> int:
        return lengths[min(len(lengths) - 1, int(q * (len(lengths) - 1) + 0.5))]

    def share(test) -> float:
        return round(sum(1 for r, c in pairs if test(r, c)) / len(pairs), 3)

    letters = [ch for _, c in pairs for ch in c if ch.isalpha()]
    non_latin = sum(1 for ch in letters if not unicodedata.name(ch, "").startswith("LATIN")) / max(1, len(letters))
    words = [w.lower() for _, c in pairs for w in _WORD.findall(c)]
    english = sum(1 for w in words if w in _ENGLISH) / max(1, len(words))
    note = ""
    if non_latin > 0.5:
        note = "They are not written in English or in Latin script: write in the same language and script as the real texts."
    elif english < 0.08 and len(words) >= 40:
        note = "They do not look like English: write in the same language as the real texts."
    return StyleProfile(
        n_texts=len(pairs), words_low=max(1, pct(0.1)), words_median=max(1, pct(0.5)), words_high=max(1, pct(0.9)),
        shares={
            "mention": share(lambda r, c: bool(_MENTION.search(c))),
            "hashtag": share(lambda r, c: bool(_HASHTAG.search(c))),
            "url": share(lambda r, c: bool(_URL.search(c))),
            "question": share(lambda r, c: c.rstrip().endswith("?")),
            "exclamation": share(lambda r, c: "!" in c),
            "lowercase": share(lambda r, c: any(ch.isalpha() for ch in c) and not any(ch.isupper() for ch in c)),
            "fragment": share(lambda r, c: c[:1].isalpha() and c[:1].islower()),
            "emoji": share(lambda r, c: any(unicodedata.category(ch) == "So" for ch in c)),
            "html": share(lambda r, c: bool(_TAG.search(r))),
        },
        language_note=note,
    )


def shown_texts(block: str) -> list[str]:
    """The real texts quoted in a prompt block written by :func:`sample_block` (or in its format:
    ``- "json string"`` lines), exactly as the model reads them: what its answer must not copy."""
    out = []
    for line in block.splitlines():
        if line.startswith('- "'):
            try:
                out.append(json.loads(line[2:]))
            except ValueError:
                continue
    return out


def sample_block(texts: Sequence[str], n: int, rng: random.Random, header: str, max_chars: int = 300) -> str:
    """Up to ``n`` of ``texts`` (drawn with ``rng``, cleaned, distinct, non-empty) as a quoted list
    under ``header``, ending in a blank line; empty when there is nothing usable to show."""
    usable = list(dict.fromkeys(c for c in (clean_for_prompt(t, max_chars) for t in texts if t) if _WORD.search(c)))
    if not usable or n <= 0:
        return ""
    shown = rng.sample(usable, min(n, len(usable)))
    lines = "\n".join(f"- {json.dumps(t, ensure_ascii=False)}" for t in shown)
    return f"{header}\n{lines}\n\n"
