"""Event bodies: the normalized event as zstd-compressed JSON.

Once a project has ``MIN_EVENTS`` events, the scheduler trains a zstd dictionary on its newest
bodies (``train_dictionaries``); new bodies are then compressed with the project's newest
dictionary, which takes a ≈12 KB event from ≈3.1 KB to ≈0.55 KB (docs/benchmarks.md). The
zstd frame header names the dictionary (``dict_id``), so ``decompress`` finds it for any body,
old or new, without a column. Compressors and decompressors are built once per process and
shared between threads under one lock (zstandard's objects are not thread-safe).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import zstandard
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from spyglass.events.models import CompressionDictionary, Event
from spyglass.projects.models import Project

log = logging.getLogger(__name__)

LEVEL = 3  # ≈8 µs per 12 KB event with a dictionary; levels 5+ cost 3 to 8 times that for ≤ 5 %
MIN_EVENTS = 200  # a project's first dictionary once it has this many events
RETRAIN_AGE = timedelta(days=1)  # then at most one new dictionary a day,
RETRAIN_EVENTS = 500  # if this many events arrived since
KEEP_RATIO = 0.9  # and only if it makes held-out bodies ≥ 10 % smaller than now
SAMPLE_EVENTS = 500
SAMPLE_BYTES = 4 * 2**20  # training needs ≈12 MB plus the samples, for a moment
DICT_SIZE = 64 * 2**10
FIRST_DICT_ID = 32768  # zstd reserves smaller ids
REFRESH_SECONDS = 60.0  # how long a process trusts its idea of a project's newest dictionary
MAX_COMPRESSORS = 8  # ≈0.7 MB each with a dictionary
MAX_DECOMPRESSORS = 64  # ≈ the dictionary's size each


class MissingDictionary(LookupError):
    """A body names a dictionary that is not in the database."""


@dataclass
class _Newest:
    dict_id: int  # 0: none yet
    compressor: zstandard.ZstdCompressor
    checked: float  # time.monotonic()


_lock = threading.Lock()
_compressors: OrderedDict[int, _Newest] = OrderedDict()  # by project id
# by dict_id; 0: no dictionary
_decompressors: OrderedDict[int, zstandard.ZstdDecompressor] = OrderedDict()
_plain_compressor = zstandard.ZstdCompressor(level=LEVEL)
_failed_attempts: dict[int, float] = {}  # project id -> when training did not pay (unix time)


def compress(project_id: int, data: bytes) -> bytes:
    """The stored body of an event's JSON: compressed with the project's newest dictionary
    (or none, before the project has one)."""
    with _lock:
        return bytes(_compressor(project_id).compress(data))


def decompress(body: bytes | memoryview) -> bytes:
    """The JSON of a stored body, with whichever dictionary compressed it (a small blob
    stored as plain JSON comes back as it is: a zstd frame never starts with ``{``)."""
    data = bytes(body)
    if data[:1] == b"{":
        return data
    dict_id = zstandard.get_frame_parameters(data).dict_id
    with _lock:
        return bytes(_decompressor(dict_id).decompress(data))


def read_body(body: bytes | memoryview) -> dict[str, Any]:
    """A stored body as the event it holds. Every reader of ``Event.body`` goes through here."""
    event: dict[str, Any] = orjson.loads(decompress(body))
    return event


def forget() -> None:
    """Drop every cached compressor and decompressor (tests; a changed database)."""
    with _lock:
        _compressors.clear()
        _decompressors.clear()
        _failed_attempts.clear()


def _compressor(project_id: int) -> zstandard.ZstdCompressor:
    now = time.monotonic()
    entry = _compressors.get(project_id)
    if entry is None or now - entry.checked > REFRESH_SECONDS:
        newest = (
            CompressionDictionary.objects.filter(project_id=project_id)
            .order_by("-dict_id")
            .values_list("dict_id", flat=True)
            .first()
        ) or 0
        if entry is None or entry.dict_id != newest:
            entry = _Newest(newest, _build_compressor(newest), now)
        entry.checked = now
        _compressors[project_id] = entry
    _compressors.move_to_end(project_id)
    while len(_compressors) > MAX_COMPRESSORS:
        _compressors.popitem(last=False)
    return entry.compressor


def _build_compressor(dict_id: int) -> zstandard.ZstdCompressor:
    if not dict_id:
        return _plain_compressor
    return zstandard.ZstdCompressor(level=LEVEL, dict_data=_load_dictionary(dict_id))


def _decompressor(dict_id: int) -> zstandard.ZstdDecompressor:
    found = _decompressors.get(dict_id)
    if found is None:
        if dict_id:
            found = zstandard.ZstdDecompressor(dict_data=_load_dictionary(dict_id))
        else:
            found = zstandard.ZstdDecompressor()
        _decompressors[dict_id] = found
    _decompressors.move_to_end(dict_id)
    while len(_decompressors) > MAX_DECOMPRESSORS:
        _decompressors.popitem(last=False)
    return found


def _load_dictionary(dict_id: int) -> zstandard.ZstdCompressionDict:
    data = (
        CompressionDictionary.objects.filter(dict_id=dict_id).values_list("data", flat=True).first()
    )
    if data is None:
        raise MissingDictionary(f"compression dictionary {dict_id} is not in the database")
    return zstandard.ZstdCompressionDict(bytes(data))


# --- training (the scheduler's job) -----------------------------------------------------------


def train_dictionaries(now: datetime | None = None) -> list[CompressionDictionary]:
    """Train a dictionary for every project that is due one: its first once it has
    ``MIN_EVENTS`` events, then another ``RETRAIN_AGE`` later at the earliest, once
    ``RETRAIN_EVENTS`` arrived since. A training that did not pay waits ``RETRAIN_AGE``."""
    now = now or timezone.now()
    made = []
    for project_id in Project.objects.order_by("id").values_list("id", flat=True):
        if not _due(project_id, now):
            continue
        try:
            dictionary = train(project_id, now)
        except Exception:  # one project's trouble must not stop the others'
            log.exception("project %s: training a compression dictionary failed", project_id)
            dictionary = None
        if dictionary is None:
            _failed_attempts[project_id] = now.timestamp()
        else:
            made.append(dictionary)
    return made


def _due(project_id: int, now: datetime) -> bool:
    failed = _failed_attempts.get(project_id)
    if failed is not None and now.timestamp() - failed < RETRAIN_AGE.total_seconds():
        return False
    newest = (
        CompressionDictionary.objects.filter(project_id=project_id)
        .order_by("-dict_id")
        .values_list("created_at", flat=True)
        .first()
    )
    events = Event.objects.filter(project_id=project_id)
    if newest is None:
        return events[:MIN_EVENTS].count() >= MIN_EVENTS
    if now - newest < RETRAIN_AGE:
        return False
    # by the (project, timestamp) index: a bounded range scan, however many events it has
    return events.filter(timestamp__gt=newest)[:RETRAIN_EVENTS].count() >= RETRAIN_EVENTS


def train(project_id: int, now: datetime | None = None) -> CompressionDictionary | None:
    """Train a dictionary on the project's newest bodies; keep it only if it makes a tenth of
    them, held out of training, ≥ 10 % smaller than the project's current compression."""
    samples = _samples(project_id)
    held_out = samples[::10]
    training: list[bytes | bytearray | memoryview] = [s for n, s in enumerate(samples) if n % 10]
    if len(held_out) < 10:
        return None
    dict_id = (
        CompressionDictionary.objects.aggregate(top=Max("dict_id"))["top"] or FIRST_DICT_ID - 1
    ) + 1
    size = min(DICT_SIZE, max(4096, sum(map(len, training)) // 16))
    try:
        trained = zstandard.train_dictionary(size, training, dict_id=dict_id, level=LEVEL)
    except zstandard.ZstdError as e:
        log.warning("project %s: no compression dictionary: %s", project_id, e)
        return None
    candidate = zstandard.ZstdCompressor(level=LEVEL, dict_data=trained)
    with _lock:
        current = _compressor(project_id)
        before = sum(len(current.compress(s)) for s in held_out)
    after = sum(len(candidate.compress(s)) for s in held_out)
    log.info(
        "project %s: dictionary %s makes held-out bodies %d B instead of %d B on average",
        *(project_id, dict_id, after // len(held_out), before // len(held_out)),
    )
    if after > KEEP_RATIO * before:
        return None
    try:
        with transaction.atomic():
            dictionary = CompressionDictionary.objects.create(
                project_id=project_id,
                dict_id=dict_id,
                data=trained.as_bytes(),
                created_at=now or timezone.now(),
                sample_events=len(training),
            )
    except IntegrityError:  # another process took this id meanwhile: try next time
        return None
    with _lock:
        _compressors.pop(project_id, None)
    return dictionary


def _samples(project_id: int) -> list[bytes]:
    """The project's newest bodies, as JSON, within ``SAMPLE_BYTES``."""
    bodies = (
        Event.objects.filter(project_id=project_id)
        .order_by("-timestamp")
        .values_list("body", flat=True)[:SAMPLE_EVENTS]
    )
    samples: list[bytes] = []
    total = 0
    for body in bodies:
        data = decompress(body)
        if len(data) > SAMPLE_BYTES // 16:
            continue  # one huge event would crowd out the rest
        samples.append(data)
        total += len(data)
        if total >= SAMPLE_BYTES:
            break
    return samples
