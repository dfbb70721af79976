"""Pydantic request and response models: the typed edge of the HTTP API (and its OpenAPI)."""
