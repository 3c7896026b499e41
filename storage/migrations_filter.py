"""Which database objects Alembic compares with nowbot's models."""

from typing import Any


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Leave tables that other libraries own (APScheduler's job store, procrastinate's queue)
    out of comparisons."""
    return not (
        type_ == "table" and reflected and compare_to is None
        and (name or "").startswith(("apscheduler", "procrastinate"))
    )
