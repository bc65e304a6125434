"""Prometheus metrics of the service (its own registry, so several apps in one process don't collide)."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

METRICS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own name: it reads it when first imported


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("llm4tag_requests", "HTTP requests", ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram(
            "llm4tag_request_latency_seconds",
            "HTTP request latency",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.contents = Counter("llm4tag_contents_tagged", "Contents tagged", registry=self.registry)
        self.llm_calls = Counter("llm4tag_llm_calls", "LLM calls (generation and judgement)", registry=self.registry)
        self.errors = Counter("llm4tag_errors", "Failed requests by kind", ["kind"], registry=self.registry)
        self.batches = Counter(
            "llm4tag_pipeline_batches", "Pipeline batches (concurrent requests share one)", registry=self.registry
        )
        self.feedback = Counter("llm4tag_feedback", "Feedback items stored", ["kind"], registry=self.registry)
        self.refitting = Gauge(
            "llm4tag_refits_in_progress",
            "Learned recall paths being refitted in the background (requests are answered meanwhile)",
            multiprocess_mode="max",
            registry=self.registry,
        )
        self.refits = Gauge(
            "llm4tag_refits_done",
            "Background refits swapped in since this worker started",
            multiprocess_mode="sum",
            registry=self.registry,
        )


def exposition(metrics: ServiceMetrics) -> bytes:
    """The Prometheus exposition: summed over every worker process (``serve --workers``), or this one's."""
    directory = os.environ.get(METRICS_VARIABLE)
    if not directory:
        return generate_latest(metrics.registry)
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)
