"""EDA: Easy Data Augmentation (Wei & Zou, 2019) as the simplest text generator.

EDA is the baseline every synthetic-data method must beat: it needs no model, only WordNet, and
on small datasets it is known to help a little. Each augmented sentence is a seed sentence with
ONE of four edits applied, following the reference code (jasonwei20/eda_nlp ``code/eda.py``):

* ``sr`` synonym replacement: replace ``n`` distinct non-stop words by a WordNet synonym;
* ``ri`` random insertion: insert a WordNet synonym of a non-stop word at a random position,
  ``n`` times;
* ``rs`` random swap: swap two random words, ``n`` times;
* ``rd`` random deletion: delete each word with probability ``p_rd``;

with ``n = max(1, int(alpha * number_of_words))``. Like the reference, text is first cleaned to
lowercase letters and single spaces, so the output is lowercase and unpunctuated.

Where this implementation departs from the reference, it is for reproducibility or to follow the
paper: sets are sorted before any random choice (the reference iterates Python sets, whose order
changes with the hash seed, so its output is not reproducible across processes); random
insertion only uses synonyms of non-stop words (as the paper describes; the reference code may
insert "angstrom" for "a"); and all randomness comes from one explicit seed, never the global
``random`` state.

WordNet is read from the WordNet 3.0 database files with nltk's reader; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import tempfile
import warnings
from collections import Counter
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..errors import ConfigError, DataError, ResourceError, param_error
from ..records import Example, LabelSet, SyntheticExample
from .base import Generator, Shard, balanced_quota, plan_shards, register_generator

OPERATIONS = ("sr", "ri", "rs", "rd")
SEEDINGS = ("record", "stream")

#: The stop-word list of the reference implementation (NLTK's English list plus ""), verbatim, so
#: that synonym replacement touches the same words as in the paper's experiments.
STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom this
    that these those am is are was were be been being have has had having do does did doing a an
    the and but if or because as until while of at by for with about against between into through
    during before after above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other some such no nor not
    only own same so than too very s t can will just don should now""".split()
) | {""}

#: Tries of the operation a sentence was assigned before other operations are tried: short
#: sentences often come back unchanged (nothing deleted, two equal words swapped, no synonym).
_MAX_TRIES = 5

_NON_LETTERS = re.compile(r"[^a-z ]")
_SPACES = re.compile(r" +")


# --------------------------------------------------------------------------- text operations


def clean_text(text: str) -> str:
    """EDA's cleaning (reference ``get_only_chars``): lowercase letters and single spaces only.

    Apostrophes are dropped ("don't" -> "dont") and hyphens split words, as in the reference, so
    that tokens match WordNet lemmas and the output of every operation is comparable.
    """
    line = text.replace("'", "").replace("-", " ").lower()
    line = _NON_LETTERS.sub(" ", line)
    return _SPACES.sub(" ", line).strip()


def clean_synonym(lemma_name: str) -> str:
    """A WordNet lemma name ("motion_picture") as EDA text ("motion picture")."""
    return clean_text(lemma_name.replace("_", " "))


def synonym_replacement(words: list[str], n: int, rng: random.Random, synonyms: Callable) -> list[str]:
    """Replace up to ``n`` distinct non-stop words (every occurrence) by a random synonym."""
    candidates = sorted({w for w in words if w not in STOP_WORDS})
    rng.shuffle(candidates)
    new_words = list(words)
    replaced = 0
    for word in candidates:
        options = synonyms(word)
        if options:
            choice = rng.choice(options)
            new_words = [choice if w == word else w for w in new_words]
            replaced += 1
        if replaced >= n:
            break
    # Multi-word synonyms ("motion picture") become separate words, as in the reference.
    return " ".join(new_words).split()


def random_insertion(words: list[str], n: int, rng: random.Random, synonyms: Callable) -> list[str]:
    """Insert, ``n`` times, a synonym of a random non-stop word at a random position."""
    candidates = sorted({w for w in words if w not in STOP_WORDS and synonyms(w)})
    if not candidates:
        return list(words)
    new_words = list(words)
    for _ in range(n):
        synonym = rng.choice(synonyms(rng.choice(candidates)))
        new_words.insert(rng.randint(0, len(new_words)), synonym)
    return " ".join(new_words).split()


def random_swap(words: list[str], n: int, rng: random.Random) -> list[str]:
    """Swap two words at distinct random positions, ``n`` times."""
    new_words = list(words)
    if len(new_words) < 2:
        return new_words
    for _ in range(n):
        i, j = rng.sample(range(len(new_words)), 2)
        new_words[i], new_words[j] = new_words[j], new_words[i]
    return new_words


def random_deletion(words: list[str], p: float, rng: random.Random) -> list[str]:
    """Delete each word with probability ``p``; never return an empty sentence."""
    if len(words) <= 1:
        return list(words)
    kept = [w for w in words if rng.random() > p]
    return kept if kept else [rng.choice(words)]


def _is_int(value: object) -> bool:
    """True for ints (numpy ones too) but not bools, which are ints to Python but never meant here."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def n_changes(alpha: float, n_words: int) -> int:
    """The reference's number of edits for a sentence: ``max(1, int(alpha * n_words))``."""
    return max(1, int(alpha * n_words))


# --------------------------------------------------------------------------- WordNet loading

#: nltk's WordNet reader refuses to start without ``lexnames`` (it maps a synset's lexicographer
#: file number to a name), and Debian's ``wordnet-base`` does not ship it. These are the 45
#: lexicographer files of WordNet 3.0 in file-number order (lexnames(5WN)).
_LEXNAMES = """adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute
noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group
noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession
noun.process noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body
verb.change verb.cognition verb.communication verb.competition verb.consumption verb.contact
verb.creation verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative
verb.weather adj.ppl""".split()
_LEX_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}

_POS_SUFFIXES = ("noun", "verb", "adj", "adv")
#: Files nltk's reader opens while loading (``lexnames`` aside, which can be supplied).
_REQUIRED_FILES = tuple(f"{kind}.{pos}" for kind in ("index", "data") for pos in _POS_SUFFIXES) + tuple(
    f"{pos}.exc" for pos in _POS_SUFFIXES
)
#: Files copied along when present (sense counts, sense index) but not needed by EDA.
_OPTIONAL_FILES = ("cntlist.rev", "index.sense")

_INSTALL_HINT = (
    "install it with `apt-get install wordnet-base` (files in /usr/share/wordnet), or set "
    "SENTISYNTH_WORDNET_DIR (or wordnet_dir=...) to a directory holding the WordNet 3.0 "
    "database files (data.noun, index.noun, ...)"
)


def lexnames_text() -> str:
    """The standard WordNet 3.0 ``lexnames`` file: number, name, syntactic category."""
    return "".join(
        f"{i:02d}\t{name}\t{_LEX_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(_LEXNAMES)
    )


def _missing_files(directory: Path) -> list[str]:
    return [f for f in _REQUIRED_FILES if not (directory / f).is_file()]


def _implicit_wordnet_dirs() -> list[Path]:
    """Places searched when neither ``wordnet_dir`` nor SENTISYNTH_WORDNET_DIR is set."""
    import nltk.data

    dirs = [Path(str(p)) / "corpora" / "wordnet" for p in nltk.data.path]
    return dirs + [Path("/usr/share/wordnet")]


def resolve_wordnet_dir(wordnet_dir: str | os.PathLike | None) -> Path:
    """The directory holding the WordNet database: ``wordnet_dir``, SENTISYNTH_WORDNET_DIR, nltk_data
    ``corpora/wordnet``, then ``/usr/share/wordnet``.

    An explicitly named directory (parameter or environment) that lacks the files is an error
    rather than a reason to fall back silently: the user asked for that WordNet.
    """
    explicit = (("wordnet_dir", wordnet_dir), ("SENTISYNTH_WORDNET_DIR", os.environ.get("SENTISYNTH_WORDNET_DIR")))
    for source, value in explicit:
        if value:
            path = Path(value).expanduser()
            missing = _missing_files(path)
            if missing:
                raise ResourceError(
                    f"No WordNet database in {source} {str(path)!r} (missing {', '.join(missing[:3])}"
                    f"{', ...' if len(missing) > 3 else ''}); {_INSTALL_HINT}."
                )
            return path
    searched = _implicit_wordnet_dirs()
    for path in searched:
        if not _missing_files(path):
            return path
    raise ResourceError(
        f"WordNet database not found (searched {', '.join(str(p) for p in searched)}); {_INSTALL_HINT}."
    )


def _cache_root() -> Path:
    root = os.environ.get("SENTISYNTH_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "sentisynth"


def _is_complete_copy(source: Path, copy: Path) -> bool:
    """A cached copy is reusable if it has ``lexnames`` and every file at the source's size."""
    if not (copy / "lexnames").is_file():
        return False
    for name in _REQUIRED_FILES + _OPTIONAL_FILES:
        src = source / name
        if src.is_file() and (not (copy / name).is_file() or (copy / name).stat().st_size != src.stat().st_size):
            return False
    return True


def _build_copy(source: Path, target: Path) -> None:
    """Copy the database into ``target`` with a ``lexnames`` added, atomically.

    Real copies rather than symlinks: nltk's reader resolves links and refuses files outside its
    data path. Files are made read-only for others (0644) because nltk also refuses files that
    another account could write. The copy is built aside and renamed so a concurrent process never
    sees half a database.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=target.parent))
    try:
        for name in _REQUIRED_FILES + _OPTIONAL_FILES:
            if (source / name).is_file():
                shutil.copyfile(source / name, tmp / name)
        (tmp / "lexnames").write_text(lexnames_text(), encoding="ascii")
        for f in tmp.iterdir():
            f.chmod(0o644)
        tmp.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not _is_complete_copy(source, target):  # not a lost race with another process
            raise


def readable_wordnet_dir(directory: Path) -> Path:
    """``directory`` itself if it has ``lexnames``, else a cached copy that has one.

    The copy lives in ``$SENTISYNTH_CACHE/wordnet/<key>`` (default ``~/.cache/sentisynth``), one per
    source directory, and is rebuilt if the source files change size.
    """
    if (directory / "lexnames").is_file():
        return directory
    source = directory.resolve()
    key = hashlib.sha1(str(source).encode()).hexdigest()[:12]
    target = _cache_root() / "wordnet" / key
    if not _is_complete_copy(source, target):
        try:
            _build_copy(source, target)
        except OSError as exc:
            raise ResourceError(
                f"WordNet in {str(source)!r} lacks a 'lexnames' file and a copy with one could not be "
                f"written to {str(target)!r} ({exc.strerror or exc}); set SENTISYNTH_CACHE to a writable directory."
            ) from exc
    return target


def load_wordnet(wordnet_dir: str | os.PathLike | None = None) -> tuple[Any, Path]:
    """An nltk WordNet reader over the local database, and the directory it reads.

    Nothing is downloaded. nltk >= 3.9 only reads corpora inside its data path, so the directory is
    registered on ``nltk.data.path`` (nltk's documented way to authorise a corpus location).
    """
    try:
        import nltk.data
        from nltk.corpus.reader.wordnet import WordNetCorpusReader
    except ImportError as exc:
        raise ResourceError(
            "EDAGenerator needs nltk to read WordNet; install it with `pip install sentisynth[eda]`."
        ) from exc

    class _LocalWordNetReader(WordNetCorpusReader):
        """Reader that skips the OMW version mapping.

        The base class maps WordNet 3.0 synset ids onto the loaded version for the multilingual
        (OMW) data, which loads nltk_data's ``corpora/wordnet`` plus ``index.sense``; neither is
        here and EDA uses English only, so there is nothing to map.
        """

        def map_wn(self, version: str = "wordnet") -> None:
            return None

    directory = readable_wordnet_dir(resolve_wordnet_dir(wordnet_dir))
    if str(directory) not in [str(p) for p in nltk.data.path]:
        nltk.data.path.append(str(directory))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The multilingual functions are not available")
        try:
            reader = _LocalWordNetReader(str(directory), None)
        except (OSError, ValueError, LookupError, AssertionError) as exc:
            reason = " ".join(str(exc).split())  # nltk messages span lines; ours are one line
            raise ResourceError(
                f"Cannot read the WordNet database in {str(directory)!r}: {reason}; {_INSTALL_HINT}."
            ) from exc
    return reader, directory


# --------------------------------------------------------------------------- the generator


@register_generator("eda")
class EDAGenerator(Generator):
    """Easy Data Augmentation: each synthetic sentence is a seed sentence with one EDA edit.

    Parameters
    ----------
    alpha_sr, alpha_ri, alpha_rs : float in [0, 1]
        Fraction of a sentence's words changed by synonym replacement, random insertion and random
        swap (at least one change each). 0 disables the operation.
    p_rd : float in [0, 1]
        Probability of deleting each word in random deletion. 0 disables it.
    n_aug : int or None
        Augmentations per original sentence, as in the paper; informational only, since
        ``generate(n)`` decides the count (``n = n_aug * n_seeds`` reproduces the paper's setting).
    operations : sequence of "sr", "ri", "rs", "rd"
        Operations to use; they are cycled so each contributes equally.
    batch_size : int
        Records per yielded batch.
    random_state : int
        The one seed of all randomness: same seed and fit data give identical output.
    seeding : "record" or "stream"
        ``"record"`` (default): the i-th record of a label draws from its own generator seeded by
        (random_state, label, i), so any slice of the output can be computed on its own — in
        another process or on another machine (``--executor ray``) — and comes out the same.
        ``"stream"``: one generator per label drawn in sequence, the scheme of SentiSynth before the
        Ray executor; kept so figures made with it can be reproduced (it cannot be sharded).
    wordnet_dir : path or None
        WordNet 3.0 database directory; by default SENTISYNTH_WORDNET_DIR, nltk_data
        ``corpora/wordnet`` or ``/usr/share/wordnet``.

    ``generate`` is a pure function of the fitted generator and its arguments: calling it twice
    returns the same records, and per label a larger ``n`` extends a smaller one's records.
    """

    seed_use = "learns"  # trains on (or copies) every seed example

    produces = "text"

    def __init__(
        self,
        alpha_sr: float = 0.1,
        alpha_ri: float = 0.1,
        alpha_rs: float = 0.1,
        p_rd: float = 0.1,
        n_aug: int | None = None,
        operations: Sequence[str] = OPERATIONS,
        batch_size: int = 256,
        random_state: int = 0,
        seeding: str = "record",
        wordnet_dir: str | os.PathLike | None = None,
    ) -> None:
        self.alpha_sr = alpha_sr
        self.alpha_ri = alpha_ri
        self.alpha_rs = alpha_rs
        self.p_rd = p_rd
        self.n_aug = n_aug
        self.operations = operations
        self.batch_size = batch_size
        self.random_state = random_state
        self.seeding = seeding
        self.wordnet_dir = wordnet_dir

    @property
    def shardable(self) -> bool:
        """Per-record seeding makes every slice of the output computable on its own."""
        return self.seeding == "record"

    # ----------------------------------------------------------------------- validation

    def _strengths(self) -> dict[str, float]:
        return {"sr": self.alpha_sr, "ri": self.alpha_ri, "rs": self.alpha_rs, "rd": self.p_rd}

    def _validate_params(self) -> list[str]:
        """Check every parameter; return the active operations in cycling order."""
        owner = type(self).__name__
        names = {"sr": "alpha_sr", "ri": "alpha_ri", "rs": "alpha_rs", "rd": "p_rd"}
        for op, value in self._strengths().items():
            if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
                raise param_error(owner, names[op], "a float in [0, 1]", value)
        for name, minimum in (("batch_size", 1), ("random_state", 0)):
            value = getattr(self, name)
            if not _is_int(value) or value < minimum:
                raise param_error(owner, name, f"an int >= {minimum}", value)
        if self.n_aug is not None and (not _is_int(self.n_aug) or self.n_aug < 1):
            raise param_error(owner, "n_aug", "None or an int >= 1", self.n_aug)
        if self.seeding not in SEEDINGS:
            raise param_error(owner, "seeding", f"one of {list(SEEDINGS)}", self.seeding)
        return self._active_operations(owner)

    def _active_operations(self, owner: str) -> list[str]:
        ops = self.operations
        expected = f"a non-empty sequence of distinct names from {list(OPERATIONS)}"
        if isinstance(ops, str) or not isinstance(ops, Sequence) or not ops:
            raise param_error(owner, "operations", expected, ops)
        if any(op not in OPERATIONS for op in ops) or len(set(ops)) != len(ops):
            raise param_error(owner, "operations", expected, ops)
        active = [op for op in ops if self._strengths()[op] > 0]
        if not active:
            raise param_error(owner, "operations", "to include an operation whose alpha_*/p_rd is > 0", ops)
        return active

    # ----------------------------------------------------------------------- fit

    def fit(self, seed_examples: Sequence[Example]) -> "EDAGenerator":
        """Validate parameters, load WordNet, and index the seed sentences by label."""
        operations = self._validate_params()
        seeds_by_label = self._index_seeds(seed_examples)
        # Loading WordNet takes seconds; a refit (the experiment grid refits once per seed) keeps
        # the reader and the synonym memo, which depend only on the WordNet files, not on seeds.
        if getattr(self, "wordnet_requested_", object()) == self.wordnet_dir and hasattr(self, "wordnet_"):
            reader, directory, synonyms = self.wordnet_, self.wordnet_dir_, self._synonym_cache
        else:
            (reader, directory), synonyms = load_wordnet(self.wordnet_dir), {}
        # Assigned only once everything succeeded, so a failed refit leaves no mixed state.
        self.operations_ = operations
        self.seeds_by_label_ = seeds_by_label
        self.wordnet_, self.wordnet_dir_, self.wordnet_requested_ = reader, directory, self.wordnet_dir
        self._synonym_cache: dict[str, tuple[str, ...]] = synonyms
        self.labels_ = list(LabelSet.from_labels(seeds_by_label).names)
        self.seed_orders_ = {lab: self._shuffled(lab, seeds) for lab, seeds in seeds_by_label.items()}
        return self

    def _shuffled(self, label: str, seeds: list[tuple[int, str, tuple[str, ...]]]) -> list[tuple[int, str, tuple[str, ...]]]:
        """The order in which ``label``'s seeds are cycled (the same shuffle as the stream scheme)."""
        order = list(seeds)
        random.Random(f"eda:{self.random_state}:{label}").shuffle(order)
        return order

    def _index_seeds(self, seed_examples: Sequence[Example]) -> dict[str, list[tuple[int, str, tuple[str, ...]]]]:
        """Per label: (index in seed_examples, original text, cleaned words)."""
        owner = type(self).__name__
        if not seed_examples:
            raise DataError(f"{owner}.fit() got no seed examples; EDA needs at least one labeled sentence per label.")
        by_label: dict[str, list[tuple[int, str, tuple[str, ...]]]] = {}
        empty: Counter[str] = Counter()
        for i, ex in enumerate(seed_examples):
            if ex.text is None:
                raise DataError(
                    f"{owner} edits text, but seed example {i} (label {ex.label!r}) has only an embedding; "
                    "give seeds with text, or use a generator with produces='embedding' for embedding-only data."
                )
            words = tuple(clean_text(ex.text).split())
            by_label.setdefault(ex.label, [])
            if words:
                by_label[ex.label].append((i, ex.text, words))
            else:
                empty[ex.label] += 1
        unusable = [lab for lab, seeds in by_label.items() if not seeds]
        if unusable:
            lab = unusable[0]
            raise DataError(
                f"{owner} cannot augment label {lab!r}: none of its {empty[lab]} seed text(s) contains a "
                "word (letters a-z) after EDA's cleaning; add seed sentences with words for that label."
            )
        return by_label

    # ----------------------------------------------------------------------- generate

    def generate(self, n: int, labels: Sequence[str] | None = None) -> Iterator[list[SyntheticExample]]:
        """Yield batches of ``n`` augmented sentences in total, balanced across ``labels``."""
        if self.seeding == "record":
            return (self.generate_shard(shard) for shard in self.plan(n, labels))
        return self._batches(self._checked_n(n), self._requested_labels(labels))

    def _checked_n(self, n: Any) -> int:
        """``n`` once the generator is fitted and ``n`` is an integer >= 0 (numpy integers too)."""
        self._check_fitted()
        if not _is_int(n) or n < 0:
            raise ConfigError(f"{type(self).__name__}.generate(n) needs an int n >= 0; got {n!r}.")
        return int(n)

    def plan(self, n: int, labels: Sequence[str] | None = None, shard_size: int | None = None) -> list[Shard]:
        """The slices of ``generate(n, labels)``'s record stream, ``shard_size`` (default
        ``batch_size``) records each; the concatenated shards are the stream, however they are run."""
        n = self._checked_n(n)
        if not self.shardable:
            raise ConfigError(f"{type(self).__name__} with seeding={self.seeding!r} draws one stream per label and "
                              f"cannot be split; fix: use seeding='record'.")
        return plan_shards(n, self._requested_labels(labels), shard_size or self.batch_size)

    def generate_shard(self, shard: Shard) -> list[SyntheticExample]:
        """The records of one slice of the stream (round-robin over labels, each record seeded on its own)."""
        self._check_fitted()
        out = []
        for label, k in shard.positions():
            seeds = self.seed_orders_[label]
            p, i = divmod(k, len(seeds))
            index, text, words = seeds[i]
            op = self.operations_[(i + p) % len(self.operations_)]
            rng = random.Random(f"eda:{self.random_state}:{label}:{k}")
            out.append(self._augment_seed(label, index, text, words, op, rng))
        return out

    def _requested_labels(self, labels: Sequence[str] | None) -> list[str]:
        if labels is None:
            return list(self.labels_)
        if isinstance(labels, str):
            labels = [labels]
        unknown = [lab for lab in labels if lab not in self.seeds_by_label_]
        if unknown:
            raise ConfigError(
                f"{type(self).__name__} cannot generate label {unknown[0]!r}: it had no seed examples "
                f"in fit(); labels with seeds: {self.labels_}."
            )
        if not labels:
            raise ConfigError(f"{type(self).__name__}.generate() got an empty labels list; pass None for all labels.")
        return list(dict.fromkeys(labels))

    def _batches(self, n: int, labels: list[str]) -> Iterator[list[SyntheticExample]]:
        """Round-robin over labels so every batch (and any prefix of the stream) stays balanced."""
        quota = balanced_quota(n, labels)
        streams = {lab: self._label_stream(lab, quota[lab]) for lab in labels}
        batch: list[SyntheticExample] = []
        for i in range(max(quota.values(), default=0)):
            for lab in labels:
                if i < quota[lab]:
                    batch.append(next(streams[lab]))
                    if len(batch) == self.batch_size:
                        yield batch
                        batch = []
        if batch:
            yield batch

    def _label_stream(self, label: str, count: int) -> Iterator[SyntheticExample]:
        """``count`` augmentations of ``label``'s seeds, cycling seeds (shuffled) and operations.

        On pass ``p`` over the seeds, the seed at position ``i`` gets operation ``(i + p) mod k``:
        every pass uses the operations equally, and each seed goes through all of them in turn,
        as the reference gives every sentence each operation.
        """
        rng = random.Random(f"eda:{self.random_state}:{label}")  # str seeds hash stably (SHA-512)
        seeds = list(self.seeds_by_label_[label])
        rng.shuffle(seeds)
        ops = self.operations_
        for k in range(count):
            p, i = divmod(k, len(seeds))
            index, text, words = seeds[i]
            op = ops[(i + p) % len(ops)]
            yield self._augment_seed(label, index, text, words, op, rng)

    def _augment_seed(
        self, label: str, index: int, text: str, words: tuple[str, ...], op: str, rng: random.Random
    ) -> SyntheticExample:
        new_text, used_op = self._augment_changed(words, op, rng)
        return SyntheticExample(
            text=new_text,
            label=label,
            meta={
                "source_index": index,
                "source_text": text,
                "operation": used_op,
                "changed": new_text != " ".join(words),
            },
            generator=self.name,
        )

    def _augment_changed(self, words: tuple[str, ...], op: str, rng: random.Random) -> tuple[str, str]:
        """Apply ``op``, retrying (then other operations) when the sentence comes back unchanged."""
        original = " ".join(words)
        ops = self.operations_
        start = ops.index(op) + 1
        others = ops[start:] + ops[: start - 1]  # the next ones in the cycle, so no op is favoured
        new_text = original
        for attempt_op in [op] * _MAX_TRIES + others:
            new_text = " ".join(self.augment_words(list(words), attempt_op, rng))
            if new_text != original:
                return new_text, attempt_op
        return new_text, op

    def augment_words(self, words: list[str], op: str, rng: random.Random) -> list[str]:
        """One EDA operation on cleaned ``words`` (a fitted generator is needed for synonyms)."""
        n_words = len(words)
        if op == "sr":
            return synonym_replacement(words, n_changes(self.alpha_sr, n_words), rng, self.synonyms)
        if op == "ri":
            return random_insertion(words, n_changes(self.alpha_ri, n_words), rng, self.synonyms)
        if op == "rs":
            return random_swap(words, n_changes(self.alpha_rs, n_words), rng)
        if op == "rd":
            return random_deletion(words, self.p_rd, rng)
        raise ConfigError(f"Unknown EDA operation {op!r}; expected one of {list(OPERATIONS)}.")

    def synonyms(self, word: str) -> tuple[str, ...]:
        """Sorted WordNet synonyms of ``word`` (all senses and parts of speech), cleaned as EDA text.

        Sorted so random choices do not depend on set order; memoised per instance because the
        same few thousand words are looked up again and again.
        """
        if not hasattr(self, "_synonym_cache"):
            self._check_fitted()
        cached = self._synonym_cache.get(word)
        if cached is None:
            found = {clean_synonym(name) for syn in self.wordnet_.synsets(word) for name in syn.lemma_names()}
            found.discard(word)
            found.discard("")
            cached = self._synonym_cache[word] = tuple(sorted(found))
        return cached
