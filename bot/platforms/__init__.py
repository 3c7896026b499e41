"""Where posts go, one folder per platform (`x/`, `discord/`, `local/`, ...), each holding its
publisher and its text rules and declaring itself in its `__init__.py` (`declaration.Platform`);
`base.py` is what the outbox asks of every platform. A new platform is a new folder, found by
`catalog.py`."""
