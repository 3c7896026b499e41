"""Image sets the GAN learns from, and the images each one holds."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, Timestamped


class ImageSet(Timestamped, Base):
    """A named collection of same-size images (for example `digits` at 28x28x1)."""

    __tablename__ = "image_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(500))

    images: Mapped[list[Image]] = relationship(back_populates="image_set", passive_deletes=True)


class Image(Timestamped, Base):
    """One prepared image, stored as a file under the artifacts folder."""

    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("image_set_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_set_id: Mapped[int] = mapped_column(
        ForeignKey("image_sets.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str | None] = mapped_column(String(500))

    image_set: Mapped[ImageSet] = relationship(back_populates="images")
