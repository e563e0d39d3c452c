"""The HTTP API: OpenAI-compatible schemas, routes and OpenAI-shaped errors (Powertools resolvers)."""
