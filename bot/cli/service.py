"""`nowbot run`: the main job."""

from bot.cli.common import cli_app


def run() -> None:
    """Run the bot: scheduler, configured adapters and the dashboard, until Ctrl-C.

    With nothing configured it seeds a demo campaign, trains briefly and prepares posts for
    review in the dashboard; approved ones go to var/outbox. The console shows what happens;
    var/logs/nowbot.log has every detail (`nowbot logs -f`).
    """
    from bot import generation
    from bot.logs import log_to_file, native_stderr_to
    from bot.service import run_service

    with cli_app() as app:
        logs = app.settings.data_dir / "logs"
        log_to_file(logs)
        with native_stderr_to(logs):  # TensorFlow's C++ lines, when it draws a post's image
            run_service(app, generation)
