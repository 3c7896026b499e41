"""Screenshots of the dashboard for the README, from a demo database: the built-in campaign persona
and digits, a text model and a GAN each trained for `--minutes`, drafts they wrote (one for X),
one post approved and published, and a sketch draw model with a digit drawn on the Draw page.
Saves the queue at desktop and phone width and the models, images and draw pages at desktop
width under docs/images/, through the same headless Chromium as the browser tests
(tests/browser.py).

    .venv/bin/python docs/screenshots.py [--minutes 1.5] [--keep var-demo] [--only dashboard-draw.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the browser helpers of the browser tests

from bot import generation, jobs, outbox  # noqa: E402
from bot.app import App, open_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core import drawing, posts  # noqa: E402
from bot.core.runtime import Runtime  # noqa: E402
from bot.demo import DEMO_IMAGE_SET, DEMO_PERSONA, seed_demo  # noqa: E402
from bot.platforms.local.publisher import LocalPublisher  # noqa: E402
from browser import DESKTOP, PHONE, chromium, serve  # noqa: E402
from models.registry import Registry  # noqa: E402

IMAGES = ROOT / "docs" / "images"
SHOTS = {  # file -> (page, viewport, whole page)
    "dashboard-desktop.png": ("/", DESKTOP, False),
    "dashboard-phone.png": ("/", PHONE, False),
    "dashboard-models.png": ("/models", DESKTOP, False),
    "dashboard-images.png": ("/images", DESKTOP, False),
    "dashboard-draw.png": ("/draw", DESKTOP, False),
}


def train(app: App, minutes: float) -> None:
    """The demo's text model and GAN, trained in this process as the service's jobs would."""
    from corpora.imagesets import load_pixels
    from models.gan.run import train_gan
    from models.text.train import train_text

    registry = Registry(app.sessions, app.artifacts_dir)
    seed_demo(app, digits=2000)
    outcome = train_text(registry, app.sessions, app.artifacts_dir, [DEMO_PERSONA], minutes=minutes)
    print(f"text v{outcome.version}: {outcome.verdict.reason}")
    with app.sessions() as session:
        pixels = load_pixels(session, DEMO_IMAGE_SET)
    outcome = train_gan(registry, app.artifacts_dir, DEMO_IMAGE_SET, pixels, minutes=minutes, progress=False,
                        eval_samples=500)
    print(f"gan v{outcome.version}: {outcome.verdict.reason}")


def train_draw_model(app: App, minutes: float) -> None:
    """The demo set's sketch draw model, trained in this process."""
    from corpora.imagesets import load_pixels
    from models.draw.run import train_draw

    with app.sessions() as session:
        pixels = load_pixels(session, DEMO_IMAGE_SET)
    outcome = train_draw(Registry(app.sessions, app.artifacts_dir), app.artifacts_dir, DEMO_IMAGE_SET, pixels,
                         minutes=minutes, progress=False)
    print(f"draw v{outcome.version}: {outcome.verdict.reason}")


def draw_a_digit(page: Any) -> None:
    """A 4 drawn with the mouse on the Draw page, and the model's picture of it."""
    box = page.locator("#draw-canvas").bounding_box()
    for stroke in (((0.35, 0.15), (0.25, 0.6), (0.75, 0.6)), ((0.6, 0.3), (0.6, 0.9))):
        page.mouse.move(box["x"] + stroke[0][0] * box["width"], box["y"] + stroke[0][1] * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=12)
        page.mouse.up()
    page.get_by_role("button", name="Draw", exact=True).click()
    page.wait_for_function("() => document.querySelector('#draw-result img')?.naturalWidth > 0")


def prepare_posts(runtime: Runtime) -> None:
    """One post published, drafts waiting (one of them for X, Mastodon and Bluesky, with each
    version and the weighted counter)."""
    app = runtime.app
    first = posts.make_campaign_post(runtime)
    posts.review(app, runtime.generator, first.id, "approve", "dashboard")
    jobs.configure(runtime)
    try:
        jobs.process_outbox()
    finally:
        jobs.configure(None)
    posts.make_campaign_post(runtime)
    text = generation.generate_post_text(app, DEMO_PERSONA, [])
    image = posts.save_image(runtime, DEMO_IMAGE_SET, 1, kind="image")
    with app.sessions.begin() as session:
        outbox.create_post(session, platforms=["x", "mastodon", "bluesky"], text=text.text, hashtag=app.settings.campaign_hashtag,
                           review=True, campaign=DEMO_PERSONA, image_item_id=image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.5, help="training budget of each model")
    parser.add_argument("--keep", type=Path, help="build the demo in this folder and keep it")
    parser.add_argument("--only", nargs="+", choices=sorted(SHOTS), help="save only these screenshots")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="nowbot-shots-"))
    settings = Settings(data_dir=folder, review_mode=True, campaign_image_set=DEMO_IMAGE_SET)
    app = open_app(settings)
    registry = Registry(app.sessions, app.artifacts_dir)
    if not registry.versions():
        train(app, args.minutes)
    if not drawing.serving_modes(app, DEMO_IMAGE_SET):
        train_draw_model(app, args.minutes)
    runtime = Runtime(app=app, generator=generation, image_set=DEMO_IMAGE_SET,
                      publishers={"local": LocalPublisher(settings.data_dir / "outbox")})
    if not outbox.posts(app.sessions):
        prepare_posts(runtime)
    IMAGES.mkdir(parents=True, exist_ok=True)
    with serve(runtime) as url, chromium() as browser:
        for name, (path, viewport, whole) in SHOTS.items():
            if args.only and name not in args.only:
                continue
            page = browser.new_page(viewport=viewport, device_scale_factor=1,
                                    is_mobile=viewport == PHONE)
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            if path == "/draw":
                draw_a_digit(page)
            page.screenshot(path=str(IMAGES / name), full_page=whole)
            page.close()
            print(f"wrote {IMAGES / name}")


if __name__ == "__main__":
    main()
