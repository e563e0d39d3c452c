"""The base of every Mixcore data model: a pydantic model whose validator is built on first use.

A function's cold start imports some thirty models. Built at import, their validators cost about a
sixth of the chat function's init (issue 16), and a model only ever validated inside another (a
`Price` inside a `CatalogModel`, a `ContentPart` inside a `ChatMessage`) never needs one of its own.
With `defer_build` a model's validator is built the first time it is used, once per process.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)
