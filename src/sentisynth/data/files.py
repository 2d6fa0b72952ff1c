"""Loading labeled text from CSV, TSV, JSONL and Parquet files, with errors a user can act on.

Every check here exists because a real file once broke an experiment silently: a misnamed column,
a stray quote that merged a thousand rows into one, a blank text, a typo in a label, a file saved
as Windows-1252. Each problem raises :class:`~sentisynth.errors.DataError` with one line naming the
file, the row or column, what was expected and how to fix it. Loading never writes anything.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
from pathlib import Path
from typing import Any, Sequence

from ..errors import DataError
from ..records import LabelSet
from .dataset import TextDataset

FORMATS = ("csv", "tsv", "jsonl", "parquet")
#: Longest line accepted. Real texts in this tool are sentences to short documents; a line longer
#: than this almost always means broken quoting merged many rows, which would poison an experiment.
DEFAULT_MAX_LINE_CHARS = 100_000


def detect_format(path: Path, fmt: str | None = None) -> str:
    """The file format from ``fmt`` or the file extension."""
    if fmt:
        fmt = fmt.lower().lstrip(".")
        if fmt not in FORMATS:
            raise DataError(
                f"{path}: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}; fix: pass one of those."
            )
        return fmt
    suffixes = [s.lower().lstrip(".") for s in path.suffixes]
    for s in reversed(suffixes):
        if s in FORMATS:
            return s
        if s in ("json", "ndjson"):
            return "jsonl"
        if s == "pq":
            return "parquet"
    raise DataError(
        f"{path}: cannot tell the format from the extension {path.suffix or '(none)'!r}; "
        f"expected one of .csv, .tsv, .jsonl, .parquet; fix: rename the file or pass format=... (--format)."
    )


def load_file(
    path: str | Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    labels: Sequence[str] | None = None,
    label_descriptions: dict[str, str] | None = None,
    format: str | None = None,
    encoding: str = "utf-8",
    max_line_chars: int = DEFAULT_MAX_LINE_CHARS,
    name: str | None = None,
) -> TextDataset:
    """Load a labeled text file.

    ``labels`` fixes the label set and its order. When given, every label in the file must be one
    of them; integer labels are then read as ids into that list (so ``0``/``1`` with
    ``labels=["negative", "positive"]`` works). Without it, the set is whatever the file holds.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found; expected a CSV, TSV, JSONL or Parquet file; fix: check the path.")
    if path.is_dir():
        raise DataError(f"{path}: is a directory; expected a data file; fix: point at a file inside it.")
    fmt = detect_format(path, format)
    if path.stat().st_size == 0:
        raise DataError(
            f"{path}: the file is empty; expected a header and at least two labeled examples; fix: check the export."
        )
    lines: list[int] | None = None  # source line of each data row (text formats), for messages
    if fmt == "parquet":
        columns = _read_parquet(path)
    else:
        text = _decode(path, encoding)
        _check_line_lengths(path, text, max_line_chars)
        columns, lines = _read_jsonl(path, text) if fmt == "jsonl" else _read_delimited(path, text, fmt)

    return _dataset_from_columns(path, columns, lines, text_column, label_column, labels, label_descriptions, name or path.name)


def load_frame(
    frame: Any,
    *,
    text_column: str = "text",
    label_column: str = "label",
    labels: Sequence[str] | None = None,
    label_descriptions: dict[str, str] | None = None,
    name: str = "DataFrame",
) -> TextDataset:
    """A labeled ``pandas.DataFrame`` (or Hugging Face ``datasets.Dataset``) → :class:`TextDataset`,
    with the same checks and messages as :func:`load_file` (rows are numbered from 1)."""
    if hasattr(frame, "to_pandas") and not hasattr(frame, "iloc"):  # a datasets.Dataset
        frame = frame.to_pandas()
    if not hasattr(frame, "columns") or not hasattr(frame, "iloc"):
        raise DataError(f"{name}: expected a pandas DataFrame or a datasets.Dataset; got {type(frame).__name__}; "
                        f"fix: pass a table with text and label columns, or a file path.")
    columns = {str(c): frame[c].tolist() for c in frame.columns}
    if not columns.get(text_column) and text_column in columns:
        raise DataError(f"{name}: no data rows; expected at least two labeled examples.")
    return _dataset_from_columns(Path(name), columns, None, text_column, label_column, labels, label_descriptions, name)


def _dataset_from_columns(path: Path, columns: dict[str, list[Any]], lines: list[int] | None, text_column: str,
                          label_column: str, labels: Sequence[str] | None, label_descriptions: dict[str, str] | None,
                          name: str) -> TextDataset:
    """The checks shared by files and in-memory tables, once the columns are read."""
    texts = _column(path, columns, text_column, "text_column", "--text-column")
    raw_labels = _column(path, columns, label_column, "label_column", "--label-column")
    if not texts:
        raise DataError(
            f"{path}: no data rows; expected a header and at least two labeled examples; fix: check the export."
        )
    texts = [_clean_text(path, _row(i, lines), text_column, v) for i, v in enumerate(texts)]
    label_names = _resolve_labels(path, label_column, raw_labels, labels, lines)
    label_set = (
        LabelSet(names=tuple(labels), descriptions=tuple((label_descriptions or {}).items()))
        if labels
        else LabelSet.from_labels(label_names, label_descriptions)
    )
    if len(set(label_names)) < 2:
        only = label_names[0]
        raise DataError(
            f"{path}: column {label_column!r} holds a single class {only!r}; expected at least two classes "
            f"to train a classifier; fix: add examples of the other classes."
        )
    return TextDataset(texts=texts, labels=label_names, label_set=label_set, name=name)


# --- reading ------------------------------------------------------------------------------------


def _decode(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(
            f"{path}: line {line} (byte {e.start}) is not valid {encoding}; expected {encoding} text; "
            f"fix: re-save the file as UTF-8, or pass its real encoding (--encoding latin-1)."
        ) from None
    except LookupError:
        raise DataError(f"{path}: unknown encoding {encoding!r}; expected a Python codec name such as utf-8.") from None
    if text.startswith("\ufeff"):  # Excel's UTF-8 byte-order mark
        text = text[1:]
    if not text.strip():
        raise DataError(
            f"{path}: the file is empty; expected a header and at least two labeled examples; fix: check the export."
        )
    return text


def _check_line_lengths(path: Path, text: str, max_line_chars: int) -> None:
    for lineno, line in enumerate(text.split("\n"), 1):
        if len(line) > max_line_chars:
            raise DataError(
                f"{path}: line {lineno} is {len(line):,} characters long; expected lines under "
                f"{max_line_chars:,} characters (a stray quote or missing newline often merges rows); "
                f"fix: check the quoting near line {lineno}, or raise max_line_chars."
            )


def _read_delimited(path: Path, text: str, fmt: str) -> tuple[dict[str, list[Any]], list[int]]:
    """CSV with standard quoting; TSV without quoting (as GLUE and most TSV exports write it)."""
    delimiter = "\t" if fmt == "tsv" else ","
    quoting = csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: the file is empty; expected a header row; fix: check the export.") from None
    except csv.Error as e:
        raise DataError(f"{path}: line 1: cannot parse the header ({e}); expected a {fmt.upper()} header.") from None
    header = [h.strip() for h in header]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise DataError(
            f"{path}: line 1: column(s) {', '.join(map(repr, repeated))} appear more than once in the header; "
            f"expected unique column names; fix: rename or drop the repeated column."
        )
    columns: dict[str, list[Any]] = {h: [] for h in header}
    lines: list[int] = []
    last_line = reader.line_num
    try:
        for row in reader:
            start, last_line = last_line + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if len(row) != len(header):
                raise DataError(
                    f"{path}: line {reader.line_num}: {len(row)} field{'s' if len(row) != 1 else ''}; expected {len(header)} as in the header "
                    f"({', '.join(header)}); fix: quote fields that contain the delimiter."
                )
            for h, v in zip(header, row):
                columns[h].append(v)
            lines.append(start)
    except csv.Error as e:
        raise DataError(
            f"{path}: line {reader.line_num}: {e}; expected well-formed {fmt.upper()}; fix: check quoting there."
        ) from None
    return columns, lines


def _read_jsonl(path: Path, text: str) -> tuple[dict[str, list[Any]], list[int]]:
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(
                f"{path}: line {lineno}: not valid JSON ({e.msg}); expected one JSON object per line; "
                f"fix: repair or remove that line."
            ) from None
        if not isinstance(obj, dict):
            raise DataError(
                f"{path}: line {lineno}: a JSON {type(obj).__name__}; expected a JSON object per line "
                f'such as {{"text": "...", "label": "..."}}; fix: rewrite or remove that line.'
            )
        rows.append(obj)
        lines.append(lineno)
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys)
    return {k: [r.get(k) for r in rows] for k in keys}, lines


def _read_parquet(path: Path) -> dict[str, list[Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for a non-parquet file
        raise DataError(
            f"{path}: cannot read as Parquet ({type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}); "
            f"expected a Parquet file; fix: check the file or its extension."
        ) from None
    if table.num_rows == 0:
        raise DataError(
            f"{path}: no data rows; expected at least two labeled examples; fix: check the export."
        )
    return {name: table.column(name).to_pylist() for name in table.column_names}


# --- validation ---------------------------------------------------------------------------------


def _column(path: Path, columns: dict[str, list[Any]], name: str, param: str, flag: str) -> list[Any]:
    if name in columns:
        return columns[name]
    found = ", ".join(columns) or "(none)"
    close = difflib.get_close_matches(name, list(columns), n=1)
    hint = f"pass {flag} {close[0]}" if close else f"pass {flag} with one of the found columns"
    raise DataError(
        f"{path}: no column {name!r} ({param}); expected it in the header (found columns: {found}); fix: {hint}."
    )


def _row(i: int, lines: list[int] | None) -> str:
    """``row 3 (line 4)`` for text formats (data rows count from 1, after the header), ``row 3`` for Parquet."""
    return f"row {i + 1} (line {lines[i]})" if lines else f"row {i + 1}"


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _clean_text(path: Path, row: str, column: str, v: Any) -> str:
    if _is_missing(v) or not isinstance(v, str) or not v.strip():
        what = "missing (null/NaN)" if _is_missing(v) else ("not a string" if not isinstance(v, str) else "empty")
        raise DataError(
            f"{path}: {row}: column {column!r} is {what}; expected non-empty text in every row; "
            f"fix: fill in or remove that row."
        )
    return v.strip()


def _resolve_labels(
    path: Path, column: str, raw: list[Any], labels: Sequence[str] | None, lines: list[int] | None = None
) -> list[str]:
    out: list[str] = []
    allowed = list(labels) if labels else None
    for i, v in enumerate(raw):
        row = _row(i, lines)
        if _is_missing(v) or (isinstance(v, str) and not v.strip()):
            raise DataError(
                f"{path}: {row}: column {column!r} is empty; expected a label in every row; "
                f"fix: label or remove that row."
            )
        if isinstance(v, bool) or isinstance(v, (dict, list)):
            raise DataError(
                f"{path}: {row}: label {v!r} in column {column!r}; expected a label name or integer id; "
                f"fix: write the label as a plain string or integer."
            )
        name = _label_name(v)
        if allowed is not None and name not in allowed:
            if name.lstrip("-").isdigit() and 0 <= int(name) < len(allowed) and not any(a.isdigit() for a in allowed):
                name = allowed[int(name)]  # an integer id into the given label list
            else:
                raise DataError(
                    f"{path}: {row}: label {name!r} is not in the label set [{', '.join(allowed)}]; "
                    f"expected one of those names (or an id 0..{len(allowed) - 1}); "
                    f"fix: correct that row or add the label to --labels."
                )
        out.append(name)
    return out


def _label_name(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()
