"""Training runs and the model versions they produce (the model registry's records)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, Timestamped


class ModelKind(StrEnum):
    TEXT = "text"
    GAN = "gan"
    REVIEW = "review"  # a campaign's reviewer model (`models/review`)


class VersionStatus(StrEnum):
    CANDIDATE = "candidate"  # trained, not yet judged
    SERVING = "serving"  # what generation uses
    RETIRED = "retired"  # served before, replaced by a better one
    REJECTED = "rejected"  # failed the promotion gate


class RunStatus(StrEnum):
    REQUESTED = "requested"  # asked for (chat `/train`), not started yet
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class TrainingRun(Timestamped, Base):
    """One training attempt; `target` is the persona or image set name it trained on."""

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.RUNNING)
    pid: Mapped[int | None] = mapped_column(Integer)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class ModelVersion(Timestamped, Base):
    """A versioned artifact with its held-out metrics and promotion status.

    `target` names what the model serves: a persona, a group of personas, or an image set.
    `key` names it in the artifact store (`storage.artifact_store`), `checksum` verifies a copy.
    """

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("kind", "target", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    target: Mapped[str] = mapped_column(String(64), index=True)
    persona_id: Mapped[int | None] = mapped_column(ForeignKey("personas.id", ondelete="SET NULL"))
    image_set_id: Mapped[int | None] = mapped_column(
        ForeignKey("image_sets.id", ondelete="SET NULL")
    )
    training_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_runs.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=VersionStatus.CANDIDATE)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    artifact_path: Mapped[str] = mapped_column(String(500))  # where the writing machine put it
    checksum: Mapped[str | None] = mapped_column(String(64))  # sha256 of its manifest
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def key(self) -> str:
        """The version's name in the artifact store (`version_key`)."""
        return version_key(self.kind, self.target, self.version)


def version_key(kind: str, target: str, version: int) -> str:
    """A version's name in the artifact store: its folder under the artifacts folder."""
    return f"models/{kind}/{target}/v{version:04d}"
