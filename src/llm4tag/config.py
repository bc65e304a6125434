"""Project configuration: one TOML file, validated when read."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from llm4tag.calibration.confidence import ConfidenceConfig
from llm4tag.errors import ConfigError
from llm4tag.fileio import atomic_write
from llm4tag.generation.generator import GenerationConfig
from llm4tag.recall.recaller import RecallConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAME = "llm4tag.toml"


@dataclass
class EmbeddingConfig:
    backend: str = "sentence-transformers"
    options: dict[str, Any] = field(default_factory=lambda: {"model": "default", "batch_size": 32})


@dataclass
class IndexConfig:
    exact_limit: int = 200_000
    nprobe: int = 16


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
    review_below: float = 0.6  # served tags under this confidence go to the review queue
    retry_after_seconds: int = 30  # told to clients when the LLM backend is down


def _section(cls, data: dict[str, Any], name: str, source: str):
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in [{name}]: {', '.join(sorted(unknown))}")
    return cls(**data)


@dataclass
class ProjectConfig:
    name: str = "llm4tag"
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    recall: RecallConfig = field(default_factory=RecallConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    confidence: ConfidenceConfig = field(default_factory=ConfidenceConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"project": {"name": self.name}}
        out["embedding"] = {"backend": self.embedding.backend, **self.embedding.options}
        out["index"] = asdict(self.index)
        out["recall"] = asdict(self.recall)
        out["llm"] = {"backend": self.llm.backend, **self.llm.options}
        out["generation"] = asdict(self.generation)
        out["confidence"] = asdict(self.confidence)
        out["service"] = asdict(self.service)
        out.update(self.extra)
        return out

    def save(self, directory: Path) -> None:
        import tomli_w

        with atomic_write(directory / CONFIG_NAME, "wb") as handle:
            tomli_w.dump(self.to_dict(), handle)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = CONFIG_NAME) -> ProjectConfig:
        data = dict(data)
        try:
            project = data.pop("project", {})
            embedding = dict(data.pop("embedding", {}))
            backend = embedding.pop("backend", "sentence-transformers")
            index = _section(IndexConfig, data.pop("index", {}), "index", source)
            recall = _section(RecallConfig, data.pop("recall", {}), "recall", source)
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
            name=project.get("name", "llm4tag"),
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
            extra=data,
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
