"""Discord: the chat adapter (slash commands, review buttons) and the campaign channel publisher.

`client.py` builds and runs the client and registers `commands.py` and `review.py`, whose checks are
in `checks.py`; `interaction.py` is what those handlers use of the client, `replies.py` how answers
and errors are sent, `text.py` Discord's message limit. The adapter publishes through its client;
workers without it publish over REST alone (`publisher.RestDiscordPublisher`).
"""

from bot.platforms.declaration import Platform

PLATFORM = Platform(
    name="discord", publisher="bot.platforms.discord.publisher:DiscordPublisher",
    configured=lambda settings: settings.discord_token is not None
    and settings.discord_campaign_channel_id is not None,
    builder="bot.platforms.discord.publisher:RestDiscordPublisher",
    adapter="bot.platforms.discord.client:start_discord",
    adapter_configured=lambda settings: settings.discord_token is not None,
)
