"""Discord: the chat adapter (slash commands, review buttons) and the campaign channel publisher.

`client.py` builds and runs the client and registers `commands.py` and `review.py`, whose checks are
in `checks.py`; `interaction.py` is what those handlers use of the client, `replies.py` how answers
and errors are sent, `text.py` Discord's message limit.
"""
