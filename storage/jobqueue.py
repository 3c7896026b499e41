"""What nowbot keeps beside the job queue (procrastinate's own tables are its schema's): which
scheduled slot of each job was queued, and the answers generation workers give chat edges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow


class JobSlot(Base):
    """One scheduled run of one job, queued once: the scheduler inserts it in the transaction that
    queues the job, so a slot fired again (a new leader catching up) is not queued twice."""

    __tablename__ = "job_slots"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChatAnswer(Base):
    """A generation worker's answer to one chat request, read (and deleted) by the chat process
    that asked; `body` holds texts and scores, `data` an image when there is one."""

    __tablename__ = "chat_answers"

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 index=True)
