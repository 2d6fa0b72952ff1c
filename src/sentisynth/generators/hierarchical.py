"""Hierarchical LLM prompting: instruction + labels → source types → topics → subtopics → examples.

Why a hierarchy: asking a model for "200 positive movie reviews" gives 200 variations of one
review. Asking first *where* such texts are written (source types), then *what about* (topics per
label, subtopics per topic), and grounding every example on one unique (instruction, label,
topic, subtopic, source type) spreads the data over the space of real texts.

Size: either ``n_record_to_generate`` (split evenly over labels) or the explicit shape
``n_source_type x n_topic x n_subtopic x sample_per_subtopic``, which is the number of records
*per label* (topics are asked per label, so every label gets its own tree; with ``shared_topics`` one tree
per source type serves every label, and each label's texts are written about the same subtopics). With a target count,
the shape is chosen to favour breadth (more subtopics, few samples each) and the combinations
are visited in an interleaved order so a truncated plan still covers every source type and topic.

Robustness: every call goes through a disk cache keyed by model, prompt, parameters and seed; a
rerun after a crash replays cached calls and produces exactly the same record stream. Outputs
are constrained to a JSON schema when the backend supports it and parsed defensively otherwise;
a failed parse is retried with a new seed and its raw text kept in ``failures_`` with the reason.
Topic and subtopic lists are deduplicated, examples are deduplicated across the whole run, and
every record carries its label and grounding, so there are no unlabeled or duplicate rows.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import re
import string
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import ConfigError, ResourceError
from ..records import Example, LabelSet, SyntheticExample
from .base import Generator, register_generator

STAGES = ("source_types", "topics", "subtopics", "examples")
#: Templates of the tree stages when ``shared_topics`` is on (one topic list per source type for every label).
SHARED_TEMPLATES = {"topics": "topics_shared", "subtopics": "subtopics_shared"}
#: With grounding, the longest topic accepted from the stage that is shown real texts (the prompt asks
#: for 1 to 6 words; a longer one is usually a seed sentence the model copied).
TREE_MAX_WORDS = {"topics": 9}
#: An example sharing this many consecutive words with its own prompt's instructions repeats them
#: (:meth:`HierarchicalGenerator._echoes_prompt`); five keep common four-word phrases ("one of the best") usable.
ECHO_WORDS = 5
PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts" / "hierarchical"


class GenerationError(ResourceError):
    """The model could not produce usable output after all retries."""


def items_schema(n: int) -> dict[str, Any]:
    """JSON schema for ``{"items": [n strings]}`` (an object: llama.cpp's json mode needs one)."""
    return {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"type": "string", "minLength": 2}, "minItems": n, "maxItems": n}},
        "required": ["items"],
    }


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\(\d+\))\s*")


def parse_items(text: str) -> tuple[list[str], str | None]:
    """Strings from a model answer, and the reason when it was not the requested JSON.

    Accepts ``{"items": [...]}``, any object with one list of strings, a bare list, JSON inside a
    code fence or surrounded by chatter, and as a last resort a bulleted/numbered list of lines.
    """
    cleaned = _FENCE.sub("", text.strip())
    for candidate in (cleaned, *_json_spans(cleaned)):
        try:
            obj = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        items = _items_from(obj)
        if items is not None:
            return items, None if candidate is cleaned else "json embedded in other text"
        return [], f"json without a list of strings: {type(obj).__name__}"
    lines = [_BULLET.sub("", ln).strip().strip('"').strip() for ln in cleaned.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(("{", "}", "[", "]"))]
    return lines, "not json; read as a list of lines" if lines else "empty or unparseable output"


def _json_spans(text: str) -> list[str]:
    spans = []
    for open_, close in (("{", "}"), ("[", "]")):
        i, j = text.find(open_), text.rfind(close)
        if 0 <= i < j:
            spans.append(text[i : j + 1])
    return spans


def _items_from(obj: Any) -> list[str] | None:
    if isinstance(obj, list):
        return [str(x).strip() for x in obj if isinstance(x, (str, int, float)) and str(x).strip()]
    if isinstance(obj, dict):
        if isinstance(obj.get("items"), list):
            return _items_from(obj["items"])
        lists = [v for v in obj.values() if isinstance(v, list)]
        if len(lists) == 1:
            return _items_from(lists[0])
    return None


def normalize(text: str) -> str:
    """Key for deduplication: case, punctuation and spacing do not make a text new."""
    return " ".join(text.lower().translate(str.maketrans("", "", string.punctuation)).split())


def word_grams(text: str, n: int) -> set[tuple[str, ...]]:
    """The runs of ``n`` consecutive words of ``text`` after :func:`normalize`."""
    words = normalize(text).split()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def stable_seed(*parts: Any) -> int:
    """A 31-bit seed from any parts, identical across processes and machines."""
    return int.from_bytes(hashlib.sha256(json.dumps(parts, default=str).encode()).digest()[:4], "big") & 0x7FFFFFFF


def plan_shape(per_label: int, n_source_type=None, n_topic=None, n_subtopic=None, sample_per_subtopic=None,
               max_sample_per_subtopic: int | None = None) -> tuple[int, int, int, int]:
    """(sources, topics, subtopics, samples) whose product is at least ``per_label``.

    Unset dimensions grow breadth first: up to 3 source types, 5 topics, 2 subtopics, then more
    samples per subtopic. Why these caps: every call re-reads a ~200-token prompt and one example
    is ~30 tokens, so one sample per call spends most of the time on prompts; on SST-2 dev, 5
    samples per subtopic scored the same as 1 (README, prompt variants) at about a third of the
    time per record, while topics (what the label depends on) moved accuracy.

    ``max_sample_per_subtopic`` caps the samples: past 3 x 5 x 2 x cap records per label, unset topic
    and subtopic counts grow together (about two topics per subtopic) until the tree has enough
    combinations. Why: a fixed 30-combination tree asked for 640 records per label writes ~21 texts
    per subtopic, and on SST-2 the accuracy-vs-records curve of such a pool fell past 320 records,
    synthetic-only too (docs/studies/grounding.md): the later texts of one long answer are
    near-paraphrases of the first. ``None`` (the default) keeps the fixed tree: measured, a cap of 5
    did not hold that curve up (the deeper tree items a 0.5B model fills are worse), and a cap of 2
    at 160 records scored within the spread of pools made with other generation seeds.
    """
    s = n_source_type or min(3, per_label)
    t = n_topic or min(5, math.ceil(per_label / s))
    u = n_subtopic or min(2, math.ceil(per_label / (s * t)))
    if max_sample_per_subtopic is not None and not sample_per_subtopic:
        if not isinstance(max_sample_per_subtopic, int) or isinstance(max_sample_per_subtopic, bool) or max_sample_per_subtopic < 1:
            raise ConfigError(f"The 'max_sample_per_subtopic' parameter of HierarchicalGenerator must be an int >= 1 or null; "
                              f"got {max_sample_per_subtopic!r} instead; fix: e.g. 5, or null for the fixed 3 x 5 x 2 tree.")
        need = math.ceil(per_label / max_sample_per_subtopic)  # combinations the cap asks for
        if s * t * u < need and not n_topic:  # t ≈ 2u when both are free, else the free one carries it
            t = max(t, math.ceil(math.sqrt(2 * need / s)) if not n_subtopic else math.ceil(need / (s * u)))
        if s * t * u < need and not n_subtopic:
            u = max(u, math.ceil(need / (s * t)))
    k = sample_per_subtopic or max(1, math.ceil(per_label / (s * t * u)))
    if s * t * u * k < per_label:
        raise ConfigError(
            f"The shape n_source_type x n_topic x n_subtopic x sample_per_subtopic = {s}x{t}x{u}x{k} = {s * t * u * k} "
            f"records per label is smaller than the {per_label} requested per label; fix: raise one of them."
        )
    return s, t, u, k


@register_generator("hierarchical")
class HierarchicalGenerator(Generator):
    """Hierarchical prompting through any backend (llama.cpp, OpenAI-compatible HTTP, transformers).

    ``batch_size`` is the number of requests handed to the backend in one ``chat_many`` call. Each
    call ends with the backend's slots idling while its longest answers finish, so bigger calls
    waste less; answers are cached (and counted on the progress bar) one by one as they end, so a
    big call loses no finished work to a crash. 64 keeps a 200-record run's examples in one call.
    """

    produces = "text"
    needs_instruction = True
    #: Grounded in the user's examples (style profile, topics from their texts, two style examples per
    #: call): on tweets, which nothing was tuned on, +2.0 macro-F1 where the zero-shot pool gave -0.6
    #: (docs/studies/grounding.md). The style examples stay: the profile alone tied on SST-2 dev but lost
    #: 2.4 points on TREC dev with EmbeddingGemma; their cost (the 0.5B model copies what it is shown) is
    #: bounded by asking a copying job again without them. Safe in the main job because it grounds in a
    #: part of the examples that its cross-validation never holds out (shown the held-out folds, an
    #: earlier default's CV said +13.0 where rt-snippets' test split said +5.0).
    main_job_defaults = {"grounding": True, "style_examples": 2}

    @property
    def seed_use(self) -> str:  # type: ignore[override]
        """``"grounds"`` when the prompts show or profile seed texts (grounding, style examples), else ``"none"``."""
        return "grounds" if self.grounding or self.style_examples else "none"

    def __init__(
        self,
        instruction: str = "Classify the sentiment of movie reviews.",
        labels: Sequence[str] | None = None,
        label_descriptions: dict[str, str] | None = None,
        model: str = "qwen2.5-0.5b-instruct",
        backend: Any = "llamacpp",
        backend_params: dict[str, Any] | None = None,
        n_record_to_generate: int | None = None,
        n_source_type: int | None = None,
        n_topic: int | None = None,
        n_subtopic: int | None = None,
        sample_per_subtopic: int | None = None,
        max_sample_per_subtopic: int | None = None,
        shared_topics: bool = False,
        temperature: float = 0.9,
        top_p: float = 0.95,
        max_tokens: int = 600,
        style_examples: int = 2,
        grounding: bool = False,
        grounding_examples: int = 8,
        block_copies: bool = True,
        batch_size: int = 64,
        max_attempts: int = 4,
        prompts_dir: str | None = None,
        cache_path: str | None = None,
        progress: bool = False,
        random_state: int = 0,
    ):
        self.instruction = instruction
        self.labels = labels
        self.label_descriptions = label_descriptions
        self.model = model
        self.backend = backend
        self.backend_params = backend_params
        self.n_record_to_generate = n_record_to_generate
        self.n_source_type = n_source_type
        self.n_topic = n_topic
        self.n_subtopic = n_subtopic
        self.sample_per_subtopic = sample_per_subtopic
        self.max_sample_per_subtopic = max_sample_per_subtopic
        self.shared_topics = shared_topics
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self.style_examples = style_examples
        self.grounding = grounding
        self.grounding_examples = grounding_examples
        self.block_copies = block_copies
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.prompts_dir = prompts_dir
        self.cache_path = cache_path
        self.progress = progress
        self.random_state = random_state

    # ------------------------------------------------------------------------------ setup

    def get_params(self) -> dict[str, Any]:
        """Parameters for manifests and config hashes, with API keys in backend_params scrubbed."""
        from ..store import scrub_secrets

        params = super().get_params()
        if not isinstance(self.backend, str):
            params["backend"] = {"name": self.backend.name, **self.backend.get_params()}
        return scrub_secrets(params)

    def _explicit_shape(self) -> bool:
        return all(x is not None for x in (self.n_source_type, self.n_topic, self.n_subtopic, self.sample_per_subtopic))

    def shape_records_per_label(self) -> int | None:
        """Records per label fixed by the explicit shape (their product), or ``None`` without one."""
        if not self._explicit_shape():
            return None
        return self.n_source_type * self.n_topic * self.n_subtopic * self.sample_per_subtopic

    def fit(self, seed_examples: Sequence[Example] = ()) -> "HierarchicalGenerator":
        """Resolve labels, open the (cached) backend, and build the topic tree when the size is known."""
        self.fit_prompts(seed_examples)
        self.backend_ = self._open_backend()
        self.stats_ = {s: {"calls": 0, "cache_hits": 0, "prompt_tokens": 0, "completion_tokens": 0, "retries": 0,
                           "retry_causes": {}, "parse_failures": 0, "repairs": 0, "seconds": 0.0} for s in STAGES}
        self.failures_: list[dict[str, Any]] = []
        self.tree_: dict[str, Any] = {}
        if self.n_record_to_generate is not None or self._explicit_shape():
            self._ensure_tree(self._per_label_target(self.n_record_to_generate))
        return self

    def fit_prompts(self, seed_examples: Sequence[Example] = ()) -> "HierarchicalGenerator":
        """The part of :meth:`fit` that needs no model: labels, templates, the seed set's profile and the
        texts the checks compare answers with (so a script can apply those checks to an earlier pool)."""
        if not self.instruction or not str(self.instruction).strip():
            raise ConfigError("The 'instruction' parameter of HierarchicalGenerator must be a non-empty task description; got an empty one.")
        names = list(self.labels) if self.labels else list(LabelSet.from_labels(e.label for e in seed_examples).names)
        if len(names) < 2 or len(set(names)) != len(names):
            raise ConfigError(
                f"The 'labels' parameter of HierarchicalGenerator must name at least two distinct labels "
                f"(or seed examples must have them); got {names!r} instead."
            )
        self.templates_ = self._load_templates()
        self.seeds_by_label_ = {lab: [e.text for e in seed_examples if e.label == lab and e.text] for lab in names}
        self.profile_ = self._profile(seed_examples)
        #: the examples stage's grounding (its last instruction); empty without grounding
        self.style_card_ = self.profile_.describe() + "\n" if self.profile_ is not None else ""
        self.seed_keys_ = sorted({f" {k} " for k in (normalize(e.text) for e in seed_examples if e.text) if len(k.split()) >= 3})
        self.labels_ = names
        self.echo_grams_ = word_grams(" ".join(self.prompt_phrases()), ECHO_WORDS)
        return self

    def _profile(self, seed_examples: Sequence[Example]) -> Any:
        """The seed set's style profile when ``grounding`` is on (``None`` otherwise, or without texts)."""
        if not self.grounding:
            return None
        if not isinstance(self.grounding_examples, int) or isinstance(self.grounding_examples, bool) or self.grounding_examples < 0:
            raise ConfigError(f"The 'grounding_examples' parameter of HierarchicalGenerator must be an int >= 0; "
                              f"got {self.grounding_examples!r} instead.")
        from .grounding import profile_texts

        profile = profile_texts([e.text for e in seed_examples if e.text])
        return profile if profile.n_texts else None

    def _topic_examples(self, key: str, label: str | None) -> str:
        """The topic stage's grounding: a sample of the label's real texts (topics drawn from the seed
        set; of every label's, interleaved, for a shared topic list: ``label=None``); empty without
        grounding, so the prompt is then exactly the zero-shot one (same cache key).

        The source-type stage stays zero-shot: shown real texts, Qwen2.5-Coder-0.5B answered with the
        texts themselves or with "website, app, publication" in most of 12 probes (docs/studies/grounding.md).
        """
        if self.profile_ is None:
            return ""
        from .grounding import sample_block

        rng = random.Random(stable_seed(self.random_state, "grounding", "topics", key))
        if label is None:  # every label's texts, as evenly as the seed set allows
            lists = [rng.sample(texts, len(texts)) for texts in self.seeds_by_label_.values()]
            mixed = [x for row in itertools.zip_longest(*lists) for x in row if x is not None]
            return sample_block(mixed[: self.grounding_examples], self.grounding_examples, rng, "Real texts of this task (a sample):")
        return sample_block(self.seeds_by_label_.get(label, []), self.grounding_examples, rng,
                            f'Real texts with the label "{label}" (a sample):')

    def _answer_budget(self, stage: str, n: int) -> int:
        """``max_tokens`` of one request. With grounding, an examples-stage answer gets what ``n`` texts of
        the profile's longest usual length need (2.5 tokens a word, generously, plus JSON) instead of
        ``max_tokens``: answers that run on (a small model repeating itself until the limit, unparseable
        once cut) were most of the grounded runs' time — 19 of 52 calls and 11k of 13k tokens in one
        run. Zero-shot requests keep ``max_tokens``, so their cache keys and records are unchanged."""
        if self.profile_ is None or stage != "examples":
            return self.max_tokens
        per_text = int(2.5 * self.profile_.words_high) + 20
        return min(self.max_tokens, 30 + n * per_text)

    def prompt_phrases(self) -> list[str]:
        """The examples prompt's own words that no example should repeat: its fixed instructions (the
        template with every per-request field left empty), the style profile and the task. They say
        nothing about a label, so a text that repeats them carries a label at random. A label's
        description is left out: a record that repeats it ("The question asks for a location: a city,
        country…" as LOC) carries its own label, and dropping those cost MiniLM 1.3 points on TREC test
        (docs/studies/grounding.md). Needs only :meth:`fit_prompts` (no model), so a script can check an
        earlier pool with the same rule (``scripts/drop_prompt_echoes.py``)."""
        empty = {name: "" for name in ("source_type", "label", "label_description_line", "topic", "subtopic",
                                       "style_examples", "style_card", "n", "label_list", "label_examples")}
        return [self.templates_["examples"].safe_substitute(instruction=self.instruction, **empty),
                self.style_card_, self.instruction]

    def _echoes_prompt(self, stage: str, key: str) -> bool:
        """An example that repeats :data:`ECHO_WORDS` consecutive words of its prompt's instructions
        (:meth:`prompt_phrases`): a small model sometimes answers with them instead of a text
        (Qwen2.5-Coder-0.5B: a *positive* "They are 2 to 16 words long (typically about 6). Some of them
        use exclamation marks." in SST-2 pools, "5 to 15 words long questions" as NUM in TREC's). Such a
        record is no text of the task and its label is random. Dropped and asked again (``prompt_echoes``
        in the generator report); topics and subtopics are not checked (an example may repeat its
        subtopic's words, which is what it was asked for)."""
        return stage == "examples" and bool(self.echo_grams_ & word_grams(key, ECHO_WORDS))

    def _copies_seed(self, stage: str, item: str, key: str) -> bool:
        """With grounding, a small model shown real texts sometimes answers with them: a "source type"
        or "topic" that is a whole seed sentence, an "example" that repeats one. Such items are dropped
        (and asked for again): tree items longer than :data:`TREE_MAX_WORDS`, and any item that
        contains a seed text of three words or more. Without grounding nothing is dropped here, so
        zero-shot runs are unchanged."""
        if self.profile_ is None:
            return False
        if stage in TREE_MAX_WORDS and len(item.split()) > TREE_MAX_WORDS[stage]:
            return True
        padded = f" {key} "
        return any(seed in padded for seed in self.seed_keys_)

    def _load_templates(self) -> dict[str, string.Template]:
        folder = Path(self.prompts_dir) if self.prompts_dir else PROMPTS_DIR
        out = {}
        for name in ("system", *STAGES, *SHARED_TEMPLATES.values()):
            path = folder / f"{name}.txt"
            if not path.exists():
                path = PROMPTS_DIR / f"{name}.txt"  # a user's folder may override only some prompts
            out[name] = string.Template(path.read_text(encoding="utf-8"))
        return out

    def _open_backend(self):
        from ..backends.call_cache import cached_backend

        return cached_backend(self.backend, self.model, self.backend_params, self.cache_path)

    def _per_label_target(self, n: int | None) -> int:
        if self._explicit_shape():
            return self.shape_records_per_label()
        if n is None:
            raise ConfigError("HierarchicalGenerator needs n_record_to_generate, the explicit shape, or generate(n).")
        return max(1, math.ceil(n / len(self.labels_)))

    # ------------------------------------------------------------------------------ model calls

    def _description_line(self, label: str) -> str:
        desc = (self.label_descriptions or {}).get(label)
        return f" ({desc})" if desc else ""

    def _render(self, stage: str, template: str | None = None, **fields: Any) -> list[dict[str, str]]:
        """System and user messages of one request; ``template`` names another template of the stage
        (the shared-topics tree's)."""
        labels = "\n".join(f"- {lab}{self._description_line(lab)}" for lab in self.labels_)
        system = self.templates_["system"].safe_substitute(instruction=self.instruction)
        user = self.templates_[template or stage].safe_substitute(label_list=labels, instruction=self.instruction, **fields)
        return [{"role": "system", "content": system.strip()}, {"role": "user", "content": user.strip()}]

    def _ask(self, stage: str, jobs: list[dict[str, Any]], exclude: set[str] | None = None,
             allow_short: bool = False) -> list[list[str]]:
        """For each job (``n`` plus template fields) a list of ``n`` new, distinct items.

        Jobs are sent in batches; a job whose answer is short (failed parse, duplicates) is asked
        again with a new seed, up to ``max_attempts``; ``exclude`` holds normalised items already
        used elsewhere (examples are unique across the run). Still short after that: an error, or
        with ``allow_short`` the short lists (the caller tops them up elsewhere).
        """
        from ..backends.base import ChatRequest

        stats = self.stats_[stage]
        t0 = time.perf_counter()
        advance, add_total = self._stage_progress(stage, len(jobs))
        results: list[list[str]] = [[] for _ in jobs]
        seen_global = exclude if exclude is not None else set()
        seen_local: list[set[str]] = [set() for _ in jobs]
        # A job whose answer copied a real text is asked again without its style examples: shown the
        # same two texts, a small model copies them again and again (132 of 177 requests of one main-job
        # run were such re-asks); the first ask of every job is unchanged.
        copied = [False] * len(jobs)
        for attempt in range(self.max_attempts):
            pending = [i for i, job in enumerate(jobs) if len(results[i]) < job["n"]]
            if not pending:
                break
            if attempt:
                add_total(len(pending))  # the bar counts answers, and these are asked again
            for start in range(0, len(pending), self.batch_size):
                chunk = pending[start : start + self.batch_size]
                requests = []
                for i in chunk:
                    job = jobs[i]
                    need = job["n"] - len(results[i])
                    fields = {k: v for k, v in job.items() if k not in ("n", "key")}
                    if copied[i] and fields.get("style_examples"):
                        fields["style_examples"] = ""
                    requests.append(ChatRequest(
                        messages=self._render(stage, n=need, **fields),
                        schema=items_schema(need),
                        temperature=self.temperature,
                        top_p=self.top_p,
                        max_tokens=self._answer_budget(stage, need),
                        seed=stable_seed(self.random_state, stage, job["key"], attempt),
                        avoid=self._shown(fields),
                    ))
                seen = []  # answers the bar has counted; cached ones (and old-style backends) come at the end
                completions = self.backend_.chat_many(requests, on_answer=lambda i, c: (seen.append(i), advance(1)))
                advance(len(requests) - len(seen))
                for i, req, comp in zip(chunk, requests, completions):
                    stats["calls"] += 0 if comp.cached else 1
                    stats["cache_hits"] += 1 if comp.cached else 0
                    stats["prompt_tokens"] += comp.prompt_tokens
                    stats["completion_tokens"] += comp.completion_tokens
                    if not comp.cached:  # a cached answer's retries were counted by the run that made it
                        stats["retries"] += comp.retries
                        for cause, k in comp.extra.get("retry_causes", {}).items():
                            stats["retry_causes"][cause] = stats["retry_causes"].get(cause, 0) + k
                    items, problem = parse_items(comp.text)
                    if problem:
                        stats["repairs" if items else "parse_failures"] += 1
                        self.failures_.append({"stage": stage, "job": jobs[i]["key"], "attempt": attempt, "reason": problem,
                                               "raw": comp.text[:4000], "recovered_items": len(items)})
                    for item in items:
                        key = normalize(item)
                        if len(key) < 2 or key in seen_local[i] or key in seen_global or len(results[i]) >= jobs[i]["n"]:
                            continue
                        if self._echoes_prompt(stage, key):
                            stats["prompt_echoes"] = stats.get("prompt_echoes", 0) + 1
                            continue
                        if self._copies_seed(stage, item, key):
                            stats["seed_copies"] = stats.get("seed_copies", 0) + 1
                            copied[i] = True
                            continue
                        seen_local[i].add(key)
                        if exclude is not None:
                            seen_global.add(key)
                        results[i].append(item.strip())
        stats["seconds"] += time.perf_counter() - t0
        short = [(jobs[i]["key"], len(r), jobs[i]["n"]) for i, r in enumerate(results) if len(r) < jobs[i]["n"]]
        if short and not allow_short:
            key, got, want = short[0]
            raise GenerationError(
                f"stage {stage!r}: {len(short)} request(s) still short after {self.max_attempts} attempts "
                f"(e.g. {key}: {got} of {want} distinct items); expected {want}; fix: use a stronger model, "
                f"raise max_attempts, or ask for fewer items; the raw outputs are in failed_parses.jsonl of the run directory."
            )
        return results

    def _shown(self, fields: dict[str, Any]) -> list[str] | None:
        """The real texts a request's prompt quotes (style examples, the topic stage's sample), for
        ``ChatRequest.avoid``: a backend that can (llama.cpp) never writes four consecutive tokens of
        them, so the small model cannot spend an answer copying what it was shown — the copies the
        checks after the answer (:meth:`_copies_seed`) drop were 56 of 111 examples-stage requests
        and 41 topics of one main-job run. None without such texts (the request's cache key is then
        unchanged, as it is with ``block_copies`` off)."""
        if not self.block_copies:
            return None
        from .grounding import shown_texts

        texts = [t for name in ("style_examples", "label_examples") for t in shown_texts(fields.get(name) or "")]
        return texts or None

    def _stage_progress(self, stage: str, total: int):
        """Progress per stage when ``progress`` is on (bars in a terminal, periodic lines in a log),
        counting answers as each one arrives (a call of ``batch_size`` requests takes minutes on a
        CPU); returns ``advance(k)`` and ``add_total(k)`` (for requests asked again)."""
        if getattr(self, "progress_", None) is None:
            from ..progress import Progress

            self.progress_ = Progress(bool(self.progress))
        return self.progress_.task(stage, total)

    def close(self) -> None:
        """Stop the progress display and release the backend."""
        if getattr(self, "progress_", None) is not None:
            self.progress_.close()
            self.progress_ = None
        if hasattr(self, "backend_"):
            self.backend_.close()

    # ------------------------------------------------------------------------------ the tree

    def _ensure_tree(self, per_label: int) -> None:
        shape = plan_shape(per_label, self.n_source_type, self.n_topic, self.n_subtopic, self.sample_per_subtopic,
                           self.max_sample_per_subtopic)
        if self.tree_.get("shape") and all(a >= b for a, b in zip(self.tree_["shape"], shape)):
            return
        s, t, u, k = shape
        sources = self._ask("source_types", [{"key": "sources", "n": s}])[0]
        if self.shared_topics:
            self.tree_ = {"shape": shape, "source_types": sources, **self._shared_tree(sources, t, u)}
            return
        topic_jobs = [{"key": f"{src}|{lab}", "n": t, "source_type": src, "label": lab,
                       "label_description_line": self._description_line(lab),
                       "label_examples": self._topic_examples(f"{src}|{lab}", lab)} for src in sources for lab in self.labels_]
        topics = dict(zip([j["key"] for j in topic_jobs], self._grounded_ask("topics", topic_jobs)))
        sub_jobs = [{"key": f"{src}|{lab}|{top}", "n": u, "source_type": src, "label": lab, "topic": top,
                     "label_description_line": self._description_line(lab)}
                    for src in sources for lab in self.labels_ for top in topics[f"{src}|{lab}"]]
        subtopics = dict(zip([j["key"] for j in sub_jobs], self._filled_subtopics(sub_jobs)))
        self.tree_ = {"shape": shape, "source_types": sources, "topics": topics, "subtopics": subtopics}

    def _shared_tree(self, sources: list[str], t: int, u: int) -> dict[str, dict[str, list[str]]]:
        """Topics and subtopics asked once per source type for every label (``shared_topics``), stored
        under every label's keys so that :meth:`combinations` gives each label the same combinations.

        Why: with a topic list per label, the texts of one label are about other things than the texts
        of another ("Disappointing plot twists" for negative, "Stunning visuals" for positive), so a
        classifier trained on them can separate the labels by topic, which does not carry over to real
        texts where every label is written about everything. Written about the same subtopic, the texts of
        different labels differ in what the label depends on — contrastive pairs, in effect. Not for
        tasks whose labels *are* topics (intents): there a shared topic contradicts every label but one.
        """
        topic_jobs = [{"key": f"{src}|*", "n": t, "source_type": src, "template": SHARED_TEMPLATES["topics"],
                       "label_examples": self._topic_examples(f"{src}|*", None)} for src in sources]
        shared = dict(zip(sources, self._grounded_ask("topics", topic_jobs)))
        sub_jobs = [{"key": f"{src}|*|{top}", "n": u, "source_type": src, "topic": top, "template": SHARED_TEMPLATES["subtopics"]}
                    for src in sources for top in shared[src]]
        subs = dict(zip([j["key"] for j in sub_jobs], self._filled_subtopics(sub_jobs)))
        topics = {f"{src}|{lab}": shared[src] for src in sources for lab in self.labels_}
        subtopics = {f"{src}|{lab}|{top}": subs[f"{src}|*|{top}"] for src in sources for lab in self.labels_ for top in shared[src]}
        return {"topics": topics, "subtopics": subtopics}

    def _filled_subtopics(self, jobs: list[dict[str, Any]]) -> list[list[str]]:
        """The subtopics of each topic; a topic the model cannot split into ``n`` distinct subtopics
        after ``max_attempts`` (one of hundreds of requests, e.g. a tweets topic "Deflategate") is
        filled with the topic itself and then its "other aspects", so one short answer deep in the tree
        does not end a run (the examples are still unique per combination). Counted in the generator
        report as ``filled_with_topic``."""
        got = self._ask("subtopics", jobs, allow_short=True)
        filled = 0
        for job, items in zip(jobs, got):
            seen = {normalize(x) for x in items}
            fillers = [job["topic"]] + [f"{job['topic']}: another aspect ({i})" for i in range(2, job["n"] + 2)]
            for filler in fillers:
                if len(items) >= job["n"]:
                    break
                key = normalize(filler)
                if key not in seen:
                    items.append(filler)
                    seen.add(key)
                    filled += 1
        if filled:
            self.stats_["subtopics"]["filled_with_topic"] = filled
        return got

    def _grounded_ask(self, stage: str, jobs: list[dict[str, Any]]) -> list[list[str]]:
        """:meth:`_ask` for a grounded tree stage: a small model shown real texts sometimes cannot name
        enough items that are not copies of them (TREC: it lists the questions); the jobs still short
        are topped up with the zero-shot prompt's items (the same request a run without grounding
        makes, so often already cached), and only then is a shortfall an error."""
        if self.profile_ is None:
            return self._ask(stage, jobs)
        got = self._ask(stage, jobs, allow_short=True)
        short = [i for i, (job, items) in enumerate(zip(jobs, got)) if len(items) < job["n"]]
        if short:
            plain = [{**jobs[i], "label_examples": ""} for i in short]
            extra = self._ask(stage, plain, allow_short=True)
            for i, items in zip(short, extra):
                seen = {normalize(x) for x in got[i]}
                got[i] = got[i] + [x for x in items if normalize(x) not in seen][: jobs[i]["n"] - len(got[i])]
            self.stats_[stage]["zero_shot_top_ups"] = sum(len(items) for items in extra)
        still = [(job["key"], len(items), job["n"]) for job, items in zip(jobs, got) if len(items) < job["n"]]
        if still:
            key, n_got, want = still[0]
            raise GenerationError(
                f"stage {stage!r}: {len(still)} request(s) still short after {self.max_attempts} attempts, grounded and "
                f"zero-shot (e.g. {key}: {n_got} of {want} distinct items); expected {want}; fix: use a stronger model, "
                f"raise max_attempts, or ask for fewer items; the raw outputs are in failed_parses.jsonl of the run directory.")
        return got

    def combinations(self, label: str) -> list[tuple[str, str, str]]:
        """(source type, topic, subtopic) for ``label``, interleaved so any prefix spreads widely."""
        tree = self.tree_
        combos = []
        s, t, u, _ = tree["shape"]
        for ui in range(u):
            for ti in range(t):
                for src in tree["source_types"]:
                    topic = tree["topics"][f"{src}|{label}"][ti]
                    combos.append((src, topic, tree["subtopics"][f"{src}|{label}|{topic}"][ui]))
        return combos

    # ------------------------------------------------------------------------------ generation

    def generate(self, n: int, labels: Sequence[str] | None = None) -> Iterator[list[SyntheticExample]]:
        """Yield balanced batches of exactly ``n`` records (``n`` may not exceed the explicit shape)."""
        quota = self._quota(n, labels)
        per_label = max(quota.values()) if quota else 0
        if self._explicit_shape() and per_label > self._per_label_target(None):
            raise ConfigError(
                f"generate({n}) asks for {per_label} records per label but the explicit shape gives "
                f"{self._per_label_target(None)}; fix: raise the shape or ask for fewer records."
            )
        if per_label:
            self._ensure_tree(per_label if not self._explicit_shape() else self._per_label_target(None))
        return self._stream(quota)

    def _stream(self, quota: dict[str, int]) -> Iterator[list[SyntheticExample]]:
        k = self.tree_["shape"][3] if self.tree_ else 1
        plans: dict[str, list[tuple[tuple[str, str, str], int]]] = {}
        for lab, want in quota.items():
            combos = self.combinations(lab) if want else []
            plan = []
            for combo in combos:
                if want <= 0:
                    break
                plan.append((combo, min(k, want)))
                want -= min(k, want)
            plans[lab] = plan
        used: set[str] = set()
        slots: Counter[tuple[str, str, str, str]] = Counter()
        rng = random.Random(self.random_state)
        waves = max((len(p) for p in plans.values()), default=0)
        per_wave = max(1, self.batch_size // max(1, len(plans)))
        for start in range(0, waves, per_wave):
            jobs = []
            for w in range(start, min(start + per_wave, waves)):
                for lab, plan in plans.items():
                    if w < len(plan):
                        (src, topic, sub), count = plan[w]
                        jobs.append(self._example_job(src, lab, topic, sub, count, style=self._style_block(lab, rng)))
            texts = self._ask("examples", jobs, exclude=used, allow_short=True)
            jobs, texts = self._top_up(jobs, texts, plans, used)
            batch = []
            for job, items in zip(jobs, texts):
                combo = (job["source_type"], job["label"], job["topic"], job["subtopic"])
                for text in items:
                    slot = slots[combo]  # top-ups continue a combination's slots: (combination, slot) stays unique
                    slots[combo] += 1
                    batch.append(SyntheticExample(
                        text=text, label=job["label"], generator="hierarchical",
                        meta={"instruction": self.instruction, "source_type": job["source_type"], "topic": job["topic"],
                              "subtopic": job["subtopic"], "slot": slot, "model": self.model,
                              "id": stable_seed(self.instruction, job["key"], slot)},
                    ))
            yield batch

    def _example_job(self, src: str, lab: str, topic: str, sub: str, n: int, style: str = "", suffix: str = "") -> dict[str, Any]:
        """One examples-stage request: ``n`` texts for (label, source type, topic, subtopic); ``suffix``
        gives a top-up its own cache key and seeds."""
        return {"key": f"{src}|{lab}|{topic}|{sub}{suffix}", "n": n, "source_type": src, "label": lab, "topic": topic,
                "subtopic": sub, "label_description_line": self._description_line(lab), "style_examples": style,
                "style_card": self.style_card_}

    def _top_up(self, jobs: list[dict[str, Any]], texts: list[list[str]], plans: dict[str, list],
                used: set[str]) -> tuple[list[dict[str, Any]], list[list[str]]]:
        """Make up for jobs still short after ``max_attempts`` (a small model that cannot find four
        distinct sentences for one subtopic) with more examples from other combinations of the same
        label — those of this wave that delivered in full first, then the rest of the plan — each
        still grounded on its own (label, source type, topic, subtopic), so the run ends with exactly
        the requested records instead of failing."""
        missing: dict[str, int] = {}
        for job, items in zip(jobs, texts):
            if len(items) < job["n"]:
                missing[job["label"]] = missing.get(job["label"], 0) + job["n"] - len(items)
        donors: dict[str, list[tuple[str, str, str]]] = {}
        for lab in missing:
            full = [(j["source_type"], j["topic"], j["subtopic"]) for j, items in zip(jobs, texts)
                    if j["label"] == lab and len(items) >= j["n"]]
            donors[lab] = list(dict.fromkeys(full + [combo for combo, _ in plans[lab]]))
        for round_ in range(self.max_attempts):
            if not any(missing.values()):
                break
            extra = []
            for lab, m in missing.items():
                pool = donors[lab]
                picks = pool[: min(m, len(pool))] if m else []
                for i, (src, topic, sub) in enumerate(picks):
                    share = m // len(picks) + (1 if i < m % len(picks) else 0)
                    extra.append(self._example_job(src, lab, topic, sub, share, suffix=f"|top-up{round_}"))
            got = self._ask("examples", extra, exclude=used, allow_short=True)
            for job, items in zip(extra, got):
                missing[job["label"]] -= len(items)
                if len(items) < job["n"]:  # out of ideas here too: ask the others next round
                    combo = (job["source_type"], job["topic"], job["subtopic"])
                    if len(donors[job["label"]]) > 1:
                        donors[job["label"]].remove(combo)
            jobs, texts = jobs + extra, texts + got
            self.stats_["examples"]["top_ups"] = self.stats_["examples"].get("top_ups", 0) + sum(map(len, got))
        if any(missing.values()):
            lab = next(lab for lab, m in missing.items() if m)
            raise GenerationError(
                f"stage 'examples': label {lab!r} is still {missing[lab]} record(s) short after topping up from other "
                f"subtopics; expected exactly the requested count; fix: use a stronger model, raise max_attempts, "
                f"or ask for fewer records; the raw outputs are in failed_parses.jsonl of the run directory."
            )
        return jobs, texts

    def _style_block(self, label: str, rng: random.Random) -> str:
        pool = self.seeds_by_label_.get(label) or []
        if not pool or self.style_examples <= 0:
            return ""
        shown = rng.sample(pool, min(self.style_examples, len(pool)))
        lines = "\n".join(f"- {json.dumps(t, ensure_ascii=False)}" for t in shown)
        return f"Real texts with this label, for tone only (do not copy them or their topics):\n{lines}\n"

    def report(self) -> dict[str, Any]:
        """Per-stage calls, cache hits, tokens, retries, parse failures and time (for the manifest)."""
        return {"stages": self.stats_, "tree": {"shape": self.tree_.get("shape"), "source_types": self.tree_.get("source_types")},
                "failures": len(self.failures_)}
