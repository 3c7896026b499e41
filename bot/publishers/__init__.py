"""Platforms the campaign outbox publishes to: X, and the local outbox folder when X is not configured."""
