"""The nowbot service: configuration, CLI, commands, adapters and scheduler."""
