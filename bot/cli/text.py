"""`nowbot train text` and `nowbot generate text`: the persona char-GRU from the command line."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import check_personas, cli_app, console, err_console, say_plain
from bot.cli.groups import generate, train
from bot.cli.report import BITS_PER_CHAR, ProgressLines, Serving, budget_words, outcome_line, say, start_words
from bot.cli.training_options import Fresh, Minutes, RunId, budget

if TYPE_CHECKING:
    from models.registry import TrainingOutcome


class Preset(str, Enum):
    cpu = "cpu"
    gpu = "gpu"


@train.command("text")
def train_text_command(
    persona: Annotated[
        list[str] | None,
        typer.Option("--persona", "-p", metavar="NAME", help="Persona to train on (repeat; default: all)."),
    ] = None,
    together: Annotated[
        bool,
        typer.Option("--together", help="One model of all these personas (needed for --blend)."),
    ] = False,
    minutes: Minutes = None,
    epochs: Annotated[
        float | None,
        typer.Option(help="Passes over the tweets instead of a time budget.", min=0.01),
    ] = None,
    preset: Annotated[
        Preset, typer.Option(help="Model size for a new model: cpu, or gpu for an accelerator.")
    ] = Preset.cpu,
    fresh: Fresh = False,
    from_scratch: Annotated[bool, typer.Option(
        "--from-scratch",
        help="A new model starts from random weights and its tweets' characters, not the English prior.",
    )] = False,
    without_reviewed: Annotated[bool, typer.Option(
        "--without-reviewed",
        help="Only the imported tweets: leave out the campaign posts reviewers approved or "
        "rewrote (NOWBOT_REVIEW_TEXTS_IN_TRAINING=false does too).",
    )] = False,
    run_id: RunId = None,
) -> None:
    """Train text models (resumes an interrupted run; fine-tunes the serving version; a new
    model starts from the English prior, `nowbot train base`).

    Each persona gets its own model and an equal share of the budget: at the same budget that
    measured better per persona than one model of them all (benchmarks/text_fidelity.py).
    --together trains one model that speaks as every persona, which blends need. Campaign posts
    a reviewer approved or rewrote are trained on with the persona's tweets.
    """
    minutes, epochs = budget(minutes, epochs)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from models.registry import Registry

    with cli_app(tensorflow=True) as app:
        check_personas(app, *(persona or ()))
        from models.text.config import TextConfig  # TensorFlow: only once the names are known
        from models.text.data import persona_names
        from models.text.train import target_name, train_text

        registry = Registry(app.sessions, app.artifacts_dir)
        names = persona or persona_names(app.sessions)
        reviewed = app.settings.review_texts_in_training and not without_reviewed
        groups = [persona or []] if together or len(names) < 2 else [[name] for name in names]
        share = minutes / len(groups) if minutes is not None else None
        for group in groups:
            target = target_name(group)
            served = registry.serving("text", target)
            before = Serving(served.version, served.metrics) if served else None
            say(f"text {target}: training started ({budget_words(share, epochs)})")
            lines = ProgressLines(f"text {target}")
            with Progress(
                TextColumn("[progress.description]{task.description}"), BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), console=err_console,
            ) as bar:
                task = bar.add_task("training", total=1.0)

                def progress(done: float, logs: dict[str, float]) -> None:
                    bar.update(task, completed=done, description=f"bpc {logs['bpc']:.3f}")
                    lines(done, f"{logs['bpc']:.3f} bits/char on training batches")

                outcome = train_text(
                    registry, app.sessions, app.artifacts_dir, group, minutes=share,
                    epochs=epochs, config=TextConfig.preset(preset.value), fresh=fresh,
                    from_scratch=from_scratch, reviewed=reviewed,
                    progress=progress, run_id=run_id,
                )
            _report(outcome)
            say(outcome_line("text", target, outcome, BITS_PER_CHAR, before))


def _report(outcome: TrainingOutcome) -> None:
    m = outcome.metrics
    reviewed = m.get("reviewed_texts", 0)
    console.print(
        f"v{outcome.version}: held-out {m['bpc']:.3f} bits/char after {m['steps']} steps "
        f"({m['epochs']:.2f} passes, {m['train_seconds'] / 60:.1f} min, {start_words(outcome)})"
        + (f"; {reviewed} reviewed campaign posts among its tweets" if reviewed else ""),
        soft_wrap=True, highlight=False,
    )


@generate.command("text")
def generate_text_command(
    persona: Annotated[str, typer.Option("--persona", "-p", help="Persona to write as.")],
    prompt: Annotated[str, typer.Option(help="Start of the tweet, continued by the model.")] = "",
    n: Annotated[int, typer.Option("-n", help="Number of tweets.", min=1, max=64)] = 5,
    temperature: Annotated[
        float, typer.Option(help="Sampling temperature (higher is wilder).", min=0.05, max=2.0)
    ] = 0.8,
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
    any_words: Annotated[
        bool, typer.Option("--any-words", help="Let the model write words of no word list.")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed, for repeatable output.")] = None,
) -> None:
    """Write tweets as a persona with the serving text model, best candidates first (the
    service's blocklist, NOWBOT_TEXT_BLOCKLIST_WORDS, applies too)."""
    from bot import generation

    with cli_app() as app:
        check_personas(app, persona, *([blend] if blend else []))
        tweets = generation.generate_tweets(
            app, persona, prompt=prompt, count=n, temperature=temperature, blend_with=blend,
            mix=mix, candidates=candidates, block=tuple(block or ()),
            real_words=False if any_words else None, top_k=top_k, top_p=top_p, seed=seed,
        )
        for tweet in tweets:
            say_plain(tweet.text)
