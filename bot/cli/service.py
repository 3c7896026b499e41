"""`nowbot run`: the main job."""

from bot.cli.common import cli_app, console


def run() -> None:
    """Run the bot: scheduler, configured adapters and the dashboard, until Ctrl-C.

    With nothing configured it seeds a demo campaign, trains briefly and posts to var/outbox.
    """
    from bot import generation
    from bot.service import run_service

    with cli_app() as app:
        settings = app.settings
        console.print(
            f"nowbot running on {app.engine.url.render_as_string(hide_password=True)}; "
            f"dashboard http://{settings.dashboard_host}:{settings.dashboard_port}/ (Ctrl-C stops)",
            highlight=False,
        )
        run_service(app, generation)
