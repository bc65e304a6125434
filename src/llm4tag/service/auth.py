"""Who may write: API keys (``Authorization: Bearer KEY`` or ``X-API-Key: KEY``) from ``[service] api_keys``
and ``LLM4TAG_API_KEYS``. Without keys every endpoint is open, which the service allows on a loopback address
only."""

from __future__ import annotations

import hmac
import os

from fastapi import Request

from llm4tag.errors import ConfigError
from llm4tag.service.schemas import ServiceError
from llm4tag.service.settings import ServiceConfig


def api_keys(config: ServiceConfig) -> list[str]:
    """The configured keys; an empty or blank key is a configuration error, never a key that matches nothing."""
    for i, key in enumerate(config.api_keys):
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"[service] api_keys: key {i + 1} is empty; remove it or give a real key")
    from_env = [k.strip() for k in os.environ.get("LLM4TAG_API_KEYS", "").split(",") if k.strip()]
    return [k.strip() for k in config.api_keys] + from_env


class Keys:
    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def authorized(self, request: Request) -> bool:
        if not self.keys:
            return True
        given = request.headers.get("x-api-key") or ""
        auth = request.headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return bool(given) and any(hmac.compare_digest(given.encode(), key.encode()) for key in self.keys)


def require_key(request: Request) -> None:
    """The dependency of every writing endpoint (and of the review queue, which holds earlier clients' texts)."""
    if not request.app.state.service.keys.authorized(request):
        raise ServiceError(401, "this endpoint needs an API key (Authorization: Bearer KEY or X-API-Key)")
