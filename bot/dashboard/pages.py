"""Server-rendered HTML for the dashboard: plain markup, escaped values, forms for actions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote

from bot.core.schedule import ScheduledJob
from storage.outbox import Post, PostStatus
from storage.registry import ModelVersion

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#222}
h1{font-size:1.5rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%} td,th{padding:.35rem .5rem;border-bottom:1px solid #eee;
text-align:left;vertical-align:top} .status{font-weight:600} .notice{background:#fff3c4;padding:.5rem}
form{display:inline} button{margin-right:.3rem} img.post{max-width:12rem} img.grid{max-width:20rem}
.muted{color:#777} svg{background:#fafafa}
"""
QUEUE_ACTIONS = {
    PostStatus.DRAFT: ("approve", "reject", "regenerate"),
    PostStatus.FAILED: ("approve", "reject"),
    PostStatus.APPROVED: ("reject",),
}


def _time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _form(post_id: int, action: str, csrf: str) -> str:
    return (f'<form method="post" action="/posts/{post_id}/{action}">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            f'<button type="submit">{action.capitalize()}</button></form>')


def _image(item_id: int | None, css: str) -> str:
    return f'<img class="{css}" src="/items/{item_id}" alt="generated image">' if item_id else ""


def _table(headers: Sequence[str], rows: Iterable[str]) -> str:
    head = "".join(f"<th>{escape(name)}</th>" for name in headers)
    return f"<table><tr>{head}</tr>" + "".join(rows) + "</table>"


def _reviewed(post: Post) -> str:
    """Who approved or rejected the post, under its status."""
    return f'<br><span class="muted">by {escape(post.reviewed_by)}</span>' if post.reviewed_by else ""


def queue_table(posts: Sequence[Post], csrf: str) -> str:
    """Posts waiting for a person or for the publisher, with their action buttons."""
    if not posts:
        return '<p class="muted">Nothing waiting.</p>'
    rows = []
    for post in posts:
        actions = "".join(_form(post.id, action, csrf) for action in QUEUE_ACTIONS.get(post.status, ()))
        rows.append(
            f"<tr><td>#{post.id}</td><td>{escape(post.platform)}</td>"
            f'<td class="status">{escape(post.status)}{_reviewed(post)}</td><td>{escape(post.text)}'
            f'{"<br>" + _image(post.image_item_id, "post") if post.image_item_id else ""}'
            f'{"<br><span class=muted>" + escape(post.error) + "</span>" if post.error else ""}</td>'
            f"<td>{actions}</td></tr>"
        )
    return _table(("Id", "Platform", "Status", "Text", ""), rows)


def published_table(posts: Sequence[Post]) -> str:
    """Published posts with their images, platform ids and estimated cost."""
    if not posts:
        return '<p class="muted">Nothing published yet.</p>'
    rows = [
        f"<tr><td>#{post.id}</td><td>{escape(post.platform)}</td><td>{_time(post.published_at)}</td>"
        f"<td>{escape(post.text)}<br>{_image(post.image_item_id, 'post')}</td>"
        f"<td>{escape(post.external_id or '')}</td><td>${post.cost_usd:.3f}</td>"
        f"<td>{escape(post.reviewed_by or 'auto')}</td></tr>"
        for post in posts
    ]
    return _table(("Id", "Platform", "Published", "Text", "Id there", "Cost", "Approved by"), rows)


def _curve(values: Sequence[float], width: int = 160, height: int = 40) -> str:
    """A loss curve as an inline SVG polyline."""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - (value - low) / span * (height - 4) - 2:.1f}"
        for i, value in enumerate(values)
    )
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="curve">'
            f'<polyline fill="none" stroke="#3366cc" stroke-width="1.5" points="{points}"/></svg>')


def _metrics(metrics: dict[str, Any]) -> str:
    parts = []
    for name, value in metrics.items():
        if isinstance(value, list) and len(value) > 1 and all(isinstance(v, int | float) for v in value):
            parts.append(f"{escape(name)} {_curve([float(v) for v in value])}")
        elif isinstance(value, float):
            parts.append(f"{escape(name)}={value:.4g}")
        elif isinstance(value, int | str | bool):
            parts.append(f"{escape(name)}={escape(str(value))}")
    return "<br>".join(parts)


def versions_table(versions: Sequence[ModelVersion]) -> str:
    """Model versions, newest first, with their metrics and loss curves."""
    if not versions:
        return '<p class="muted">No model trained yet; the first training runs shortly after start.</p>'
    rows = [
        f"<tr><td>{escape(v.kind)}</td><td>{escape(v.target)}</td><td>v{v.version}</td>"
        f'<td class="status">{escape(v.status)}</td><td>{_time(v.created_at)}</td>'
        f"<td>{_metrics(v.metrics)}</td></tr>"
        for v in versions
    ]
    return _table(("Kind", "Target", "Version", "Status", "Created", "Metrics"), rows)


def gan_section(image_sets: Iterable[str], batches: dict[str, int]) -> str:
    """Per image set: the newest image batch and the training progress animation."""
    blocks = []
    for name in image_sets:
        batch = _image(batches.get(name), "grid") or '<span class="muted">no batch yet</span>'
        blocks.append(
            f"<h3>{escape(name)}</h3><p>{batch} "
            f'<img class="grid" src="/gan/{quote(name)}/progress.gif" alt="training progress of '
            f'{escape(name)}"></p>'
        )
    return "".join(blocks) or '<p class="muted">No image sets.</p>'


def jobs_table(jobs: Sequence[ScheduledJob], leader: bool) -> str:
    """Scheduled jobs and when each runs next."""
    who = "this process leads and runs them" if leader else "another process leads and runs them"
    rows = [f"<tr><td>{escape(j.id)}</td><td>{escape(j.name)}</td><td>{_time(j.next_run)}</td></tr>"
            for j in jobs]
    return f'<p class="muted">{who}</p>' + _table(("Job", "What", "Next run"), rows)


def _document(title: str, body: str, *, refresh: bool = False) -> str:
    meta = '<meta http-equiv="refresh" content="60">' if refresh else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"{meta}<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>")


def _notice(notice: str | None) -> str:
    return f'<p class="notice">{escape(notice)}</p>' if notice else ""


def page(title: str, notice: str | None, sections: Sequence[tuple[str, str]],
         logout: bool = False) -> str:
    """The whole page: a title, an optional notice and titled sections (and a logout button)."""
    body = "".join(f"<h2>{escape(name)}</h2>{content}" for name, content in sections)
    button = ('<form method="post" action="/logout"><button type="submit">Log out</button></form>'
              if logout else "")
    return _document(title, button + _notice(notice) + body, refresh=True)


def login_page(failed: bool) -> str:
    """The password form; after a wrong password, says so."""
    form = ('<form method="post" action="/login"><label>Password '
            '<input type="password" name="password" autocomplete="current-password" autofocus required>'
            '</label> <button type="submit">Log in</button></form>')
    return _document("nowbot", _notice("wrong password" if failed else None) + form)
