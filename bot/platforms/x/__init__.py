"""X: the campaign publisher (`publisher.py`) and X's text rules (`text.py`)."""
