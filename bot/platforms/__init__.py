"""Where posts go, one folder per platform (`x/`, `discord/`, `local/`), each holding its publisher
and its text rules; `base.py` is what the outbox asks of every platform. A new platform is a new
folder, with its publisher named in `catalog.py`."""
