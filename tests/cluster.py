"""A real cluster on this machine: a PostgreSQL server (``tests/pg.py``), N ``llm4tag serve`` replicas, each
with its own empty working directory and only ``LLM4TAG_STORE_URL``, and nginx (Debian's package) balancing
them. The tests use it; ``scripts/cluster.sh`` starts one by hand:

    python -m tests.cluster --project sample-project --replicas 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from tests.pg import PostgresServer, _free_port

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class Replica:
    def __init__(self, directory: Path, url: str, port: int) -> None:
        self.directory, self.store_url, self.port = directory, url, port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 120) -> None:
        env = {**os.environ, "LLM4TAG_STORE_URL": self.store_url}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "llm4tag.cli", "serve", "-p", str(self.directory), "--port", str(self.port), "-q"],
            cwd=ROOT,  # the tests' embedder (tests.conftest:HashingEmbedder) imports from here
            env=env,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"replica on port {self.port} exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"replica on port {self.port} did not become ready")

    def kill(self) -> None:
        """``kill -9``: no shutdown of any kind."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class Balancer:
    """nginx in front of the replicas: a request that cannot reach one (refused, reset) goes to the next."""

    def __init__(self, directory: Path, ports: list[int]) -> None:
        self.directory, self.port = directory, _free_port()
        servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in ports)
        (directory / "logs").mkdir(parents=True, exist_ok=True)
        (directory / "nginx.conf").write_text(
            f"""
worker_processes 1;
error_log {directory}/logs/error.log warn;
pid {directory}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    upstream replicas {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{self.port};
        location / {{
            proxy_pass http://replicas;
            proxy_set_header Host 127.0.0.1;
            # feedback and learn are idempotent (a content's tags are merged, knowledge is stored once): a request
            # whose replica died before answering is sent to the next one
            proxy_next_upstream error timeout non_idempotent;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
        }}
    }}
}}
""",
            encoding="utf-8",
        )
        self.process = subprocess.Popen(
            [NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-g", "daemon off;"],
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class Cluster:
    def __init__(self, postgres: PostgresServer, store_url: str, replicas: int, work: Path) -> None:
        self.postgres, self.store_url, self.work = postgres, store_url, work
        self.replicas = [Replica(work / f"replica-{i}", store_url, _free_port()) for i in range(replicas)]
        self.balancer: Balancer | None = None

    def start(self) -> Cluster:
        for replica in self.replicas:  # one at a time: the first fits or pulls what the others then pull
            replica.start()
        self.balancer = Balancer(self.work / "nginx", [r.port for r in self.replicas])
        return self

    def stop(self) -> None:
        if self.balancer is not None:
            self.balancer.stop()
        for replica in self.replicas:
            replica.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", required=True, help="a project to copy into the cluster's store")
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args()
    postgres = PostgresServer.start()
    url = postgres.new_database()
    work = Path(tempfile.mkdtemp(prefix="llm4tag-cluster-"))
    subprocess.run([sys.executable, "-m", "llm4tag.cli", "store", "copy", "--from", args.project, "--to", url],
                   check=True)  # fmt: skip
    cluster = Cluster(postgres, url, args.replicas, work).start()
    print(f"store {url}\nreplicas {' '.join(r.url for r in cluster.replicas)}\nbalancer {cluster.balancer.url}")
    print("Ctrl-C stops the cluster", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
        postgres.remove()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
