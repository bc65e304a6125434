"""Tag discovery: the tags the library is missing, proposed from the contents it serves badly (``run.py``)."""

from llm4tag.discovery.run import Discovery, DiscoverySettings

__all__ = ["Discovery", "DiscoverySettings"]
