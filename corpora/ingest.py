"""Storing cleaned tweets for a persona: idempotent, a batch at a time, in the caller's
transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from corpora.names import check_name
from corpora.records import RawTweet, loose_hash, loose_key, text_hash
from storage.base import utcnow
from storage.corpus import Persona, Tweet

BATCH = 1000  # records looked up and written together; progress is reported after each
_Keyed = tuple[RawTweet, str, str | None]  # a record, its text hash and its loose hash
FILTER_BITS = 1 << 28  # 32 MB: for 6 M tweets (24 M keys) about 2% of keys hit falsely
ROW_COLUMNS = (Tweet.id, Tweet.source, Tweet.source_id, Tweet.text, Tweet.text_hash,
               Tweet.raw_hash, Tweet.loose_hash)


def get_or_create_persona(session: Session, name: str) -> Persona:
    """The persona called `name`, created if new (`CorpusError` for a name that cannot be one)."""
    check_name("persona", name)
    persona = session.scalar(select(Persona).where(Persona.name == name))
    if persona is None:
        persona = Persona(name=name)
        session.add(persona)
        session.flush()
    return persona


@dataclass
class StoreReport:
    """What storing did: rows added, stored rows whose text a re-import changed, and records
    that repeated a text stored by the same call."""

    added: int = 0
    updated: int = 0
    duplicates: int = 0


class _KeyFilter:
    """A Bloom filter of the keys of a persona's stored tweets (`_keys`): a record holding
    none of them matches no stored tweet, so storing a new corpus looks up only the few records
    that may match. 2 bits a key in `FILTER_BITS`; a false hit costs only a look-up."""

    def __init__(self) -> None:
        self.bits = bytearray(FILTER_BITS // 8)

    @staticmethod
    def _positions(key: str) -> tuple[int, int]:
        code = hash(key)
        return code & (FILTER_BITS - 1), (code >> 32) & (FILTER_BITS - 1)

    def add(self, keys: Iterable[str]) -> None:
        for key in keys:
            for at in self._positions(key):
                self.bits[at >> 3] |= 1 << (at & 7)

    def may_hold(self, keys: Iterable[str]) -> bool:
        return any(all(self.bits[at >> 3] >> (at & 7) & 1 for at in self._positions(key))
                   for key in keys)


def _keys(text_digest: str, raw: str | None, loose: str | None, x_id: str | None) -> list[str]:
    """What a tweet is matched by: its text, raw and loose hashes and its X id."""
    return [text_digest, *filter(None, (raw, loose)), *([f"x{x_id}"] if x_id else [])]


@dataclass
class _Row:
    """What matching needs of a stored tweet, or of a new one (`id` None until written)."""

    id: int | None
    source: str
    source_id: str
    text: str
    text_hash: str
    raw_hash: str | None
    loose_hash: str | None


class _Batch:
    """A batch of records and the stored tweets they may match, indexed by each kind of key,
    with the rows to insert and to update."""

    def __init__(self, persona: Persona, stored: Iterable[_Row], known: _KeyFilter) -> None:
        self.persona, self.known = persona, known
        self.by_raw: dict[str, _Row] = {}
        self.by_hash: dict[str, _Row] = {}
        self.by_id: dict[str, _Row] = {}
        self.by_key: dict[str, _Row] = {}
        self.new: list[tuple[_Row, RawTweet]] = []
        self.changed: dict[int, _Row] = {}
        for row in stored:
            self._index(row)

    def _index(self, row: _Row) -> None:
        self.known.add(_keys(row.text_hash, row.raw_hash, row.loose_hash,
                             row.source_id if row.source == "x" else None))
        self.by_hash[row.text_hash] = row
        if row.raw_hash:
            self.by_raw[row.raw_hash] = row
        if row.loose_hash:
            self.by_key[row.loose_hash] = row
        if row.source == "x":
            self.by_id[row.source_id] = row

    def add(self, record: RawTweet, digest: str, loose: str | None) -> None:
        source, source_id = ("x", record.source_id) if record.source_id else ("text", digest)
        row = _Row(None, source, source_id, record.text, digest, record.raw_hash, loose)
        self.new.append((row, record))
        self._index(row)

    def update(self, row: _Row, record: RawTweet, digest: str, loose: str | None,
               same: bool) -> bool:
        """Rewrite `row`'s text when `record` is the same post cleaned differently (`same` text
        as read, or the same letters less what a rule removed); True if it was rewritten."""
        # Cleaning only removes, so an edited post (same id, words added) keeps its text.
        cleaned_again = same or loose_key(record.text) in loose_key(row.text)
        rewritten = row.text_hash != digest and digest not in self.by_hash and cleaned_again
        if rewritten:
            del self.by_hash[row.text_hash]
            row.text, row.text_hash, row.loose_hash = record.text, digest, loose
            if row.source == "text":
                row.source_id = digest
        filled = bool(record.raw_hash) and not row.raw_hash  # stored before raw hashes were kept
        if filled:
            row.raw_hash = record.raw_hash
        if rewritten or filled:
            self._index(row)
            if row.id is not None:
                self.changed[row.id] = row
        return rewritten

    def write(self, session: Session) -> None:
        """Insert the new rows and update the changed ones, each in one statement."""
        now = utcnow()
        if self.new:  # Core, not the ORM: nothing here needs an object per row
            session.connection().execute(insert(Tweet.__table__), [
                {"persona_id": self.persona.id, "author": record.author, "created_at": now,
                 "tweeted_at": record.created_at, **_values(row)}
                for row, record in self.new
            ])
        if self.changed:
            session.execute(update(Tweet), [{"id": row.id, **_values(row)}
                                            for row in self.changed.values()])


def _values(row: _Row) -> dict[str, str | None]:
    return {"source": row.source, "source_id": row.source_id, "text": row.text,
            "text_hash": row.text_hash, "raw_hash": row.raw_hash, "loose_hash": row.loose_hash}


def _batches(records: Iterable[RawTweet]) -> Iterator[list[RawTweet]]:
    iterator = iter(records)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def _stored_matches(session: Session, persona: Persona, keyed: list[_Keyed]) -> Iterator[_Row]:
    """The persona's stored tweets sharing a text hash, raw hash, loose hash or X id with one of
    `keyed` (each looked up on its own index)."""
    ids = {record.source_id for record, _, _ in keyed if record.source_id}
    lookups = [
        Tweet.text_hash.in_({digest for _, digest, _ in keyed}),
        Tweet.raw_hash.in_({record.raw_hash for record, _, _ in keyed if record.raw_hash}),
        Tweet.loose_hash.in_({loose for _, _, loose in keyed if loose}),
        and_(Tweet.source == "x", Tweet.source_id.in_(ids)),
    ]
    seen: set[int] = set()
    for lookup in lookups:
        for row in session.execute(select(*ROW_COLUMNS).where(Tweet.persona_id == persona.id,
                                                              lookup)):
            if row.id not in seen:
                seen.add(row.id)
                yield _Row(*row)


def _known_keys(session: Session, persona: Persona) -> _KeyFilter:
    """The filter of the keys of `persona`'s stored tweets, read in one pass."""
    known = _KeyFilter()
    query = select(Tweet.text_hash, Tweet.raw_hash, Tweet.loose_hash, Tweet.source,
                   Tweet.source_id).where(Tweet.persona_id == persona.id)
    for digest, raw, loose, source, source_id in session.execute(
        query.execution_options(yield_per=BATCH)
    ):
        known.add(_keys(digest, raw, loose, source_id if source == "x" else None))
    return known


def _store_batch(
    session: Session, persona: Persona, records: list[RawTweet], known: _KeyFilter,
    first_new: int, report: StoreReport,
) -> None:
    keyed = [(record, text_hash(record.text), loose_hash(record.text)) for record in records]
    maybe = [item for item in keyed
             if known.may_hold(_keys(item[1], item[0].raw_hash, item[2], item[0].source_id))]
    batch = _Batch(persona, _stored_matches(session, persona, maybe) if maybe else (), known)
    seen: set[str] = set()
    for record, digest, loose in keyed:
        same = batch.by_raw.get(record.raw_hash or "-") or batch.by_key.get(loose or "-")
        match = batch.by_hash.get(digest) or same or batch.by_id.get(record.source_id or "-")
        repeated = digest in seen or (
            match is not None and match.text_hash == digest
            and (match.id is None or match.id >= first_new)
        )
        seen.add(digest)
        if repeated:
            report.duplicates += 1
        elif match is None:
            batch.add(record, digest, loose)
            report.added += 1
        else:
            report.updated += batch.update(match, record, digest, loose, match is same)
    batch.write(session)


def store_tweets(
    session: Session,
    persona: Persona,
    records: Iterable[RawTweet],
    on_progress: Callable[[int], None] | None = None,
) -> StoreReport:
    """Add the records not yet in `persona`'s corpus and update the text of those that are.

    A record is already stored when its text as read (`raw_hash`), its cleaned text, its X id
    or its `loose_hash` matches a stored tweet's. When the match shows the same post cleaned
    differently (same text as read, or the same letters less what a rule removed), the stored
    text is rewritten: a re-import under new cleaning rules updates instead of duplicating. A
    record repeating a text this call stored (or one of its batch) is a duplicate. Records are
    handled `BATCH` at a time, each batch looked up in the database (only the records a
    `_KeyFilter` of the stored keys may hold), so memory stays bounded however many come. The
    caller owns the transaction, so a failure anywhere stores nothing.
    `on_progress`, when given, is called with the number of records handled after each batch.
    """
    first_new = (session.scalar(select(func.max(Tweet.id))) or 0) + 1  # rows this call adds
    known = _known_keys(session, persona)
    report, handled = StoreReport(), 0
    for batch in _batches(records):
        _store_batch(session, persona, batch, known, first_new, report)
        handled += len(batch)
        if on_progress:
            on_progress(handled)
    return report


def newest_post_id(session: Session, persona: Persona, author: str) -> str | None:
    """The highest X status id stored for `persona` written by `author` (or by no one named,
    as in an archive export): where reading `author`'s timeline can start."""
    ids = session.scalars(
        select(Tweet.source_id).where(
            Tweet.persona_id == persona.id, Tweet.source == "x",
            or_(Tweet.author.is_(None), func.lower(Tweet.author) == author.lower()),
        )
    )
    return max(ids, key=int, default=None)
