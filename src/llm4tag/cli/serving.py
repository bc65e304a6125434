"""``serve`` (the HTTP service, one process or several) and ``demo`` (a sample project, tagged end to end)."""

from __future__ import annotations

import argparse
from pathlib import Path

from llm4tag.cli.common import add_command, add_pipeline_overrides, overrides
from llm4tag.errors import Llm4tagError


def register(sub) -> None:
    p = add_command(sub, "serve", cmd_serve, "HTTP service: API (/docs), Annif-compatible API, web UI (/), metrics")
    p.add_argument("--host", help="bind address (default [service] host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default [service] port, 8080)")
    p.add_argument("--quiet", "-q", action="store_true", help="no access log")
    p.add_argument(
        "--workers",
        type=int,
        help="processes serving on the port (default [service] workers, 1); on two cores, 2 serve 1.04-1.26x the"
        " recall-only requests of one; each holds its own copy of the models",
    )
    add_pipeline_overrides(p)

    p = add_command(
        sub, "demo", cmd_demo, "build a sample project from debtags and tag a few test documents", project=False
    )
    p.add_argument(
        "--data", help="a debtags directory (tags, train, dev, test .jsonl[.gz]; default: the sample in the package)"
    )
    p.add_argument("--project", default="sample-project", help="where to build the sample project")
    p.add_argument("--train-limit", type=int, default=5000, help="annotated documents to index (0 = all)")
    p.add_argument("--documents", type=int, default=5, help="test documents to tag")
    p.add_argument("--no-llm", action="store_true", help="recall only, no LLM")
    p.add_argument(
        "--embedding",
        choices=("sentence-transformers", "model2vec"),
        help="embedder of a new sample project (default: MiniLM; model2vec: static vectors, seconds to build)",
    )


def cmd_serve(args: argparse.Namespace) -> None:
    try:
        import uvicorn

        from llm4tag.service import create_app
    except ImportError as exc:
        raise Llm4tagError(
            f"the service needs its extra: pip install 'llm4tag[serve]' ({exc.name} is missing)"
        ) from None
    from llm4tag.project import Project

    with Project.open(args.project, durable=True) as project:
        config = project.config.service
        config.host = args.host or config.host
        config.port = args.port or config.port
        config.workers = config.workers if args.workers is None else args.workers
        if config.workers < 1:
            raise Llm4tagError(f"--workers ([service] workers) must be at least 1, got {config.workers}")
        app = create_app(project, config, overrides=overrides(args))  # checked here, once, in every case
        # a request stuck behind a hung backend must not hold up SIGTERM: give in-flight requests a few seconds
        log_level = "warning" if args.quiet else "info"
        options = {"log_level": log_level, "timeout_graceful_shutdown": config.shutdown_seconds}
        if config.workers == 1:
            uvicorn.run(app, host=config.host, port=config.port, **options)
            return
    from llm4tag.service.processes import serve

    del app  # each worker opens the project itself
    serve(args.project, config.host, config.port, config.workers, overrides(args), options)


def cmd_demo(args: argparse.Namespace) -> None:
    from llm4tag.demo import run_demo

    run_demo(
        Path(args.data) if args.data else None,
        Path(args.project),
        train_limit=args.train_limit,
        documents=args.documents,
        use_llm=not args.no_llm,
        embedding=args.embedding,
    )
