"""The dashboard in a real browser (Debian's headless Chromium, driven by Playwright): a person
edits a draft, sees its length as the platform counts it and its preview, approves it, and finds
it published after the next outbox run; undoes an approval and schedules a post; reads why a
draft was chosen and what the review model learned, and switches the model off; finds the
learning curves, grids and the animated progress; and every page fits a phone's width."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from bot import jobs
from bot.app import App, open_app
from bot.config import Settings
from bot.core.runtime import Runtime
from bot.dashboard.pages import PAGES
from browser import DESKTOP, PHONE, chromium, loaded, overflows, serve
from dashboard_demo import Demo, new_draft, train_demo
from review_data import WHY_START, chosen_draft, trained
from service_harness import StubGenerator
from storage.outbox import Post, PostStatus

expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    app = open_app(Settings(data_dir=tmp_path_factory.mktemp("demo") / "var"))
    yield train_demo(app)
    app.engine.dispose()


@pytest.fixture(scope="module")
def site(demo: Demo) -> Iterator[str]:
    with serve(demo.runtime) as url:
        yield url


def _post(app: App, post_id: int) -> Post:
    with app.sessions() as session:
        return session.get_one(Post, post_id)


def test_edit_approve_and_see_it_published(demo: Demo, browser: Any, site: str) -> None:
    app = demo.runtime.app
    post_id = new_draft(demo)
    page = browser.new_page(viewport=DESKTOP)
    page.goto(site + "/")
    box = page.locator(f"#text-{post_id}")
    expect(box).to_have_value("Course notes are online #siggraphNOW")
    assert loaded(page, f"#post-{post_id} .preview-image")
    edited = "Course notes and slides are online, see you at the show #siggraphNOW"
    box.fill(edited)
    expect(page.locator(f"#counter-{post_id} .count")).to_have_text(str(len(edited)))
    expect(page.locator(f"#preview-{post_id}")).to_have_text(edited)

    page.locator(f"#post-{post_id}").get_by_role("button", name="Approve").click()
    expect(page.locator(".notice")).to_have_text(
        f"post {post_id} approved: it will be published on the next outbox run")
    post = _post(app, post_id)
    assert (post.status, post.text, post.reviewed_by) == (PostStatus.APPROVED, edited, "dashboard")

    jobs.configure(demo.runtime)
    try:
        assert post_id in jobs.process_outbox()
    finally:
        jobs.configure(None)
    page.goto(site + "/published")
    card = page.locator(f"#post-{post_id}")
    expect(card).to_contain_text(edited)
    expect(card).to_contain_text("approved by dashboard")
    assert loaded(page, f"#post-{post_id} img")
    sent = json.loads((app.settings.data_dir / "outbox" / f"post-{post_id}.json").read_text())
    assert sent["text"] == edited and sent["image"] == f"post-{post_id}.png"


def test_x_counter_counts_links_as_23_and_warns_past_280(demo: Demo, browser: Any, site: str) -> None:
    post_id = new_draft(demo, platform="x")
    page = browser.new_page(viewport=DESKTOP)
    page.goto(site + "/")
    box, counter = page.locator(f"#text-{post_id}"), page.locator(f"#counter-{post_id}")
    box.fill("Slides: https://example.com/" + "s" * 80 + " 🎉")
    expect(counter.locator(".count")).to_have_text(str(len("Slides: ") + 23 + 1 + 2))
    expect(counter).not_to_have_class("counter over")
    box.fill("w" * 281)
    expect(counter.locator(".count")).to_have_text("281")
    expect(counter).to_have_class("counter over")
    page.locator(f"#post-{post_id}").get_by_role("button", name="Save text").click()
    expect(page.locator(".notice")).to_have_text(
        f"post {post_id}: the text is 281 characters long as x counts them; it takes 280")
    assert _post(demo.runtime.app, post_id).text == "Course notes are online #siggraphNOW"


def test_undo_an_approval_then_schedule_for_a_time(demo: Demo, browser: Any, site: str) -> None:
    app = demo.runtime.app
    post_id = new_draft(demo, platform="x")
    page = browser.new_page(viewport=DESKTOP)
    page.goto(site + "/")
    card = page.locator(f"#post-{post_id}")
    card.get_by_role("button", name="Approve").click()
    card.get_by_role("button", name="Undo approval").click()
    expect(page.locator(".notice")).to_have_text(f"post {post_id} is a draft again")
    assert _post(app, post_id).status == PostStatus.DRAFT
    page.fill(f"#when-{post_id}", "2999-01-02T03:04")
    card.get_by_role("button", name="Schedule").click()
    expect(page.locator(".notice")).to_have_text(f"post {post_id} scheduled")
    expect(card).to_contain_text("publishes at 2999-01-02 03:04 UTC")
    post = _post(app, post_id)
    assert post.status == PostStatus.APPROVED and post.publish_at is not None


def test_see_why_a_draft_was_chosen_and_switch_the_review_model_off(demo: Demo, browser: Any,
                                                                    site: str) -> None:
    trained(demo.runtime.app)
    post_id = chosen_draft(demo.runtime)
    page = browser.new_page(viewport=DESKTOP)
    page.goto(site + "/")
    expect(page.locator(f"#post-{post_id} .why")).to_contain_text(
        f"Why this one: {WHY_START} and the reviewers' taste: ")
    model = page.locator("#review-model")
    expect(model).to_contain_text(
        "on: review model v1 of siggraph weighs 10, learned from 24 judged drafts")
    expect(model).to_contain_text('reviewers approve more: "keynote"')
    expect(model).to_contain_text("newest training: v1 promoted on 24 decisions it did not learn")

    model.get_by_role("button", name="Switch off").click()
    expect(page.locator(".notice")).to_have_text(
        "review loop off for siggraph (switched off by an operator): ranking unchanged")
    expect(model.locator(".review-summary")).to_have_text(
        "off for siggraph (switched off by an operator): ranking unchanged")
    expect(model.get_by_role("button", name="Switch on")).to_be_visible()


def test_models_and_images_show_curves_grids_and_the_animation(demo: Demo, browser: Any, site: str) -> None:
    page = browser.new_page(viewport=DESKTOP)
    page.goto(site + "/models")
    text = page.locator(f"#version-{demo.text_version_id}")
    expect(text).to_contain_text("speaks as 2 personas: ada, bob")
    expect(text).to_contain_text("held-out bits per character")
    expect(text).to_contain_text("lower is better")
    expect(text).to_contain_text("gate: promoted: first version")
    assert loaded(page, f"#version-{demo.text_version_id} .chart img")
    assert loaded(page, f"#version-{demo.gan_version_id} .chart img")
    chart = page.request.get(site + text.locator(".chart img").get_attribute("src"))
    assert chart.headers["content-type"] == "image/svg+xml" and "held-out text" in chart.text()

    page.goto(site + "/images")
    expect(page.locator("figcaption").first).to_contain_text("digits v1, step 8")
    assert loaded(page, "img.grid")
    animation = page.locator('img[alt*="training progress"]')
    with Image.open(io.BytesIO(page.request.get(site + animation.get_attribute("src")).body())) as gif:
        assert gif.n_frames == 5  # the grid at step 0 and every 2 steps after


def test_every_page_fits_a_phone(demo: Demo, browser: Any, site: str) -> None:
    new_draft(demo)
    page = browser.new_page(viewport=PHONE, is_mobile=True)
    for shown in PAGES:
        page.goto(site + shown.path)
        assert overflows(page) == [], shown.path
        assert loaded(page, "img") or page.locator("img").count() == 0, shown.path


def test_a_fresh_install_shows_empty_states_not_broken_images(sqlite_app: App, browser: Any) -> None:
    with sqlite_app.sessions.begin() as session:
        from corpora.imagesets import BUILTIN_DIGITS, import_images

        import_images(session, sqlite_app.artifacts_dir, "digits", BUILTIN_DIGITS, size=16, digits=8)
    runtime = Runtime(app=sqlite_app, generator=StubGenerator(), publishers={})
    with serve(runtime) as url:
        page = browser.new_page(viewport=DESKTOP)
        for shown, empty in (("/", "Nothing waiting"), ("/published", "Nothing published yet"),
                             ("/models", "No model trained yet"),
                             ("/images", "No image model trained for digits yet")):
            page.goto(url + shown)
            expect(page.locator(".empty", has_text=empty)).to_be_visible()
            assert page.locator("img").count() == 0, shown
