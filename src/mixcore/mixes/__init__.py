"""Mixes: how a request's `model` becomes upstream calls (direct, index, synthesis, cascade, vote)."""
