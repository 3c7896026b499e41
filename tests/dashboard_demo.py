"""A campaign's database after its first trainings, in seconds: a tiny text model of two
personas trained together (target "all"), a tiny GAN trained on 32 digits, both through the real
training code (so their learning curves, grids and progress GIF are the real ones), and an
image the GAN drew for campaign drafts."""

from __future__ import annotations

from dataclasses import dataclass

from bot import generation, outbox
from bot.app import App
from bot.core import posts
from bot.core.runtime import Runtime
from bot.platforms.local.publisher import LocalPublisher
from corpora.imagesets import BUILTIN_DIGITS, import_images, load_pixels
from models.registry import Registry
from models.text.config import TextConfig
from text_corpus import store

TEXT = TextConfig(embed_dim=8, persona_dim=4, units=24, seq_len=32, batch_size=8, checkpoint_steps=5,
                  eval_tweets=16, warmup_steps=2)
GAN = dict(latent_dim=8, g_filters=4, d_filters=4, batch_size=16, grid_seeds=4, grid_every=2,
           checkpoint_every=2, collapse_ratio=0.0)
EXTRACTOR = dict(count=300, epochs=1, min_accuracy=0.0)
IMAGE_SET = "digits"


@dataclass(frozen=True)
class Demo:
    runtime: Runtime
    image_id: int  # an image the GAN drew, for drafts
    text_version_id: int
    gan_version_id: int


def train_demo(app: App) -> Demo:
    """Train both tiny models on `app` and draw an image with the GAN."""
    from models.gan.run import train_gan
    from models.text.train import train_text

    registry = Registry(app.sessions, app.artifacts_dir)
    store(app, {"ada": 40, "bob": 40})
    text = train_text(registry, app.sessions, app.artifacts_dir, config=TEXT, epochs=2)  # "all"
    with app.sessions.begin() as session:
        import_images(session, app.artifacts_dir, IMAGE_SET, BUILTIN_DIGITS, size=16, digits=32)
    with app.sessions() as session:
        pixels = load_pixels(session, IMAGE_SET)
    train_gan(registry, app.artifacts_dir, IMAGE_SET, pixels, epochs=4, overrides=GAN, progress=False,
              eval_samples=32, extractor_kwargs=EXTRACTOR)
    local = LocalPublisher(app.settings.data_dir / "outbox")
    runtime = Runtime(app=app, generator=generation, publishers={"local": local}, image_set=IMAGE_SET)
    versions = {version.kind: version.id for version in registry.versions()}
    assert text.version == 1
    return Demo(runtime, posts.save_image(runtime, IMAGE_SET, 1, kind="image"), versions["text"],
                versions["gan"])


def new_draft(demo: Demo, platform: str = "local", text: str = "Course notes are online") -> int:
    """A campaign draft for `platform` with the demo's image; returns its id."""
    with demo.runtime.app.sessions.begin() as session:
        return outbox.create_post(session, platforms=[platform], text=text, hashtag="#siggraphNOW",
                                  review=True, campaign="siggraph", image_item_id=demo.image_id).id
