"""`nowbot run`: the main job."""

from bot.cli.common import cli_app, console
from storage.db import current_revision


def run() -> None:
    """Run the bot on the configured database (embedded SQLite by default)."""
    with cli_app() as app:
        console.print(
            f"nowbot ready: database {app.engine.url.render_as_string(hide_password=True)} "
            f"at revision {current_revision(app.engine)}, artifacts in {app.artifacts_dir}"
        )
