"""`python -m bot.cli ...`, how the service starts training in a child process."""

from bot.cli import app

if __name__ == "__main__":
    app(prog_name="nowbot")
