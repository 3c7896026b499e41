"""`nowbot train draw`, `nowbot generate draw`: the draw model (a drawing in, a picture in the
set's look out)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import cli_app, console
from bot.cli.groups import generate, train
from bot.cli.report import FRECHET, Serving, budget_words, outcome_line, say, start_words
from bot.cli.training_options import Fresh, Minutes, RunId, budget
from bot.errors import NowbotError

MODE_HELP = "sketch: pen lines in; labels: regions painted in the palette's colours."


@train.command("draw")
def train_draw_command(
    set_name: Annotated[str, typer.Option("--set", "-s", help="Image set to learn from.")],
    mode: Annotated[str, typer.Option(help=MODE_HELP)] = "sketch",
    minutes: Minutes = None,
    epochs: Annotated[int | None, typer.Option(help="Training budget in passes over the set.", min=1)] = None,
    fresh: Fresh = False,
    run_id: RunId = None,
) -> None:
    """Train the draw model of a set on pairs made from its images (sketches or label maps);
    the new version serves only if its Frechet distance is no worse and it follows the
    drawings. An interrupted run resumes; otherwise the serving version is fine-tuned."""
    from bot.core.drawing import check_request
    from corpora.imagesets import get_set, load_pixels
    from models.registry import Registry

    minutes, epochs = budget(minutes, epochs)
    with cli_app(tensorflow=True) as app:
        checked = check_request(set_name, mode)  # before TensorFlow is imported
        with app.sessions() as session:
            image_set, pixels = get_set(session, set_name), load_pixels(session, set_name)
        from models.draw.run import draw_target, train_draw

        registry, target = Registry(app.sessions, app.artifacts_dir), draw_target(set_name, checked)
        served = registry.serving("draw", target)
        before = Serving(served.version, served.metrics) if served else None
        say(f"draw {target}: training started ({budget_words(minutes, epochs)})")
        outcome = train_draw(
            registry, app.artifacts_dir, set_name, pixels, mode=checked,
            minutes=minutes, epochs=epochs, fresh=fresh, image_set_id=image_set.id, run_id=run_id,
        )
        metrics = outcome.metrics
        console.print(
            f"draw/{set_name} ({checked}) v{outcome.version} ({start_words(outcome)}, {metrics['steps']} steps, "
            f"{metrics['seconds']:.0f} s): fid {metrics['fid']:.2f}, follows {metrics['follow']:.2f} "
            f"(photos {metrics['follow_real']:.2f})", highlight=False,
        )
        say(outcome_line("draw", target, outcome, FRECHET, before))


@generate.command("draw")
def generate_draw_command(
    set_name: Annotated[str, typer.Option("--set", "-s", help="Image set whose serving draw model draws.")],
    input_path: Annotated[Path, typer.Option("--input", "-i", help="The drawing or photo: any image file.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG file to write.")] = Path("drawing.png"),
    mode: Annotated[str, typer.Option(help=MODE_HELP)] = "sketch",
) -> None:
    """Turn a drawing (a pen drawing on white, a painted label map, or a photo whose outline is
    taken) into a picture in the set's look; writes the drawing as read and the result side by side."""
    from bot.core.drawing import check_request, check_size, draw
    from storage.artifacts import atomic_write_bytes

    with cli_app(tensorflow=True) as app:
        check_request(set_name, mode)
        if not input_path.is_file():
            raise NowbotError(f"{input_path}: no such file")
        check_size(input_path.stat().st_size)
        atomic_write_bytes(output, draw(app, set_name, input_path.read_bytes(), mode))
    console.print(f"wrote {output}", highlight=False)
