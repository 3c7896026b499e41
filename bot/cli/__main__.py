"""`python -m bot.cli ...`, how the service starts training in a child process."""

from bot.cli import app
from bot.core.priority import nice_own_session

if __name__ == "__main__":
    nice_own_session()
    app(prog_name="nowbot")
