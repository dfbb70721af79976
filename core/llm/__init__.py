"""LLM providers and orchestration: narration, rubric evaluation and hints (never decisions)."""
