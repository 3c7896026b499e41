"""Command groups shared by the feature modules that add commands to them."""

import typer

db = typer.Typer(help="Database schema.", no_args_is_help=True)
corpus = typer.Typer(help="Import, collect and list the tweets personas learn from.", no_args_is_help=True)
images = typer.Typer(help="Import and list image sets.", no_args_is_help=True)
train = typer.Typer(help="Train models (text, GAN or draw).", no_args_is_help=True)
generate = typer.Typer(help="Generate text and images with the serving models.", no_args_is_help=True)
queue = typer.Typer(help="Review campaign posts: list, approve, reject, regenerate.", no_args_is_help=True)
discord = typer.Typer(help="The Discord adapter: command sync and running it alone.", no_args_is_help=True)
