"""Tag library: the tags a content may receive, and how to load them."""

from llm4tag.library.loaders import load_tag_library
from llm4tag.library.tags import Tag, TagLibrary, normalize_label

__all__ = ["Tag", "TagLibrary", "load_tag_library", "normalize_label"]
