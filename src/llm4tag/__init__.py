"""llm4tag: automatic tagging with LLMs: graph recall, knowledge-enhanced generation, calibrated confidence.

Start at ``llm4tag.project.Project`` (the Python API); docs/architecture.md maps the packages.
"""
