"""Run ``llm4tag serve`` in a subprocess with the test embedder registered (used by service tests).

python -m tests.serve_fake PROJECT PORT
"""

from __future__ import annotations

import sys

from llm4tag import embedding
from llm4tag.cli import main

embedding._REGISTRY["test-hashing"] = ("tests.conftest", "HashingEmbedder")

if __name__ == "__main__":
    sys.exit(main(["serve", "-p", sys.argv[1], "--port", sys.argv[2], "-q"]))
