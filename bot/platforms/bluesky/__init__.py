"""Bluesky: the campaign publisher (`publisher.py`, atproto) and Bluesky's text rules and record keys
(`text.py`)."""
