"""Getting data in: tweet importers, X collection, cleaning, and image sets. Never imports `bot`."""
