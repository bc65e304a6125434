"""The LLM stages: knowledge-enhanced tag selection (generation) and the Yes/No judge, their prompts, and
short-term knowledge retrieved into prompts."""
