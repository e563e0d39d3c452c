"""Mixcore: LLM mixes (index, synthesis, cascade, vote) behind one OpenAI-compatible API."""

__version__ = "0.1.0"
