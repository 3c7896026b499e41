"""The local outbox folder: where posts go when no platform is configured."""
