"""Where SentiSynth keeps caches, and where shared benchmark data is found."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Cache root: ``$SENTISYNTH_CACHE``, else ``~/.cache/sentisynth``. Safe to delete at any time."""
    return Path(os.environ.get("SENTISYNTH_CACHE") or Path.home() / ".cache" / "sentisynth")
