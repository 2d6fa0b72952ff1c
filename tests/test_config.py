"""Experiment config validation: every mistake is a one-line ConfigError naming the file and the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from sentisynth.errors import ConfigError, SentiSynthError
from sentisynth.evaluation.config import ExperimentConfig, load_experiment_config, parse_experiment_config

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "sentisynth" / "configs" / "quick.yaml"

VALID = {
    "name": "tiny",
    "datasets": [{"name": "sst2"}],
    "k": [10, 50],
    "seeds": 10,
    "classifiers": [{"name": "minilm-lr", "type": "embedding-lr", "params": {"C": 1.0}}],
    "conditions": [
        {"name": "real", "kind": "real"},
        {"name": "eda", "kind": "augment", "generator": "eda", "ratios": [1, 4]},
        {"name": "ceiling", "kind": "ceiling"},
    ],
}


def write(tmp_path: Path, data, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def variant(**changes):
    import copy

    cfg = copy.deepcopy(VALID)
    for k, v in changes.items():
        if v is None:
            cfg.pop(k)
        else:
            cfg[k] = v
    return cfg


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as err:
        load_experiment_config(path)
    msg = str(err.value)
    assert isinstance(err.value, SentiSynthError) and err.value.exit_code == 2
    assert "\n" not in msg, f"not one line: {msg!r}"
    assert msg.startswith(f"{path}: "), f"does not start with the file: {msg!r}"
    return msg


# ----------------------------------------------------------------------------------- valid


def test_valid_config_parses(tmp_path):
    cfg = load_experiment_config(write(tmp_path, VALID))
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.name == "tiny"
    assert cfg.seeds == list(range(10))
    assert cfg.k == [10, 50]
    assert [c.name for c in cfg.conditions] == ["real", "eda", "ceiling"]
    assert cfg.conditions[1].ratios == [1.0, 4.0]
    assert cfg.conditions[0].ratios == [1.0]
    assert cfg.classifiers[0].kind == "embedding-lr"
    assert cfg.datasets[0].text_column == "text" and cfg.datasets[0].label_column == "label"
    assert cfg.output_dir is None


def test_explicit_seed_list_and_classifier_kind_default(tmp_path):
    cfg = load_experiment_config(write(tmp_path, variant(seeds=[3, 7], classifiers=[{"name": "tfidf-lr"}])))
    assert cfg.seeds == [3, 7]
    assert cfg.classifiers[0].kind == "tfidf-lr"


def test_own_files_dataset(tmp_path):
    ds = {"name": "mine", "train": "train.csv", "test": "test.csv", "text_column": "sentence",
          "labels": ["neg", "pos"], "label_descriptions": {"neg": "bad", "pos": "good"}}
    cfg = load_experiment_config(write(tmp_path, variant(datasets=[ds])))
    assert cfg.datasets[0].labels == ["neg", "pos"] and cfg.datasets[0].text_column == "sentence"


def test_shipped_quick_config_is_valid():
    cfg = load_experiment_config(SHIPPED)
    assert cfg.seeds == list(range(10))
    assert any(c.kind == "real" for c in cfg.conditions)


def test_yaml_anchors_and_merge_keys_still_work(tmp_path):
    text = textwrap.dedent(
        """\
        name: anchors
        datasets: [{name: sst2}]
        k: [5]
        seeds: 2
        classifiers: [{name: lr, type: tfidf-lr}]
        conditions:
          - {name: real, kind: real}
          - &eda {name: eda1, kind: augment, generator: eda, ratios: [1]}
          - {<<: *eda, name: eda4, ratios: [4]}
        """
    )
    cfg = load_experiment_config(write(tmp_path, text))
    assert [(c.name, c.generator, c.ratios) for c in cfg.conditions[1:]] == [("eda1", "eda", [1.0]), ("eda4", "eda", [4.0])]


# ----------------------------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    "cfg, where",
    [
        ({**VALID, "seed": 3}, "seed"),
        ({**VALID, "conditions": [{"name": "real", "kind": "real", "ratio": 2}]}, "conditions.0.ratio"),
        ({**VALID, "datasets": [{"name": "sst2", "text_col": "x"}]}, "datasets.0.text_col"),
        ({**VALID, "classifiers": [{"name": "lr", "param": {}}]}, "classifiers.0.param"),
    ],
)
def test_unknown_key_is_named(tmp_path, cfg, where):
    path = write(tmp_path, cfg)
    assert config_error(path) == f"{path}: {where}: unknown key (check spelling)."


def test_missing_required_key(tmp_path):
    path = write(tmp_path, variant(classifiers=None))
    assert config_error(path) == f"{path}: classifiers: Field required."


def test_duplicate_yaml_key_is_an_error_not_a_silent_override(tmp_path):
    text = yaml.safe_dump(VALID, sort_keys=False) + "k: [100]\n"
    msg = config_error(write(tmp_path, text))
    line = text.splitlines().index("k: [100]") + 1
    assert f"line {line}" in msg and "duplicate key 'k'" in msg and "fix: keep one of the repeated keys" in msg


# ----------------------------------------------------------------------------------- conditions


@pytest.mark.parametrize("kind", ["augment", "synthetic_only"])
def test_generated_condition_without_generator(tmp_path, kind):
    conds = [{"name": "real", "kind": "real"}, {"name": "gen", "kind": kind}]
    path = write(tmp_path, variant(conditions=conds))
    msg = config_error(path)
    assert msg == f"{path}: conditions.1: condition 'gen' of kind '{kind}' needs a 'generator'."


def test_real_condition_with_generator(tmp_path):
    path = write(tmp_path, variant(conditions=[{"name": "real", "kind": "real", "generator": "eda"}]))
    assert "condition 'real' of kind 'real' takes no 'generator'" in config_error(path)


@pytest.mark.parametrize("ratios", [[0], [1, -2], [0.0, 4]])
def test_ratios_must_be_positive(tmp_path, ratios):
    conds = [{"name": "real", "kind": "real"}, {"name": "eda", "kind": "augment", "generator": "eda", "ratios": ratios}]
    msg = config_error(write(tmp_path, variant(conditions=conds)))
    assert "conditions.1: condition 'eda': ratios must be > 0" in msg


def test_unknown_condition_kind(tmp_path):
    msg = config_error(write(tmp_path, variant(conditions=[{"name": "real", "kind": "baseline"}])))
    assert "conditions.0.kind" in msg and "'real'" in msg and "'augment'" in msg


def test_duplicate_condition_names(tmp_path):
    conds = [{"name": "real", "kind": "real"}, {"name": "eda", "kind": "augment", "generator": "eda"},
             {"name": "eda", "kind": "augment", "generator": "eda", "ratios": [4]}]
    path = write(tmp_path, variant(conditions=conds))
    assert config_error(path) == f"{path}: (top level): condition names must be unique; repeated: ['eda']."


def test_duplicate_classifier_and_dataset_names(tmp_path):
    clf = variant(classifiers=[{"name": "lr", "type": "tfidf-lr"}, {"name": "lr", "type": "tfidf-lr", "params": {"C": 2}}])
    assert "classifier names must be unique; repeated: ['lr']" in config_error(write(tmp_path, clf))
    ds = variant(datasets=[{"name": "sst2"}, {"name": "sst2"}])
    assert "dataset names must be unique; repeated: ['sst2']" in config_error(write(tmp_path, ds))


def test_no_real_condition(tmp_path):
    conds = [{"name": "eda", "kind": "augment", "generator": "eda"}, {"name": "ceiling", "kind": "ceiling"}]
    msg = config_error(write(tmp_path, variant(conditions=conds)))
    assert "conditions must include one of kind 'real'" in msg


# ----------------------------------------------------------------------------------- grid values


@pytest.mark.parametrize("k", [[], [0], [10, -5]])
def test_k_must_be_positive(tmp_path, k):
    assert "k: k must be a non-empty list of ints >= 1" in config_error(write(tmp_path, variant(k=k)))


@pytest.mark.parametrize("seeds", [0, -3, [], True])
def test_seeds_must_select_at_least_one_seed(tmp_path, seeds):
    msg = config_error(write(tmp_path, variant(seeds=seeds)))
    assert f"seeds: seeds must be a count >= 1 or a non-empty list of ints; got {seeds}" in msg


def test_seeds_of_wrong_type(tmp_path):
    assert "seeds" in config_error(write(tmp_path, variant(seeds="ten")))


@pytest.mark.parametrize("key", ["datasets", "classifiers"])
def test_empty_datasets_or_classifiers(tmp_path, key):
    assert f"{key}: List should have at least 1 item" in config_error(write(tmp_path, variant(**{key: []})))


# ----------------------------------------------------------------------------------- the file itself


def test_invalid_yaml_names_the_line(tmp_path):
    text = "name: broken\ndatasets: [{name: sst2}]\nk: [10\nseeds: 3\n"
    msg = config_error(write(tmp_path, text))
    assert "not valid YAML" in msg and "fix: check indentation and quoting" in msg
    assert "line 4" in msg


def test_bad_indentation_names_the_line(tmp_path):
    msg = config_error(write(tmp_path, "name: t\n  k: [1]\n"))
    assert "line 2: not valid YAML (mapping values are not allowed here)" in msg


def test_control_character_is_one_line_with_line_number(tmp_path):
    msg = config_error(write(tmp_path, "name: t\nk: [1]\nseeds: \x07\n"))
    assert "line 3: not valid YAML (unacceptable character #x0007" in msg


@pytest.mark.parametrize("text, got", [("- a\n- b\n", "list"), ("just a string\n", "str"), ("42\n", "int")])
def test_non_mapping_top_level(tmp_path, text, got):
    msg = config_error(write(tmp_path, text))
    assert "expected a YAML mapping" in msg and f"got a {got}" in msg and "fix:" in msg


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_empty_config(tmp_path, text):
    msg = config_error(write(tmp_path, text))
    assert "the config is empty" in msg and "expected a YAML mapping" in msg


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    assert config_error(path) == f"{path}: config file not found; fix: check the path."


def test_directory_instead_of_file(tmp_path):
    path = tmp_path / "configs"
    path.mkdir()
    assert "is a directory" in config_error(path)


def test_non_utf8_config(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    assert "not UTF-8 text" in config_error(path)


def test_parse_names_its_source():
    with pytest.raises(ConfigError) as err:
        parse_experiment_config({**VALID, "bogus": 1}, source="inline")
    assert str(err.value) == "inline: bogus: unknown key (check spelling)."


def test_every_shipped_experiment_config_parses():
    """The configs behind the README's tables stay valid as the config schema grows."""
    from pathlib import Path

    from sentisynth.evaluation.config import load_experiment_config

    root = Path(__file__).resolve().parents[1] / "experiments"
    configs = [p for p in sorted(root.rglob("*.yaml")) if not p.name.startswith("pool")]  # pool-*: generator configs; pools.yaml
    assert len(configs) > 20
    for path in configs:
        cfg = load_experiment_config(path)
        assert cfg.name == path.stem, f"{path.name}: name {cfg.name!r} should match the file (runs/<name>/)"


# ------------------------------------------------------------------ components typed by their constructors


@pytest.mark.parametrize("condition, where, says", [
    ({"generator": "eda", "params": {"alpha_sr": "lots"}}, "conditions.1", "generator 'eda': parameter 'alpha_sr': Input should be a valid number"),
    ({"generator": "eda", "params": {"alpha": 0.1}}, "conditions.1", "Unknown parameter(s) ['alpha'] for generator 'eda'"),
    ({"generator": "nope"}, "conditions.1", "Unknown generator 'nope'"),
    ({"generator": "eda", "filters": [{"name": "length", "params": {"min_words": [3]}}]}, "conditions.1",
     "filter 'length': parameter 'min_words': Input should be a valid integer"),
])
def test_a_conditions_generator_and_filters_are_typed_by_their_constructors(tmp_path, condition, where, says):
    """A wrong parameter fails when the file loads (before any model or directory), at its place in the file."""
    cfg = variant(conditions=[{"name": "real", "kind": "real"}, {"name": "x", "kind": "augment", **condition}])
    msg = config_error(write(tmp_path, cfg))
    assert msg.startswith(f"{tmp_path / 'exp.yaml'}: {where}: {says}"), msg


def test_a_classifiers_params_are_typed(tmp_path):
    cfg = variant(classifiers=[{"name": "lr", "type": "tfidf-lr", "params": {"ngram_max": "two"}}])
    msg = config_error(write(tmp_path, cfg))
    assert "classifiers.0: classifier 'tfidf-lr': parameter 'ngram_max': Input should be a valid integer" in msg
    assert "got 'two'; expected int." in msg


def test_main_job_options_are_typed_field_by_field():
    from sentisynth.evaluation.config import parse_augment_options

    for raw, start in [({"generator_params": {"n_topic": "five"}}, "opts.yaml: generator_params: generator 'hierarchical': parameter 'n_topic'"),
                       ({"filters": [{"name": "length", "params": {"min_words": "three"}}]}, "opts.yaml: filters: filter 'length'"),
                       ({"classifier": "tfidf-lr", "classifier_params": {"C": "big"}}, "opts.yaml: classifier_params: classifier 'tfidf-lr'"),
                       ({"generator": "zzz"}, "opts.yaml: generator: Unknown generator 'zzz'")]:
        with pytest.raises(ConfigError) as err:
            parse_augment_options(raw, "opts.yaml")
        assert str(err.value).startswith(start), str(err.value)
    ok = parse_augment_options({"generator": "eda", "generator_params": {"alpha_sr": 1, "operations": ["sr"]}}, "opts.yaml")
    assert ok.generator_params == {"alpha_sr": 1, "operations": ["sr"]}  # checked, not converted: configs hash as written


def test_python_calls_get_the_same_check_as_config_files():
    """make_generator / make_filter / make_classifier validate values against the annotations too,
    and accept what the annotations allow (an int where a float is annotated, a Path where a str is)."""
    from sentisynth.evaluation.classifiers import make_classifier
    from sentisynth.filters.base import make_filter
    from sentisynth.generators.base import make_generator

    with pytest.raises(ConfigError, match=r"^generator 'hierarchical': parameter 'labels': .*got 'negative,positive'"):
        make_generator("hierarchical", labels="negative,positive")
    with pytest.raises(ConfigError, match=r"^filter 'diversity': parameter 'exact'"):
        make_filter("diversity", exact="sometimes")
    with pytest.raises(ConfigError, match=r"^classifier 'tfidf-lr': parameter 'max_iter'"):
        make_classifier("tfidf-lr", max_iter=[1])
    gen = make_generator("hierarchical", temperature=1, prompts_dir=Path("."), labels=("a", "b"))
    assert gen.temperature == 1 and isinstance(gen.temperature, int) and gen.prompts_dir == Path(".")


def test_every_pool_a_config_reads_has_a_command_that_parses():
    """experiments/pools.yaml lists a command for every `generator: file` path under experiments/, and
    each `sentisynth ...` command there parses with today's command line (options, values, files named)."""
    import importlib.util
    import shlex

    import typer

    from sentisynth.cli import app

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("build_pools", root / "scripts" / "build_pools.py")
    build_pools = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_pools)
    pools = build_pools.load_pools()
    assert build_pools.check(pools) == []
    assert len(build_pools.paths_read_by_configs()) >= 20
    parsed = 0
    for name, entry in pools.items():
        args = shlex.split(entry["command"])
        if args[0] != "sentisynth":
            continue
        command = typer.main.get_command(app)
        ctx = command.make_context("sentisynth", args[1:])
        while hasattr(command, "resolve_command"):  # a group: parse down to the command
            sub, command, rest = command.resolve_command(ctx, ctx._protected_args + ctx.args)
            ctx = command.make_context(sub, rest, parent=ctx)
        out = ctx.params.get("out")
        assert str(out) == name, f"{name}: the command writes to {out}"
        for key in ("config",):
            if ctx.params.get(key):
                assert (root / ctx.params[key]).is_file(), f"{name}: {ctx.params[key]} does not exist"
        parsed += 1
    assert parsed >= 7


def test_split_flag_replaces_dev_twin_files():
    cfg = parse_experiment_config(VALID)
    dev = cfg.for_split("dev")
    assert dev.name == "tiny-dev" and [d.eval_split for d in dev.datasets] == ["dev"]
    assert cfg.for_split("test") == cfg and cfg.for_split(None) is cfg
    on_dev = parse_experiment_config({**VALID, "datasets": [{"name": "sst2", "eval_split": "dev"}]})
    assert on_dev.for_split("test").name == "tiny-test"  # never the directory of the file's own dev results
    assert dev.model_dump(exclude={"name"}) == on_dev.model_dump(exclude={"name"})
    with pytest.raises(ConfigError, match="--split 'val'"):
        cfg.for_split("val")


def test_split_flag_on_the_command_line(tmp_path):
    """`sentisynth experiment CONFIG --split dev` scores on dev into runs/<name>-dev; the test run is separate."""
    from sentisynth.store import read_json

    from .helpers import run_cli

    cfg = write(tmp_path, {"name": "tiny", "datasets": [{"name": "sst2"}], "k": [4], "seeds": [0],
                           "classifiers": [{"name": "tfidf", "type": "tfidf-lr"}], "conditions": [{"name": "real", "kind": "real"}]})
    for split in ("dev", "test"):
        proc = run_cli("experiment", str(cfg), "--split", split, "--no-progress", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    dev = read_json(tmp_path / "runs" / "tiny-dev" / "eval" / "sst2" / "tfidf" / "k4" / "seed0" / "real.json")
    test = read_json(tmp_path / "runs" / "tiny" / "eval" / "sst2" / "tfidf" / "k4" / "seed0" / "real.json")
    assert len(dev["predictions"]) == 872 and len(test["predictions"]) == 1821  # SST-2's dev and test splits
    assert dev["cell_config"]["dataset"]["eval_split"] == "dev"
