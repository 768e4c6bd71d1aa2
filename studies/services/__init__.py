"""Writes of the studies app: uploads (tus), ingest, notifications. One function per use case."""
