"""The HTTP service's settings (``[service]`` in ``llm4tag.toml``). A leaf module: reading a configuration
imports this, not the service (FastAPI)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    # reconciliation (OpenRefine): a cell of at most this many words is a keyword, matched by name; a longer one
    # is a text, tagged by the pipeline
    reconcile_keyword_max_words: int = 8
    # a text's top tag is an automatic match (``match: true``) from this calibrated confidence (or the pruning
    # threshold, if higher) and only if the pipeline keeps it
    reconcile_match_confidence: float = 0.8
