"""Mastodon: the campaign publisher (`publisher.py`, Mastodon.py) and Mastodon's text rules (`text.py`)."""
