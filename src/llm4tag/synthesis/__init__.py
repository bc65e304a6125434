"""The LLM where it is cheap: once per tag, not per content. ``examples``: synthetic example contents for tags
with few (``llm4tag synthesize``); ``descriptions``: descriptions and aliases for tags without
(``llm4tag describe``); ``check``: whether the synthetic contents pay, on held-out real contents."""

from llm4tag.synthesis.check import check_synthetic, last_decision
from llm4tag.synthesis.descriptions import Describer, DescribeSettings
from llm4tag.synthesis.examples import SynthesisSettings, Synthesizer, read_status, status_path

__all__ = [
    "DescribeSettings",
    "Describer",
    "SynthesisSettings",
    "Synthesizer",
    "check_synthetic",
    "last_decision",
    "read_status",
    "status_path",
]
