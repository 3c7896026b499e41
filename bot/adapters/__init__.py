"""Chat platform adapters: each renders the shared commands in `bot.commands` on one platform."""
