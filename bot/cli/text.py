"""`nowbot train text` and `nowbot generate text`: the persona char-GRU from the command line."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bot.cli.common import cli_app, console, err_console
from bot.cli.groups import generate, train
from models.registry import Registry


class Preset(str, Enum):
    cpu = "cpu"
    gpu = "gpu"


@train.command("text")
def train_text_command(
    persona: Annotated[
        list[str] | None,
        typer.Option("--persona", "-p", help="Persona to train on (repeat; default: all)."),
    ] = None,
    minutes: Annotated[
        float | None, typer.Option(help="Wall-clock training budget (default 10).", min=0.01)
    ] = None,
    epochs: Annotated[
        float | None,
        typer.Option(help="Passes over the tweets instead of a time budget.", min=0.01),
    ] = None,
    preset: Annotated[
        Preset, typer.Option(help="Model size for a new model: cpu, or gpu for an accelerator.")
    ] = Preset.cpu,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Start from scratch instead of the serving version.")
    ] = False,
) -> None:
    """Train the text model (resumes an interrupted run; fine-tunes the serving version)."""
    if minutes is not None and epochs is not None:
        err_console.print("[red]error:[/red] give --minutes or --epochs, not both")
        raise typer.Exit(2)
    from models.text.config import TextConfig
    from models.text.train import target_name, train_text

    with cli_app() as app:
        registry = Registry(app.sessions, app.artifacts_dir)
        console.print(f"training text model '{target_name(persona or [])}'")
        with Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), console=err_console,
        ) as bar:
            task = bar.add_task("training", total=1.0)

            def progress(done: float, logs: dict[str, float]) -> None:
                bar.update(task, completed=done, description=f"bpc {logs['bpc']:.3f}")

            outcome = train_text(
                registry, app.sessions, app.artifacts_dir, persona or [],
                minutes=minutes if minutes is not None or epochs is not None else 10.0,
                epochs=epochs, config=TextConfig.preset(preset.value), fresh=fresh,
                progress=progress,
            )
        if outcome.resumed_from is not None:
            console.print(f"resumed from the checkpoint at step {outcome.resumed_from}")
        if outcome.finetuned_from is not None:
            console.print(f"fine-tuned from v{outcome.finetuned_from}")
        m = outcome.metrics
        console.print(
            f"v{outcome.version}: held-out {m['bpc']:.3f} bits/char after {m['steps']} steps "
            f"({m['epochs']:.2f} passes, {m['train_seconds'] / 60:.1f} min); "
            f"{outcome.verdict.reason}",
            soft_wrap=True,
        )


@generate.command("text")
def generate_text_command(
    persona: Annotated[str, typer.Option("--persona", "-p", help="Persona to write as.")],
    prompt: Annotated[str, typer.Option(help="Start of the tweet, continued by the model.")] = "",
    n: Annotated[int, typer.Option("-n", help="Number of tweets.", min=1, max=64)] = 5,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.", min=0.05)] = 0.8,
    top_k: Annotated[
        int, typer.Option(help="Keep the K likeliest characters (0: all).", min=0)
    ] = 0,
    top_p: Annotated[
        float, typer.Option(help="Keep the likeliest characters up to this mass.", min=0.01, max=1)
    ] = 0.95,
    blend: Annotated[
        str | None, typer.Option(help="Second persona to blend with (same model).")
    ] = None,
    mix: Annotated[float, typer.Option(help="Share of the --blend persona.", min=0, max=1)] = 0.5,
    candidates: Annotated[
        int, typer.Option(help="Candidates sampled to pick from.", min=1, max=256)
    ] = 16,
    block: Annotated[
        list[str] | None, typer.Option("--block", help="Reject tweets with this word (repeat).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed, for repeatable output.")] = None,
) -> None:
    """Write tweets as a persona with the serving text model, best candidates first."""
    from models.text.select import Rules, write_tweets
    from models.text.serving import load_generator, serving_path

    with cli_app() as app:
        registry = Registry(app.sessions, app.artifacts_dir)
        folder = serving_path(registry, persona, *([blend] if blend else []))
        sampler, index = load_generator(folder)
        rules = Rules(blocklist=tuple(block or ()), candidates=candidates)
        tweets = write_tweets(
            sampler, index, persona, n, rules=rules, prompt=prompt, temperature=temperature,
            top_k=top_k, top_p=top_p, blend=blend, mix=mix, seed=seed,
        )
        for tweet in tweets:
            console.print(tweet.text, highlight=False, markup=False, soft_wrap=True)
