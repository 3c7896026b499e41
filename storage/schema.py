"""Every table, imported in one place so that `Base.metadata` is complete (for Alembic)."""

from storage.base import Base
from storage.corpus import CollectionCursor, Persona, Tweet
from storage.imagesets import Image, ImageSet
from storage.jobqueue import ChatAnswer, JobSlot
from storage.outbox import Delivery, GeneratedItem, Post
from storage.registry import ModelVersion, TrainingRun
from storage.reviews import DraftCandidate, ReviewDecision, ReviewLoop

__all__ = [
    "Base",
    "ChatAnswer",
    "CollectionCursor",
    "Delivery",
    "DraftCandidate",
    "GeneratedItem",
    "Image",
    "ImageSet",
    "JobSlot",
    "ModelVersion",
    "Persona",
    "Post",
    "ReviewDecision",
    "ReviewLoop",
    "TrainingRun",
    "Tweet",
]
