"""Prompt templates are data: TOML files of Jinja2 templates, overridable per project."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jinja2 import Environment, StrictUndefined, TemplateError

from llm4tag.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_ENV = Environment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


@dataclass
class PromptTemplate:
    name: str
    source: str
    system: str
    user: str

    def messages(self, **variables) -> list[dict[str, str]]:
        try:
            system = _ENV.from_string(self.system).render(**variables).strip()
            user = _ENV.from_string(self.user).render(**variables).strip()
        except TemplateError as exc:
            raise ConfigError(f"prompt template {self.source}: {exc}") from None
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": user})
        return messages


def load_prompt(name: str, override_dir: Path | None = None) -> PromptTemplate:
    """The project's own ``prompts/<name>.toml`` if present, else the packaged default."""
    if override_dir is not None and (override_dir / f"{name}.toml").exists():
        path = override_dir / f"{name}.toml"
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        resource = resources.files("llm4tag.prompts").joinpath(f"{name}.toml")
        if not resource.is_file():
            raise ConfigError(f"no prompt template named {name!r}")
        text, source = resource.read_text(encoding="utf-8"), f"llm4tag/prompts/{name}.toml"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    if "user" not in data:
        raise ConfigError(f"{source}: a prompt template needs a 'user' template")
    return PromptTemplate(name=name, source=source, system=data.get("system", ""), user=data["user"])
