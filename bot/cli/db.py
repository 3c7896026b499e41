"""`nowbot db ...`: schema migrations."""

from bot.cli.common import cli_app, console
from bot.cli.groups import db


@db.command("upgrade")
def upgrade_command() -> None:
    """Apply every pending migration (also done automatically at start)."""
    from storage.db import current_revision

    with cli_app() as app:
        console.print(f"database at revision {current_revision(app.engine)}")


@db.command("current")
def current_command() -> None:
    """Show the schema revision the database is at."""
    from storage.db import current_revision

    with cli_app() as app:
        console.print(current_revision(app.engine) or "empty")
