"""Project configuration: one TOML file, validated when read.

Each section's settings are a dataclass owned by the package that uses them, in a leaf module of its own
(``<package>/settings.py``); this module reads and writes the file from one table of them (``SECTIONS``) and
names no algorithm. Settings renamed since a project was written are read under their new names, with one
warning that gives the new spelling (``RENAMED``)."""

from __future__ import annotations

import logging
import math
import sys
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from llm4tag.calibration.settings import ConfidenceConfig, PruneConfig
from llm4tag.embedding.settings import EmbeddingConfig
from llm4tag.errors import ConfigError
from llm4tag.fileio import atomic_write
from llm4tag.generation.settings import GenerationConfig
from llm4tag.index.settings import IndexConfig
from llm4tag.llm.settings import LLMConfig
from llm4tag.pipeline.settings import PipelineConfig
from llm4tag.recall import settings as recall_settings
from llm4tag.recall.settings import PATHS, RecallConfig
from llm4tag.service.settings import ServiceConfig
from llm4tag.store.settings import StoreConfig

log = logging.getLogger(__name__)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAME = "llm4tag.toml"


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _check_value(value: Any, expected: Any, where: str) -> None:
    """Raise ``ConfigError`` unless ``value`` has the annotated type (TOML gives bools, ints, floats, strings);
    numbers must be finite and not negative."""
    origin = typing.get_origin(expected)
    args = typing.get_args(expected)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return
        expected = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(expected), typing.get_args(expected)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        for i, item in enumerate(value):
            _check_value(item, args[0] if args else Any, f"{where}[{i}]")
        return
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        for key, item in value.items():
            _check_value(item, args[1] if len(args) == 2 else Any, f"{where}.{key}")
        return
    if expected is Any:
        return
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
    }[expected](value)
    if not ok:
        raise ConfigError(f"{where}: expected {_TYPE_NAMES[expected]}, got {value!r}")
    if expected in (int, float) and (not math.isfinite(value) or value < 0):
        raise ConfigError(f"{where}: must be a finite number of at least 0, got {value!r}")


def _section(cls, data: Any, name: str, source: str):
    """A config section, every key checked against its dataclass field: name, type, range."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: [{name}] must be a table, got {data!r}")
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in [{name}]: {', '.join(sorted(unknown))}")
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        _check_value(value, hints[key], f"{source}: [{name}] {key}")
    try:
        return cls(**data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: [{name}] {exc}") from None


# section -> its settings; [embedding] and [llm] hold a backend name and that backend's options
SECTIONS: dict[str, type] = {
    "store": StoreConfig,
    "embedding": EmbeddingConfig,
    "index": IndexConfig,
    "recall": RecallConfig,
    "llm": LLMConfig,
    "generation": GenerationConfig,
    "pipeline": PipelineConfig,
    "confidence": ConfidenceConfig,
    "prune": PruneConfig,
    "service": ServiceConfig,
}
BACKEND_SECTIONS = ("embedding", "llm")

# (section, key) written by earlier versions -> (section, key) now
RENAMED: dict[tuple[str, str], tuple[str, str]] = {
    **{("confidence", key): ("pipeline", key) for key in ("use_llm", "judge", "judge_top_n", "route")},
    ("confidence", "thin_min_confidence"): ("confidence", "few_examples_min_confidence"),
    **{("recall", old): ("recall", new) for old, new in recall_settings.RENAMED.items()},
}
RENAMED_VALUES = {("pipeline", "judge"): {"thin": "few-examples"}}


def _upgrade(data: dict[str, Any], source: str) -> dict[str, Any]:
    """``data`` with settings written under an earlier name moved to the new one, and one warning naming each
    (the file itself is left as it is; llm4tag writes the new names whenever it saves the configuration)."""
    data = {name: dict(table) if isinstance(table, dict) else table for name, table in data.items()}
    moved = []
    for (old_section, old_key), (section, key) in RENAMED.items():
        table = data.get(old_section)
        if not isinstance(table, dict) or old_key not in table:
            continue
        value = table.pop(old_key)
        target = data.setdefault(section, {})
        if isinstance(target, dict) and key not in target:  # where both are written, the new spelling wins
            target[key] = value
        moved.append(f"[{old_section}] {old_key} -> [{section}] {key}")
    for (section, key), values in RENAMED_VALUES.items():
        table = data.get(section)
        if isinstance(table, dict) and table.get(key) in values:
            old = table[key]
            table[key] = values[old]
            moved.append(f'[{section}] {key} = "{old}" -> "{values[old]}"')
    if moved:
        log.warning(
            "%s uses settings renamed since it was written; read as: %s. Write the new names to silence this"
            " (llm4tag does whenever it saves the configuration).",
            source,
            "; ".join(moved),
        )
    return data


def _warn_paths_left_off(table: Any, recall: RecallConfig, source: str) -> None:
    """A ``[recall.weights]`` table is the whole set of weights: a path it does not list is off. Say so, because
    a table written before a path existed, or one meant to change a single weight, turns paths off unasked."""
    if not isinstance(table, dict) or "weights" not in table:
        return
    left_off = [name for name in PATHS if name not in recall.weights]
    if not left_off:
        return
    defaults, one = RecallConfig().weights, len(left_off) == 1
    which, them = ("that path is", "it") if one else ("those paths are", "them")
    settings = " and ".join(f"'{name} = {defaults.get(name, 1.0)}'" for name in left_off)
    log.warning(
        f"{source}: [recall.weights] does not list {', '.join(left_off)}, so {which} off; add {settings} to turn"
        f" {them} on, or 0 to keep {them} off quietly"
    )


def _check_project(data: Any, source: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: [project] must be a table")
    unknown = set(data) - {"name", "language"}
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in [project]: {', '.join(sorted(unknown))}")
    for key, value in data.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{source}: [project] {key}: expected a non-empty string, got {value!r}")
    return data


@dataclass
class ProjectConfig:
    name: str = "llm4tag"
    language: str = "en"  # of the tag labels (SKOS prefLabels are read in it; reported to Annif clients)
    store: StoreConfig = field(default_factory=StoreConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    recall: RecallConfig = field(default_factory=RecallConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    confidence: ConfidenceConfig = field(default_factory=ConfidenceConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"project": {"name": self.name, "language": self.language}}
        for name in SECTIONS:
            section = getattr(self, name)
            if name in BACKEND_SECTIONS:
                out[name] = {"backend": section.backend, **section.options}
            else:  # an unset option is left out: TOML has no null
                out[name] = {k: v for k, v in asdict(section).items() if v is not None}
        return out

    def save(self, directory: Path) -> None:
        import tomli_w

        with atomic_write(directory / CONFIG_NAME, "wb") as handle:
            tomli_w.dump(self.to_dict(), handle)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = CONFIG_NAME) -> ProjectConfig:
        known = ("project", *SECTIONS)
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(
                f"{source}: unknown section(s) {', '.join(f'[{u}]' for u in unknown)}; expected {', '.join(known)}"
            )
        data = _upgrade(data, source)
        project = {"name": "llm4tag", "language": "en", **_check_project(data.get("project", {}), source)}
        sections = {}
        for name, cls_ in SECTIONS.items():
            table = data.get(name, {})
            if name in BACKEND_SECTIONS:
                sections[name] = _backend_section(cls_, table, name, source)
            else:
                sections[name] = _section(cls_, table, name, source)
        _warn_paths_left_off(data.get("recall"), sections["recall"], source)
        return cls(name=project["name"], language=project["language"], **sections)

    @classmethod
    def load(cls, directory: Path) -> ProjectConfig:
        path = directory / CONFIG_NAME
        if not path.exists():
            raise ConfigError(f"{directory} is not an llm4tag project (no {CONFIG_NAME}); run 'llm4tag init'")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        return cls.from_dict(data, source=str(path))


def _backend_section(cls, data: Any, name: str, source: str):
    """``[embedding]`` or ``[llm]``: a backend name and that backend's options (checked by the backend)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    options = dict(data)
    backend = options.pop("backend", cls.backend)
    if not isinstance(backend, str) or not backend:
        raise ConfigError(f"{source}: [{name}] backend: expected a backend name, got {backend!r}")
    return cls(backend=backend, options=options if options or backend != cls.backend else cls().options)
