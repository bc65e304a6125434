"""Project configuration: one TOML file, validated when read."""

from __future__ import annotations

import logging
import math
import sys
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from llm4tag.calibration.settings import ConfidenceConfig
from llm4tag.errors import ConfigError
from llm4tag.fileio import atomic_write
from llm4tag.generation.settings import GenerationConfig
from llm4tag.recall.settings import PATHS, RecallConfig

log = logging.getLogger(__name__)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAME = "llm4tag.toml"


@dataclass
class EmbeddingConfig:
    backend: str = "sentence-transformers"
    # max_seq_length 128 for new projects: on debtags as good as 256 or better, and encoding 1.4x as fast
    # (docs/experiments/recall-speed.md); projects made before keep the model's 256 (their cached vectors stay valid)
    options: dict[str, Any] = field(
        default_factory=lambda: {"model": "default", "batch_size": 32, "max_seq_length": 128}
    )


@dataclass
class IndexConfig:
    exact_limit: int = 200_000
    nprobe: int = 16
    max_text_chars: int = 1_000_000  # a longer content in an input file is an error (file, line), not a 6 GB index


@dataclass
class LLMConfig:
    backend: str = "llamacpp"
    options: dict[str, Any] = field(default_factory=lambda: {"model": "qwen2.5-coder-1.5b", "threads": 1})


@dataclass
class ServiceConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    api_keys: list[str] = field(default_factory=list)  # also LLM4TAG_API_KEYS (comma-separated)
    max_request_bytes: int = 1_000_000
    max_batch: int = 32  # documents per batch request (Annif's limit too)
    max_text_chars: int = 100_000
    batch_window_ms: float = 5.0  # concurrent requests arriving within this window share one pipeline batch
    compute_threads: int = 1  # OpenMP/BLAS threads of the service's pipeline batches (0: the libraries' defaults)
    review_below: float = 0.6  # served tags under this confidence go to the review queue
    review_limit: int = 10_000  # pending review items kept; beyond it the oldest leave the queue
    recent_vectors: int = 20_000  # tagged texts' vectors kept in memory (the store keeps contents' and tags' only)
    recent_judgements: int = 100_000  # the LLM's judgements of tagged texts kept in memory (not in the store)
    retry_after_seconds: int = 30  # told to clients when the LLM backend is down
    llm_deadline_seconds: float = 60.0  # tagging that calls the LLM answers 503 past this
    shutdown_seconds: int = 5  # on SIGTERM, in-flight requests get this long before the server stops
    workers: int = 1  # processes serving on the port (``serve --workers``): each holds its own copy of the models
    # Host headers answered (a browser page that rebinds its name to this machine sends its own): empty = the
    # loopback names and the bound host when no API keys are set, any host when keys are set; "*" = any host
    allowed_hosts: list[str] = field(default_factory=list)


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


SECTIONS = ("project", "embedding", "index", "recall", "llm", "generation", "confidence", "service")


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
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    recall: RecallConfig = field(default_factory=RecallConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    confidence: ConfidenceConfig = field(default_factory=ConfidenceConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"project": {"name": self.name, "language": self.language}}
        out["embedding"] = {"backend": self.embedding.backend, **self.embedding.options}
        out["index"] = asdict(self.index)
        out["recall"] = asdict(self.recall)
        out["llm"] = {"backend": self.llm.backend, **self.llm.options}
        out["generation"] = asdict(self.generation)
        # an unset option is left out: TOML has no null
        out["confidence"] = {k: v for k, v in asdict(self.confidence).items() if v is not None}
        out["service"] = asdict(self.service)
        return out

    def save(self, directory: Path) -> None:
        import tomli_w

        with atomic_write(directory / CONFIG_NAME, "wb") as handle:
            tomli_w.dump(self.to_dict(), handle)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = CONFIG_NAME) -> ProjectConfig:
        data = dict(data)
        unknown = sorted(set(data) - set(SECTIONS))
        if unknown:
            raise ConfigError(
                f"{source}: unknown section(s) {', '.join(f'[{u}]' for u in unknown)}; expected {', '.join(SECTIONS)}"
            )
        try:
            project = {"name": "llm4tag", "language": "en", **_check_project(data.pop("project", {}), source)}
            for key in ("embedding", "llm"):
                if not isinstance(data.get(key, {}), dict):
                    raise ConfigError(f"{source}: [{key}] must be a table")
            embedding = dict(data.pop("embedding", {}))
            backend = embedding.pop("backend", "sentence-transformers")
            index = _section(IndexConfig, data.pop("index", {}), "index", source)
            recall_table = data.pop("recall", {})
            recall = _section(RecallConfig, recall_table, "recall", source)
            _warn_paths_left_off(recall_table, recall, source)
            generation = _section(GenerationConfig, data.pop("generation", {}), "generation", source)
            confidence = _section(ConfidenceConfig, data.pop("confidence", {}), "confidence", source)
            service = _section(ServiceConfig, data.pop("service", {}), "service", source)
            llm = dict(data.pop("llm", {}))
            llm_backend = llm.pop("backend", "llamacpp")
        except TypeError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        return cls(
            name=project["name"],
            language=project["language"],
            embedding=EmbeddingConfig(
                backend=backend,
                options=embedding if embedding or backend != EmbeddingConfig.backend else EmbeddingConfig().options,
            ),
            index=index,
            recall=recall,
            llm=LLMConfig(
                backend=llm_backend, options=llm if llm or llm_backend != LLMConfig.backend else LLMConfig().options
            ),
            generation=generation,
            confidence=confidence,
            service=service,
        )

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
