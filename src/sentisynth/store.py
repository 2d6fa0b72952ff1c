"""Run directories: atomic files, append-only JSONL, and the manifest that makes figures reproducible.

Two write disciplines, chosen so a crash (even ``kill -9``) never leaves a corrupt file:

* whole files (results, summaries, manifest) are written to a temporary sibling, fsynced, and
  renamed into place — readers see the old or the new file, never half of one;
* record streams (``synthetic.jsonl``) are appended in batches and fsynced; on reopen, a trailing
  partial line (the only damage a crash can do to an append) is cut off before appending again.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from . import __version__
from .errors import SentiSynthError

TRACKED_LIBRARIES = (
    "numpy", "pandas", "pyarrow", "scikit-learn", "scipy", "torch", "transformers",
    "sentence-transformers", "setfit", "nltk", "pydantic", "typer",
)


class OutputError(SentiSynthError, OSError):
    """The output directory cannot be created or written."""


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


#: Characters that ``json.dumps(ensure_ascii=False)`` leaves raw but that ``str.splitlines`` (and
#: older JavaScript) treat as line breaks: escaped so one record is always one line for every reader.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=_json_default).translate(_LINE_BREAKS)


def jsonl_text(rows: Iterable[Any]) -> str:
    """Rows as JSON Lines text (one object per line, trailing newline), for write_atomic."""
    return "".join(dumps(r) + "\n" for r in rows)


def jsonable(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (tuples become lists, objects their JSON form): what a
    manifest stores, so stored and current values compare equal when they mean the same."""
    return json.loads(dumps(obj))


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write ``text`` (str as UTF-8, or bytes) to ``path`` so that readers never observe a partial file."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; run dirs and caches may be shared between users
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise OutputError(
            f"{path}: cannot write ({e.strerror or e}); expected a writable output directory; "
            f"fix: choose another --out or free disk space."
        ) from None


def remove_stale_temporaries(folder: str | Path) -> int:
    """Delete the temporary siblings (``.NAME.*.tmp``) that a process killed inside
    :func:`write_atomic` leaves behind; they never replaced anything, so nothing is lost. Called
    when a run directory is opened again (one process writes a run directory at a time)."""
    removed = 0
    for tmp in Path(folder).rglob(".*.tmp"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


#: Parameter names whose values must never reach a manifest, config file, log, cache key or error.
SECRET_PARAMS = frozenset({"api_key"})
#: The ``user:password@`` part of a URL (``http://user:pw@host/v1``), which is a secret too.
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def scrub_secrets(obj: Any) -> Any:
    """A copy of ``obj`` with every secret-named key (at any depth) replaced by ``"<set>"``/None and
    the credentials of any URL in a string replaced by ``<credentials>``."""
    if isinstance(obj, dict):
        return {k: ("<set>" if v else None) if k in SECRET_PARAMS else scrub_secrets(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(scrub_secrets(v) for v in obj)
    if isinstance(obj, str) and "@" in obj:
        return _URL_CREDENTIALS.sub("<credentials>@", obj)
    return obj


def write_json(path: str | Path, obj: Any) -> None:
    """``obj`` as indented JSON, atomically, secrets scrubbed (a manifest or config never holds a key)."""
    write_atomic(path, json.dumps(scrub_secrets(obj), ensure_ascii=False, indent=2, default=_json_default) + "\n")


def write_config_yaml(path: str | Path, config: Any) -> None:
    """A run's ``config.yaml``, atomically, secrets scrubbed."""
    import yaml

    write_atomic(path, yaml.safe_dump(scrub_secrets(config), sort_keys=False, allow_unicode=True))


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def repair_jsonl(path: str | Path) -> int:
    """Cut a trailing partial line left by a crash; returns the number of bytes removed."""
    path = Path(path)
    if not path.exists():
        return 0
    with open(path, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        fh.seek(size - 1)
        if fh.read(1) == b"\n":  # the usual case, checked before every append: one byte read, not the file
            return 0
        end = size
        while end > 0:  # walk back in blocks to the last complete line
            start = max(0, end - (1 << 16))
            fh.seek(start)
            newline = fh.read(end - start).rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        else:
            keep = 0
        fh.truncate(keep)
        return size - keep


def append_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Append records as JSON lines and fsync; returns how many were written."""
    path = Path(path)
    lines = [dumps(r) + "\n" for r in records]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        repair_jsonl(path)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("".join(lines))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as e:
        raise OutputError(
            f"{path}: cannot append records ({e.strerror or e}); the records written before are kept and a torn "
            f"last line is cut off on resume; fix: free disk space (or choose another --out), then rerun the "
            f"same command to resume."
        ) from None
    return len(lines)


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Complete records only: a trailing line without newline (a crash mid-write) is ignored."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                return
            if line.strip():
                yield json.loads(line)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def config_hash(config: Any) -> str:
    """sha256 of a canonical JSON form of ``config`` (key order does not matter; secrets are left out,
    so a rotated API key does not make a finished run look like another config)."""
    return hashlib.sha256(json.dumps(scrub_secrets(config), sort_keys=True, default=_json_default).encode()).hexdigest()


def git_sha() -> str | None:
    """The commit of the SentiSynth source tree, when it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment_info() -> dict[str, Any]:
    """Versions of Python, SentiSynth and the libraries that can change a result."""
    from importlib.metadata import PackageNotFoundError, version

    libs = {}
    for lib in TRACKED_LIBRARIES:
        try:
            libs[lib] = version(lib)
        except PackageNotFoundError:
            continue
    info = {
        "sentisynth": __version__,
        "git_sha": git_sha(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "libraries": libs,
    }
    llama = sys.modules.get("llama_cpp")
    if llama is not None:  # this process ran llama.cpp: which build (instruction sets) made its tokens
        try:
            info["llama_cpp_system_info"] = llama.llama_print_system_info().decode().strip()
        except Exception:  # pragma: no cover - a partial import
            pass
    return info


class RunDir:
    """A run directory: ``config.yaml``, ``manifest.json`` and whatever the command writes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def create(self) -> "RunDir":
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(
                f"{self.path}: cannot create the run directory ({e.strerror or e}); "
                f"expected a writable location; fix: choose another --out."
            ) from None
        if not os.access(self.path, os.W_OK):
            raise OutputError(f"{self.path}: the run directory is not writable; fix: choose another --out.")
        remove_stale_temporaries(self.path)
        return self

    def file(self, *parts: str) -> Path:
        return self.path.joinpath(*parts)

    def write_manifest(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into ``manifest.json`` (atomically), stamping environment and time."""
        path = self.file("manifest.json")
        manifest = read_json(path) if path.exists() else {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        manifest.update(fields)
        manifest["environment"] = environment_info()
        manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        write_json(path, manifest)
        return manifest
