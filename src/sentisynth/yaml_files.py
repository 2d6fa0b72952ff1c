"""Reading YAML config files: safe loading only, and one-line errors a user can act on.

Every command that takes ``--config`` (experiment, generate, filter, augment) and every
``--set KEY=VALUE`` reads YAML here, so a missing file, a directory, bad bytes, bad syntax or a
repeated key gives the same kind of message everywhere and never a traceback. Only
``yaml.SafeLoader`` is used: a config file cannot construct Python objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ConfigError


def unique_key_loader() -> type:
    """A safe YAML loader that rejects a key repeated in one mapping (PyYAML keeps the last silently)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                seen: set[Any] = set()
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=deep)
                    try:
                        repeated = key in seen
                    except TypeError:  # unhashable key: let the base class report it
                        continue
                    if repeated:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {key!r} (a repeated key silently replaces the first)",
                            key_node.start_mark,
                        )
                    seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def parse_yaml(text: str, where: str) -> Any:
    """``text`` as YAML; a :class:`ConfigError` naming ``where`` and the line when it is not valid."""
    import yaml

    try:
        return yaml.load(text, Loader=unique_key_loader())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            line = f"line {mark.line + 1}"
        elif isinstance(getattr(e, "position", None), int):  # yaml.reader.ReaderError (bad characters)
            line = f"line {text.count(chr(10), 0, e.position) + 1}"
        else:
            line = "somewhere"
        problem = getattr(e, "problem", None) or getattr(e, "reason", None) or str(e)
        if isinstance(e, yaml.reader.ReaderError):
            problem = f"unacceptable character #x{e.character:04x}: {e.reason}" if isinstance(e.character, int) else e.reason
        problem = " ".join(str(problem).split())
        fix = "keep one of the repeated keys" if problem.startswith("duplicate key") else "check indentation and quoting"
        raise ConfigError(f"{where}: {line}: not valid YAML ({problem}); fix: {fix}.") from None
    except (RecursionError, ValueError, TypeError) as e:  # e.g. absurd nesting, unhashable keys
        raise ConfigError(f"{where}: cannot read this YAML ({' '.join(str(e).split())[:200]}); fix: check its structure.") from None


def read_yaml(path: str | Path) -> Any:
    """The YAML document in ``path`` (None when empty), with clear errors for file problems."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found; fix: check the path.")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory; expected a YAML config file; fix: point at a file inside it.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; expected a YAML file; fix: re-save it as UTF-8.") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config ({e.strerror or e}); fix: check its permissions.") from None
    return parse_yaml(text, str(path))


def read_yaml_mapping(path: str | Path | None, what: str) -> dict[str, Any]:
    """The YAML mapping in ``path`` (empty when ``path`` is None or the file is empty)."""
    if path is None:
        return {}
    loaded = read_yaml(path)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a YAML mapping of {what} (key: value lines); got a {type(loaded).__name__}.")
    return loaded
