"""`nowbot images import/list/delete`, `nowbot train gan`, `nowbot generate image/progress`:
image sets and the image model. Heavy modules (NumPy, Pillow, TensorFlow) load inside commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from bot.cli.common import check_image_set, cli_app, console, err_console
from bot.cli.deletion import RetireModels, Yes, delete_named
from bot.cli.groups import generate, images, train
from bot.cli.report import FRECHET, Serving, budget_words, outcome_line, say, start_words
from bot.cli.training_options import Fresh, Minutes, RunId, budget
from corpora.names import NAME_RULE, check_name

if TYPE_CHECKING:
    from bot.app import App

DEFAULT_SET = "digits"
BUILTIN_DIGITS, KERAS_MNIST = "builtin:digits", "keras:mnist"  # as corpora.imagesets reads them


def _import(app: App, set_name: str, source: str, size: int | None, channels: int | None) -> None:
    from corpora.imagesets import import_images

    with app.sessions.begin() as session:
        report = import_images(session, app.artifacts_dir, set_name, source, size=size, channels=channels)
    for name, reason in report.skipped:  # file names are the user's: not markup
        err_console.print(f"[yellow]skipped[/yellow] {escape(name)}: {escape(reason)}", highlight=False)
    if report.links:
        err_console.print(f"[yellow]skipped[/yellow] {report.links:,} symbolic link"
                          f"{'s' if report.links > 1 else ''} (links are not followed)")
    console.print(
        f"{set_name}: {report.added:,} new, {report.duplicates:,} already stored, "
        f"{len(report.skipped):,} skipped", highlight=False,
    )


@images.command("import")
def import_command(
    set_name: Annotated[str, typer.Argument(
        metavar="SET", help=f"Image set to add to (created if new); its name: {NAME_RULE}.",
    )],
    path: Annotated[str, typer.Argument(
        help=f"A folder of JPEG/PNG files (searched recursively), an MNIST '*-idx3-ubyte[.gz]' file, "
             f"'{KERAS_MNIST}' (download through Keras) or '{BUILTIN_DIGITS}' (drawn, no download).",
    )],
    size: Annotated[int | None, typer.Option(
        help="Side in pixels of a new set (default 28 for digits, 64 for photo folders).", min=8, max=256,
    )] = None,
    grey: Annotated[bool | None, typer.Option(
        "--grey/--colour", help="Channels of a new set (default grey for digits, colour for photos).",
        show_default=False,
    )] = None,
) -> None:
    """Import images into a set; unreadable files and oversized images (over 64 megapixels) are
    skipped and named, known images not re-added. No usable image at all is an error."""
    channels = None if grey is None else (1 if grey else 3)
    with cli_app() as app:
        _import(app, set_name, path, size, channels)


@images.command("list")
def list_command() -> None:
    """List image sets with their size and image count."""
    from rich.table import Table

    from corpora.imagesets import list_sets

    with cli_app() as app, app.sessions() as session:
        sets = list_sets(session)
    table = Table(title="Image sets")
    for column in ("Set", "Size", "Images", "Last source"):
        table.add_column(column, justify="right" if column == "Images" else "left")
    for summary in sets:
        table.add_row(escape(summary.name), f"{summary.width}x{summary.height}x{summary.channels}",
                      f"{summary.images:,}", escape(summary.source or "-"))
    console.print(table if sets else "no image sets yet: nowbot images import SET PATH")


def _ensure_digits(app: App) -> None:
    """Draw the built-in digits set on first use."""
    from sqlalchemy import select

    from storage.imagesets import ImageSet

    with app.sessions() as session:
        missing = session.scalar(select(ImageSet.id).where(ImageSet.name == DEFAULT_SET)) is None
    if missing:
        _import(app, DEFAULT_SET, BUILTIN_DIGITS, None, None)


@train.command("gan")
def train_gan_command(
    set_name: Annotated[str, typer.Option("--set", "-s", help="Image set to learn from.")] = DEFAULT_SET,
    minutes: Minutes = None,
    epochs: Annotated[int | None, typer.Option(help="Training budget in passes over the set.", min=1)] = None,
    fresh: Fresh = False,
    run_id: RunId = None,
) -> None:
    """Train the image model on a set; the new version serves only if its Frechet distance is no
    worse and it has not collapsed. An interrupted run resumes; otherwise the serving version is
    fine-tuned. The set 'digits' is drawn on first use if missing."""
    minutes, epochs = budget(minutes, epochs)
    from corpora.imagesets import load_pixels
    from models.registry import Registry

    with cli_app(tensorflow=True) as app:
        check_name("image set", set_name)
        if set_name == DEFAULT_SET:
            _ensure_digits(app)
        check_image_set(app, set_name)
        from corpora.imagesets import get_set
        from models.gan.run import train_gan  # TensorFlow: only once the set is known

        with app.sessions() as session:
            image_set, pixels = get_set(session, set_name), load_pixels(session, set_name)
        registry = Registry(app.sessions, app.artifacts_dir)
        served = registry.serving("gan", set_name)
        before = Serving(served.version, served.metrics) if served else None
        say(f"gan {set_name}: training started ({budget_words(minutes, epochs)})")
        outcome = train_gan(
            registry, app.artifacts_dir, set_name, pixels,
            minutes=minutes, epochs=epochs, fresh=fresh, image_set_id=image_set.id, run_id=run_id,
        )
        metrics = outcome.metrics
        console.print(
            f"gan/{set_name} v{outcome.version} ({start_words(outcome)}, {metrics['steps']} steps, "
            f"{metrics['seconds']:.0f} s): fid {metrics['fid']:.2f}, diversity "
            f"{metrics['diversity']:.2f}", highlight=False,
        )
        say(outcome_line("gan", set_name, outcome, FRECHET, before))


@generate.command("image")
def generate_image_command(
    set_name: Annotated[str, typer.Option("--set", "-s", help="Image set whose serving model draws.")] = DEFAULT_SET,
    count: Annotated[int, typer.Option("-n", "--count", help="How many images.", min=1, max=1024)] = 16,
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG file to write.")] = Path("grid.png"),
    seed: Annotated[int | None, typer.Option(help="Latent seed, for repeatable images.")] = None,
) -> None:
    """Draw new images with the serving image model and save them as one PNG grid."""
    from models.registry import Registry

    with cli_app(tensorflow=True) as app:
        check_name("image set", set_name)
        check_image_set(app, set_name)
        from models.gan.grids import save_png
        from models.gan.sample import sample_grid

        folder = Registry(app.sessions, app.artifacts_dir).serving_path("gan", set_name)
        save_png(sample_grid(folder, count, seed), output)
    console.print(f"wrote {count} images to {output}", highlight=False)


@generate.command("progress")
def generate_progress_command(
    set_name: Annotated[str, typer.Option("--set", "-s", help="Image set whose serving model to show.")] = DEFAULT_SET,
    output: Annotated[Path, typer.Option("-o", "--output", help="GIF file to write.")] = Path("progress.gif"),
) -> None:
    """Animate how the serving model's fixed-seed grid evolved during its training."""
    from bot.generation import progress_gif
    from storage.artifacts import atomic_write_bytes

    with cli_app() as app:
        check_name("image set", set_name)
        check_image_set(app, set_name)
        atomic_write_bytes(output, progress_gif(app, set_name))
    console.print(f"wrote the training progress of '{set_name}' to {output}", highlight=False)


@images.command("delete")
def delete_command(
    set_name: Annotated[str, typer.Argument(metavar="SET", help="Image set to delete.", show_default=False)],
    yes: Yes = False,
    retire_models: RetireModels = False,
) -> None:
    """Delete an image set and its image files, after asking. Model versions' files and the
    images made for posts stay. The campaign's set cannot be deleted; one a serving image model
    draws from only with --retire-models."""
    delete_named("image set", set_name, yes, retire_models)
