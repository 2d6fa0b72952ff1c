"""Bad-input fuzzing with hypothesis: loaders, config parsing, LLM-output parsing and the CLI.

The property everywhere: arbitrary input either works or raises one of the documented
:class:`SentiSynthError` subclasses (one line, names what is wrong) — never another exception —
and a command that fails leaves no output behind. Example counts are kept small enough for CI
(the whole file runs in about a minute); the hypothesis database is off so CI runs are repeatable.
"""

from __future__ import annotations

import csv
import io
import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentisynth.errors import ConfigError, DataError, SentiSynthError
from sentisynth.generators.hierarchical import parse_items

FUZZ = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SLOW_FUZZ = settings(FUZZ, max_examples=25)

# Text that stresses parsers: quotes, separators, newlines, BOMs, NULs, surrogate-free unicode.
nasty_text = st.text(alphabet=st.sampled_from(list(',;\t"\'\n\r\\{}[]:#-|$ \ufeff\x00\u2028éß漢🙂') + list(string.ascii_letters[:6])),
                     max_size=40)
json_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | nasty_text
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(nasty_text, kids, max_size=4),
                           max_leaves=12)


# ------------------------------------------------------------------------------ LLM output parsing


@FUZZ
@given(st.text(max_size=300) | nasty_text)
def test_parse_items_never_raises_on_any_model_output(text):
    items, problem = parse_items(text)
    assert isinstance(items, list) and all(isinstance(x, str) and x.strip() == x and x for x in items)
    assert problem is None or isinstance(problem, str)


@FUZZ
@given(st.lists(st.text(min_size=1, max_size=30), max_size=8), st.sampled_from(["{}", "```json\n{}\n```", "Sure! {} Hope it helps."]))
def test_parse_items_recovers_the_items_of_any_wrapped_json_answer(items, wrapper):
    answer = wrapper.replace("{}", json.dumps({"items": items}), 1)
    got, _ = parse_items(answer)
    assert got == [x.strip() for x in items if x.strip()]


@FUZZ
@given(json_values)
def test_parse_items_on_any_json_value(value):
    items, problem = parse_items(json.dumps(value))
    assert all(isinstance(x, str) for x in items)


# ------------------------------------------------------------------------------ data loaders


def _load(path: Path, **kw):
    from sentisynth.data import load_file

    return load_file(path, **kw)


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(["csv", "tsv", "jsonl", "parquet"]))
def test_any_bytes_load_or_fail_with_a_data_error(tmp_path_factory, raw, ext):
    path = tmp_path_factory.mktemp("bytes") / f"data.{ext}"
    path.write_bytes(raw)
    try:
        ds = _load(path)
    except DataError as e:
        assert "\n" not in str(e) and str(path) in str(e)
        return
    assert len(ds) >= 2 and len(set(ds.labels)) >= 2 and all(t.strip() for t in ds.texts)


rows = st.lists(st.tuples(nasty_text, st.sampled_from(["neg", "pos", "neu", "", " pos", "1", "0"])), min_size=0, max_size=12)


@FUZZ
@given(rows, st.sampled_from(["csv", "tsv", "jsonl"]))
def test_well_quoted_files_round_trip_or_fail_with_a_data_error(tmp_path_factory, data, ext):
    """Files written by a proper writer: what loads is exactly what was written (texts keep their
    quotes, separators and newlines); what cannot be used is a DataError naming the row."""
    path = tmp_path_factory.mktemp("rows") / f"data.{ext}"
    if ext == "jsonl":
        path.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in data), encoding="utf-8")
    elif ext == "tsv":  # the GLUE convention SentiSynth reads: no quoting, so no tabs or line breaks in a field
        data = [(t, y) for t, y in data if not set(t) & set("\t\n\r")]
        path.write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in data), encoding="utf-8")
    else:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["text", "label"])
        w.writerows(data)
        path.write_text(buf.getvalue(), encoding="utf-8")
    try:
        ds = _load(path)
    except DataError as e:
        assert "\n" not in str(e)
        return
    assert ds.texts == [t.strip() for t, _ in data]  # the loader strips outer whitespace, nothing else


# ------------------------------------------------------------------------------ config parsing


def _valid_or_one_line_config_error(parse, arg) -> None:
    """``parse(arg)`` either returns or raises a ConfigError whose message is one line; anything else escapes."""
    try:
        parse(arg)
    except ConfigError as e:
        assert "\n" not in str(e)


@FUZZ
@given(st.text(max_size=300))
def test_any_text_as_an_experiment_config_is_valid_or_a_config_error(tmp_path_factory, text):
    from sentisynth.evaluation.config import load_experiment_config

    path = tmp_path_factory.mktemp("cfg") / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    _valid_or_one_line_config_error(load_experiment_config, path)


experiment_keys = st.sampled_from(["name", "datasets", "k", "seeds", "classifiers", "conditions", "metric", "ratios",
                                   "type", "kind", "params", "generator", "filters", "allocation", "coverage", "bogus"])
config_values = st.recursive(json_scalars | experiment_keys,
                             lambda kids: st.lists(kids, max_size=3) | st.dictionaries(experiment_keys, kids, max_size=5),
                             max_leaves=20)


@FUZZ
@given(st.dictionaries(experiment_keys, config_values, max_size=7))
def test_any_structure_as_an_experiment_config_is_valid_or_a_config_error(raw):
    from sentisynth.evaluation.config import parse_experiment_config

    _valid_or_one_line_config_error(parse_experiment_config, raw)


@FUZZ
@given(st.lists(st.text(max_size=30), max_size=4))
def test_any_set_option_is_read_or_a_config_error(pairs):
    from sentisynth.cli import _set_options

    _valid_or_one_line_config_error(_set_options, pairs)


@FUZZ
@given(json_values)
def test_any_filter_spec_is_a_chain_or_a_config_error(specs):
    from sentisynth.filters.base import FilterChain

    _valid_or_one_line_config_error(FilterChain.from_config, specs if isinstance(specs, list) else [specs])


# ------------------------------------------------------------------------------ the CLI end to end


@SLOW_FUZZ
@given(rows, st.integers(1, 6))
def test_cli_on_fuzzed_files_writes_everything_or_nothing(tmp_path_factory, data, n):
    """``sentisynth generate eda`` in-process on fuzzed CSVs: success writes exactly ``n`` records;
    failure is a SentiSynthError and the run directory does not exist."""
    from sentisynth.cli import app

    root = tmp_path_factory.mktemp("cli")
    path = root / "data.csv"
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["text", "label"])
    w.writerows(data)
    path.write_text(buf.getvalue(), encoding="utf-8")
    before = path.read_bytes()
    out = root / "run"
    try:
        app(["generate", "eda", "--data", str(path), "-n", str(n), "--out", str(out)], standalone_mode=False)
    except SentiSynthError as e:
        assert "\n" not in str(e)
        assert not out.exists(), list(out.iterdir())
    else:
        lines = (out / "synthetic.jsonl").read_text(encoding="utf-8").splitlines()  # any reader's idea of a line
        assert len(lines) == n and all(json.loads(x)["label"] for x in lines)
    assert path.read_bytes() == before


@pytest.mark.parametrize("text", ["a: [1, 2", "a: 1\na: 2", "\x00", "- just\n- a list", "!!python/object/apply:os.system ['true']"])
def test_bad_yaml_in_every_config_flag_is_one_line(tmp_path, text):
    from sentisynth.cli import _yaml_mapping

    cfg = tmp_path / "c.yaml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        _yaml_mapping(cfg)
    assert "\n" not in str(info.value) and str(cfg) in str(info.value)
