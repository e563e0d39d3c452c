"""Persistence: small interfaces the domain depends on, with DynamoDB and in-memory implementations."""
