"""Loading labeled text files: real CSV, TSV, JSONL and Parquet files written to tmp_path.

Happy paths first, then every bad input from the acceptance bar. Each bad input must raise a
:class:`DataError` whose message is one line naming the file, the row/line or column, what was
expected ("expected ...") and how to fix it ("fix: ...").
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentisynth.data import load_file, subsample_per_class
from sentisynth.data.files import DEFAULT_MAX_LINE_CHARS, detect_format
from sentisynth.errors import DataError, SentiSynthError

ROWS = [
    ("a gripping, beautifully shot film", "positive"),
    ("dull and far too long", "negative"),
    ("the cast is wonderful", "positive"),
    ("i walked out halfway", "negative"),
]


# ----------------------------------------------------------------------------------- helpers


def write_csv(path: Path, rows, header=("text", "label"), sep=",") -> Path:
    """CSV through the csv module (quotes fields with commas); TSV (sep="\t") unquoted, as GLUE writes it."""
    if sep == ",":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        path.write_text(buf.getvalue(), encoding="utf-8")
    else:
        lines = [sep.join(header)] + [sep.join(str(c) for c in r) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, objs) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def write_parquet(path: Path, columns: dict) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def load_error(path, **kw) -> str:
    """The message of the DataError that loading ``path`` raises, checked for the common shape."""
    with pytest.raises(DataError) as err:
        load_file(path, **kw)
    msg = str(err.value)
    assert isinstance(err.value, SentiSynthError) and err.value.exit_code == 2
    assert "\n" not in msg and "\r" not in msg, f"message is not one line: {msg!r}"
    assert str(path) in msg, f"message does not name the file: {msg!r}"
    assert "expected" in msg, f"message does not say what was expected: {msg!r}"
    assert "fix:" in msg, f"message does not say how to fix it: {msg!r}"
    return msg


# ----------------------------------------------------------------------------------- happy paths


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_each_format_loads_texts_labels_and_label_set(tmp_path, fmt):
    path = tmp_path / f"reviews.{fmt}"
    if fmt == "csv":
        # the first text holds a comma, so the writer must quote it
        path.write_text("text,label\n" + "".join(f'"{t}",{y}\n' for t, y in ROWS), encoding="utf-8")
    elif fmt == "tsv":
        write_csv(path, ROWS, sep="\t")
    elif fmt == "jsonl":
        write_jsonl(path, [{"text": t, "label": y} for t, y in ROWS])
    else:
        write_parquet(path, {"text": [t for t, _ in ROWS], "label": [y for _, y in ROWS]})
    ds = load_file(path)
    assert ds.texts == [t for t, _ in ROWS]
    assert ds.labels == [y for _, y in ROWS]
    assert ds.label_set.names == ("negative", "positive")
    assert ds.name == path.name
    assert ds.counts() == {"negative": 2, "positive": 2}
    assert detect_format(path) == fmt


def test_loading_writes_nothing(tmp_path):
    path = write_csv(tmp_path / "d.csv", ROWS)
    before = sorted(p.name for p in tmp_path.iterdir())
    load_file(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_configurable_text_and_label_columns(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,sentence,sentiment\n" + "".join(f'{i},"{t}",{y}\n' for i, (t, y) in enumerate(ROWS)))
    ds = load_file(path, text_column="sentence", label_column="sentiment")
    assert ds.texts[0] == ROWS[0][0] and ds.labels == [y for _, y in ROWS]


def test_extra_columns_and_header_whitespace_are_tolerated(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(" text , label ,extra\n" + "".join(f'"{t}",{y},x\n' for t, y in ROWS))
    assert load_file(path).labels == [y for _, y in ROWS]


def test_texts_are_stripped(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "  padded  ", "label": "a"}, {"text": "b\n", "label": "b"}])
    assert load_file(path).texts == ["padded", "b"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_integer_ids_are_mapped_through_labels(tmp_path, fmt):
    path = tmp_path / f"ids.{fmt}"
    texts, ids = ["bad", "good", "awful", "great"], [0, 1, 0, 1]
    if fmt == "csv":
        write_csv(path, zip(texts, ids))
    elif fmt == "jsonl":
        write_jsonl(path, [{"text": t, "label": y} for t, y in zip(texts, ids)])
    else:
        write_parquet(path, {"text": texts, "label": ids})
    ds = load_file(path, labels=["negative", "positive"])
    assert ds.labels == ["negative", "positive", "negative", "positive"]
    assert ds.label_set.names == ("negative", "positive")


def test_integer_labels_without_label_list_stay_as_names(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": f"t{i}", "label": y} for i, y in enumerate([10, 2, 2.0, 10])])
    ds = load_file(path)
    assert ds.labels == ["10", "2", "2", "10"]
    assert ds.label_set.names == ("2", "10")  # natural order, not string order


def test_label_list_fixes_order_and_allows_unseen_labels(tmp_path):
    path = write_csv(tmp_path / "d.csv", ROWS)
    ds = load_file(path, labels=["positive", "neutral", "negative"])
    assert ds.label_set.names == ("positive", "neutral", "negative")
    assert ds.counts() == {"positive": 2, "neutral": 0, "negative": 2}


def test_label_descriptions_are_kept(tmp_path):
    path = write_csv(tmp_path / "d.csv", ROWS)
    desc = {"negative": "The reviewer disliked the film.", "positive": "The reviewer liked the film."}
    ds = load_file(path, label_descriptions=desc)
    assert ds.label_set.description("negative") == desc["negative"]
    assert ds.label_set.description("positive") == desc["positive"]
    ds2 = load_file(path, labels=["negative", "positive"], label_descriptions=desc)
    assert dict(ds2.label_set.descriptions) == desc


def test_utf8_bom_is_ignored(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "text,label\ncafé au lait,pos\nnaïve plot,neg\n".encode("utf-8"))
    ds = load_file(path)
    assert ds.texts == ["café au lait", "naïve plot"]  # the header column is "text", not "\ufefftext"


def test_csv_quoted_fields_with_commas_quotes_and_newlines(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text(
        'text,label\n"slow, but worth it",pos\n"two\nlines",neg\n"she said ""no""",neg\n"crlf ok",pos\r\n',
        encoding="utf-8",
    )
    ds = load_file(path)
    assert ds.texts == ["slow, but worth it", "two\nlines", 'she said "no"', "crlf ok"]
    assert ds.labels == ["pos", "neg", "neg", "pos"]


def test_csv_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("text,label\n\na,pos\n\n\nb,neg\n\n")
    assert load_file(path).texts == ["a", "b"]


def test_tsv_is_unquoted_like_glue(tmp_path):
    path = tmp_path / "glue.tsv"
    path.write_text('sentence\tlabel\nhe said "hi there\t1\n"quoted" , with comma\t0\n', encoding="utf-8")
    ds = load_file(path, text_column="sentence")
    assert ds.texts == ['he said "hi there', '"quoted" , with comma']
    assert ds.labels == ["1", "0"]


def test_explicit_format_overrides_extension(tmp_path):
    path = tmp_path / "data.txt"
    write_csv(path, ROWS, sep="\t")
    assert len(load_file(path, format="tsv")) == 4
    assert detect_format(tmp_path / "x.ndjson") == "jsonl"
    assert detect_format(tmp_path / "x.json") == "jsonl"
    assert detect_format(tmp_path / "x.pq") == "parquet"
    assert detect_format(tmp_path / "x.train.CSV") == "csv"


def test_other_encoding_can_be_passed(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncafé,pos\nnaïve,neg\n".encode("latin-1"))
    assert load_file(path, encoding="latin-1").texts == ["café", "naïve"]


def test_line_at_the_limit_is_accepted(tmp_path):
    path = tmp_path / "long.jsonl"
    text = "x" * (DEFAULT_MAX_LINE_CHARS - 40)
    write_jsonl(path, [{"text": text, "label": "a"}, {"text": "short", "label": "b"}])
    assert load_file(path).texts[0] == text


# ----------------------------------------------------------------------------------- columns


def test_missing_column_names_it_and_lists_found_columns(tmp_path):
    path = write_csv(tmp_path / "d.csv", ROWS, header=("review", "stars"))
    msg = load_error(path)
    assert "no column 'text'" in msg
    assert "found columns: review, stars" in msg
    assert "--text-column" in msg


def test_missing_label_column(tmp_path):
    path = write_csv(tmp_path / "d.csv", [(t,) for t, _ in ROWS], header=("text",))
    msg = load_error(path)
    assert "no column 'label'" in msg and "label_column" in msg and "--label-column" in msg


@pytest.mark.parametrize(
    "header, kw, suggestion",
    [
        (("txt", "label"), {}, "fix: pass --text-column txt"),
        (("text", "lable"), {}, "fix: pass --label-column lable"),
        (("Text", "label"), {}, "fix: pass --text-column Text"),
        (("sentence", "label"), {"text_column": "sentense"}, "fix: pass --text-column sentence"),
    ],
)
def test_misnamed_column_suggests_the_close_match(tmp_path, header, kw, suggestion):
    path = write_csv(tmp_path / "d.csv", ROWS, header=header)
    msg = load_error(path, **kw)
    assert suggestion in msg
    assert f"found columns: {', '.join(header)}" in msg


def test_misnamed_column_in_jsonl_and_parquet(tmp_path):
    j = write_jsonl(tmp_path / "d.jsonl", [{"txt": t, "label": y} for t, y in ROWS])
    assert "fix: pass --text-column txt" in load_error(j)
    p = write_parquet(tmp_path / "d.parquet", {"text": [t for t, _ in ROWS], "labels": [y for _, y in ROWS]})
    assert "no column 'label'" in load_error(p) and "--label-column labels" in load_error(p)


def test_repeated_header_column(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("text,label,text\na,pos,b\nc,neg,d\n")
    msg = load_error(path)
    assert "line 1" in msg and "'text'" in msg and "more than once" in msg


# ----------------------------------------------------------------------------------- texts


def test_empty_text_in_csv_names_row_and_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\ngood,pos\n,neg\nbad,neg\n")
    msg = load_error(path)
    assert "row 2 (line 3)" in msg and "column 'text' is empty" in msg and "expected non-empty text" in msg


def test_row_line_counts_multiline_fields_and_blank_lines(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,label\n"multi\nline",pos\n\nb,neg\n  ,pos\n')
    msg = load_error(path)
    assert "row 3 (line 6)" in msg


def test_whitespace_only_text(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("text\tlabel\ngood\tpos\n   \tneg\n")
    msg = load_error(path)
    assert "row 2 (line 3)" in msg and "column 'text' is empty" in msg


def test_null_text_in_jsonl(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "ok", "label": "a"}, {"text": None, "label": "b"}])
    msg = load_error(path)
    assert "row 2 (line 2)" in msg and "column 'text' is missing (null/NaN)" in msg


def test_text_key_absent_in_one_jsonl_row(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "ok", "label": "a"}, {"label": "b"}, {"text": "x", "label": "a"}])
    msg = load_error(path)
    assert "row 2" in msg and "column 'text' is missing" in msg


def test_non_string_text_in_jsonl(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "ok", "label": "a"}, {"text": 42, "label": "b"}])
    msg = load_error(path)
    assert "row 2" in msg and "column 'text' is not a string" in msg


def test_none_text_in_parquet(tmp_path):
    path = write_parquet(tmp_path / "d.parquet", {"text": pa.array(["fine", "also fine", None], pa.string()),
                                                  "label": ["a", "b", "a"]})
    msg = load_error(path)
    assert "row 3: column 'text' is missing (null/NaN)" in msg
    assert "(line" not in msg  # Parquet has no lines


def test_nan_text_in_parquet(tmp_path):
    path = write_parquet(tmp_path / "d.parquet", {"text": [float("nan"), 1.5], "label": ["a", "b"]})
    assert "row 1: column 'text' is missing (null/NaN)" in load_error(path)


def test_non_string_text_in_parquet(tmp_path):
    path = write_parquet(tmp_path / "d.parquet", {"text": [1.5, 2.5], "label": ["a", "b"]})
    assert "row 1: column 'text' is not a string" in load_error(path)


# ----------------------------------------------------------------------------------- labels


def test_label_outside_label_set(tmp_path):
    path = write_csv(tmp_path / "d.csv", [("good", "positive"), ("bad", "negtive"), ("ok", "positive")])
    msg = load_error(path, labels=["negative", "positive"])
    assert "row 2 (line 3)" in msg
    assert "label 'negtive' is not in the label set [negative, positive]" in msg
    assert "expected one of those names (or an id 0..1)" in msg


def test_integer_id_out_of_range(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "a", "label": 0}, {"text": "b", "label": 2}])
    msg = load_error(path, labels=["negative", "positive"])
    assert "row 2 (line 2)" in msg and "label '2' is not in the label set" in msg


@pytest.mark.parametrize("empty", ["", "   "])
def test_empty_label_in_csv(tmp_path, empty):
    path = tmp_path / "d.csv"
    path.write_text(f"text,label\ngood,pos\nbad,{empty}\nmeh,neg\n")
    msg = load_error(path)
    assert "row 2 (line 3)" in msg and "column 'label' is empty" in msg and "expected a label in every row" in msg


def test_null_label_in_jsonl_and_parquet(tmp_path):
    j = write_jsonl(tmp_path / "d.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": None}])
    assert "row 2 (line 2): column 'label' is empty" in load_error(j)
    p = write_parquet(tmp_path / "d.parquet", {"text": ["a", "b"], "label": pa.array(["x", None])})
    assert "row 2: column 'label' is empty" in load_error(p)


@pytest.mark.parametrize("bad", [True, [1], {"name": "pos"}])
def test_label_that_is_not_a_name_or_id(tmp_path, bad):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": bad}])
    msg = load_error(path)
    assert "row 2 (line 2)" in msg and "expected a label name or integer id" in msg


def test_single_class_file(tmp_path):
    path = write_csv(tmp_path / "one.csv", [("good", "positive"), ("great", "positive"), ("fine", "positive")])
    msg = load_error(path)
    assert "column 'label' holds a single class 'positive'" in msg
    assert "expected at least two classes" in msg


def test_single_class_even_with_a_larger_label_list(tmp_path):
    path = write_csv(tmp_path / "one.csv", [("good", "positive"), ("great", "positive")])
    assert "single class 'positive'" in load_error(path, labels=["negative", "positive"])


def test_class_with_fewer_than_k_examples(tmp_path):
    rows = [(f"good {i}", "positive") for i in range(6)] + [(f"bad {i}", "negative") for i in range(3)]
    path = write_csv(tmp_path / "small.csv", rows)
    ds = load_file(path)
    assert len(subsample_per_class(ds, 3, seed=0)) == 6
    with pytest.raises(DataError) as err:
        subsample_per_class(ds, 4, seed=0)
    msg = str(err.value)
    assert "\n" not in msg
    assert path.name in msg  # the dataset is named after its file
    assert "class 'negative' has 3 examples; expected at least 4" in msg
    assert "fix: lower k" in msg


# ----------------------------------------------------------------------------------- bytes and lines


def test_non_utf8_bytes_name_the_line(tmp_path):
    path = tmp_path / "cp1252.csv"
    path.write_bytes(b"text,label\ngood film,pos\nbad film,neg\ncaf\xe9 scene \xff\xfe,pos\nok,neg\n")
    msg = load_error(path)
    assert "line 4" in msg and "is not valid utf-8" in msg
    assert "--encoding" in msg


def test_non_utf8_bytes_in_jsonl(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"text": "ok", "label": "a"}\n{"text": "na\xefve", "label": "b"}\n')
    msg = load_error(path)
    assert "line 2" in msg and "utf-8" in msg


def test_unknown_encoding(tmp_path):
    path = write_csv(tmp_path / "d.csv", ROWS)
    with pytest.raises(DataError, match=r"unknown encoding 'utf-9'; expected a Python codec name") as err:
        load_file(path, encoding="utf-9")
    assert str(path) in str(err.value)


def test_enormous_line_names_line_and_length(tmp_path):
    path = tmp_path / "merged.csv"
    path.write_text("text,label\nfine,pos\nalso fine,neg\n" + "x" * 200_001 + ",pos\n")
    msg = load_error(path)
    assert "line 4 is 200,005 characters long" in msg
    assert f"expected lines under {DEFAULT_MAX_LINE_CHARS:,} characters" in msg
    assert "check the quoting near line 4" in msg


def test_enormous_line_exact_length_and_custom_limit(tmp_path):
    path = tmp_path / "long.tsv"
    path.write_text("text\tlabel\n" + "y" * 200_001 + "\n")
    msg = load_error(path)
    assert "line 2 is 200,001 characters long" in msg
    ok = tmp_path / "ok.tsv"
    ok.write_text("text\tlabel\n" + "y" * 50 + "\tpos\nz\tneg\n")
    assert "line 2 is 54 characters long" in load_error(ok, max_line_chars=40)
    assert len(load_file(ok, max_line_chars=60)) == 2


# ----------------------------------------------------------------------------------- empty files


@pytest.mark.parametrize("ext", ["csv", "tsv", "jsonl", "parquet"])
def test_zero_byte_file(tmp_path, ext):
    path = tmp_path / f"empty.{ext}"
    path.write_bytes(b"")
    assert "the file is empty" in load_error(path)


@pytest.mark.parametrize("content", ["   \n\n  \t\n", "\ufeff\n", "\n"])
def test_whitespace_only_file(tmp_path, content):
    path = tmp_path / "blank.csv"
    path.write_text(content, encoding="utf-8")
    assert "the file is empty" in load_error(path)


def test_whitespace_only_jsonl(tmp_path):
    path = tmp_path / "blank.jsonl"
    path.write_text("\n \n")
    assert "the file is empty" in load_error(path)


@pytest.mark.parametrize("fmt,header", [("csv", "text,label\n"), ("tsv", "text\tlabel\n"), ("csv", "text,label")])
def test_header_only_file(tmp_path, fmt, header):
    path = tmp_path / f"header.{fmt}"
    path.write_text(header)
    assert "no data rows" in load_error(path)


def test_header_only_file_with_trailing_blank_lines(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("text,label\n\n\n")
    assert "no data rows" in load_error(path)


def test_parquet_with_zero_rows(tmp_path):
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"text": pa.array([], pa.string()), "label": pa.array([], pa.string())}), path)
    assert "no data rows" in load_error(path)


# ----------------------------------------------------------------------------------- malformed files


def test_wrong_field_count_in_csv(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\ngood,pos\ngood, but long,neg\nbad,neg\n")
    msg = load_error(path)
    assert "line 3: 3 fields; expected 2 as in the header (text, label)" in msg
    assert "fix: quote fields that contain the delimiter" in msg


def test_too_few_fields_in_tsv(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("text\tlabel\ngood\tpos\nno tab here\n")
    assert "line 3: 1 field; expected 2" in load_error(path)


def test_unterminated_quote_in_csv(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,label\ngood,pos\n"never closed,neg\nbad,neg\n')
    msg = load_error(path)
    assert re.search(r"line \d+: ", msg) and "expected well-formed CSV" in msg


def test_stray_text_after_closing_quote(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,label\n"good",pos\n"bad" film,neg\n')
    msg = load_error(path)
    assert "line 3" in msg and "expected well-formed CSV" in msg and "check quoting" in msg


def test_malformed_json_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n\n{"text": "b", "label": "y"\n')
    msg = load_error(path)
    assert "line 3: not valid JSON" in msg and "expected one JSON object per line" in msg


def test_jsonl_line_that_is_a_list(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n["b", "y"]\n')
    msg = load_error(path)
    assert "line 2: a JSON list" in msg and "expected a JSON object per line" in msg


def test_jsonl_that_is_one_json_array(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps([{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]))
    assert "line 1: a JSON list" in load_error(path)


def test_non_parquet_bytes_with_parquet_extension(tmp_path):
    path = tmp_path / "fake.parquet"
    path.write_text("text,label\na,pos\nb,neg\n")
    msg = load_error(path)
    assert "cannot read as Parquet" in msg and "expected a Parquet file" in msg


def test_unknown_extension(tmp_path):
    path = write_csv(tmp_path / "data.xlsx", ROWS)
    msg = load_error(path)
    assert "cannot tell the format from the extension '.xlsx'" in msg
    assert "expected one of .csv, .tsv, .jsonl, .parquet" in msg
    no_ext = write_csv(tmp_path / "data", ROWS)
    assert "extension '(none)'" in load_error(no_ext)


def test_unknown_explicit_format(tmp_path):
    path = write_csv(tmp_path / "d.csv", ROWS)
    assert "unknown format 'xml'" in load_error(path, format="xml")


def test_directory_instead_of_file(tmp_path):
    d = tmp_path / "data.csv"
    d.mkdir()
    msg = load_error(d)
    assert "is a directory" in msg and "expected a data file" in msg


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    msg = load_error(path)
    assert "file not found" in msg
