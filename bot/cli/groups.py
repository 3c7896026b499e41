"""Command groups shared by the feature modules that add commands to them.

Help is Click's plain layout (`rich_markup_mode=None`): flags without a `<bool>` type column,
and no Rich rendering for `--help`."""

from functools import partial

import typer

Group = partial(typer.Typer, no_args_is_help=True, rich_markup_mode=None)

db = Group(help="Database schema.")
corpus = Group(help="Import, collect, list and delete the tweets personas learn from.")
images = Group(help="Import, list and delete image sets.")
train = Group(help="Train models (text, GAN or draw) and the English prior text models start from.")
generate = Group(help="Generate text and images with the serving models.")
queue = Group(help="Review campaign posts: list, approve, reject, regenerate, edit, unapprove, schedule, export.")
discord = Group(help="The Discord adapter: command sync and running it alone.")
post = Group(help="Prepare a campaign post at once, outside the schedule.")
models = Group(help="Model versions: what serves, their metrics, the personas each speaks.")
review_model = Group(help="The campaign's review model, learned from its reviewers' decisions: "
                          "show, train, reset, off, on.")
