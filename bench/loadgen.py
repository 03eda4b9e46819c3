"""A lean HTTP/1.1 keep-alive load generator for bench/ingest.py (its own process).

Requests are pre-serialized bytes (see payloads.write_pool); responses are parsed just enough
to get the status and skip the body. Two modes:

- ``--rate R``: open loop. Request i is due at start + i/R; its latency runs from that
  intended time, not from when a connection became free, so a stalled server is not hidden
  by the client waiting for it (no coordinated omission).
- ``--concurrency C``: closed loop, C connections each sending back to back (a fallback for
  machines without wrk).

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from payloads import read_pool

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
# The loop's own clock may tick in whole milliseconds (uvloop); latencies need better.
clock = time.perf_counter


def _percentiles(values: list[float]) -> dict[str, float]:
    """Microseconds."""
    lat = sorted(values)
    if not lat:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0, "mean": 0.0}

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1e6

    return {
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
        "p999": pct(99.9),
        "max": lat[-1] * 1e6,
        "mean": sum(lat) / len(lat) * 1e6,
    }


class Stats:
    def __init__(self) -> None:
        # From the intended send time (open loop) or the send (closed loop) to the response.
        self.latencies: list[float] = []
        # Open loop only: from the actual send to the response (the server's share).
        self.service: list[float] = []
        self.statuses: collections.Counter[str] = collections.Counter()
        self.sent = 0
        self.acked_ids: list[bytes] = []

    def record(self, status: int, body: bytes) -> None:
        self.statuses[str(abs(status))] += 1
        if abs(status) == 200 and body.startswith(b'{"id":"'):
            self.acked_ids.append(body[7:39])

    def summary(self, duration: float) -> dict[str, Any]:
        result: dict[str, Any] = {
            "requests": len(self.latencies),
            "sent": self.sent,
            "duration_us": int(duration * 1e6),
            "latency_us": _percentiles(self.latencies),
            "statuses": dict(self.statuses),
        }
        if self.service:
            result["service_latency_us"] = _percentiles(self.service)
        return result


async def _open(host: str, port: int) -> Conn:
    return await asyncio.open_connection(host, port, limit=1 << 20)


async def _exchange(conn: Conn, request: bytes) -> tuple[int, bytes]:
    """Send one request, read its response: (status, body); the status is negative if the
    server closes the connection after it."""
    reader, writer = conn
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    close = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    body = await reader.readexactly(length) if length else b""
    return (-status if close else status), body


async def open_loop(args: argparse.Namespace, pool: list[bytes]) -> Stats:
    loop = asyncio.get_running_loop()
    stats = Stats()
    idle: collections.deque[Conn] = collections.deque()
    waiters: collections.deque[asyncio.Future[Conn]] = collections.deque()
    opened = 0
    for _ in range(args.connections):
        idle.append(await _open(args.host, args.port))
        opened += 1

    async def acquire() -> Conn:
        nonlocal opened
        if idle:
            return idle.popleft()
        if opened < args.max_connections:
            opened += 1
            return await _open(args.host, args.port)
        fut: asyncio.Future[Conn] = loop.create_future()
        waiters.append(fut)
        return await fut

    def release(conn: Conn) -> None:
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(conn)
                return
        idle.append(conn)

    async def one(request: bytes, due: float) -> None:
        nonlocal opened
        conn = await acquire()
        sent_at = clock()
        try:
            status, body = await _exchange(conn, request)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            stats.statuses[f"error:{type(exc).__name__}"] += 1
            conn[1].close()
            opened -= 1
            return
        done = clock()
        stats.latencies.append(done - due)
        stats.service.append(done - sent_at)
        stats.record(status, body)
        if status < 0:
            conn[1].close()
            opened -= 1
        else:
            release(conn)

    total = int(args.rate * args.duration)
    interval = 1.0 / args.rate
    tasks: set[asyncio.Task[None]] = set()
    start = clock() + 0.05
    i = 0
    while i < total:
        now = clock()
        due_index = min(total, int((now - start) / interval) + 1)
        while i < due_index:
            task = loop.create_task(one(pool[i % len(pool)], start + i * interval))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
            stats.sent += 1
        await asyncio.sleep(max(0.0, start + i * interval - clock()))
    if tasks:
        _done, pending = await asyncio.wait(tasks, timeout=args.timeout)
        for task in pending:
            task.cancel()
        if pending:
            stats.statuses["timeout"] += len(pending)
    return stats


async def closed_loop(args: argparse.Namespace, pool: list[bytes]) -> Stats:
    loop = asyncio.get_running_loop()
    stats = Stats()
    counter = 0
    deadline = loop.time() + args.duration

    async def worker() -> None:
        nonlocal counter
        conn = await _open(args.host, args.port)
        while loop.time() < deadline:
            request = pool[counter % len(pool)]
            counter += 1
            stats.sent += 1
            sent_at = clock()
            try:
                status, body = await _exchange(conn, request)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                stats.statuses[f"error:{type(exc).__name__}"] += 1
                conn[1].close()
                conn = await _open(args.host, args.port)
                continue
            stats.latencies.append(clock() - sent_at)
            stats.record(status, body)
            if status < 0:
                conn[1].close()
                conn = await _open(args.host, args.port)
        conn[1].close()

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return stats


def _runner() -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pool", type=Path, required=True, help="directory from write_pool")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, help="open loop: requests per second offered")
    parser.add_argument("--concurrency", type=int, help="closed loop: connections")
    parser.add_argument("--connections", type=int, default=32, help="open loop: pre-opened")
    parser.add_argument("--max-connections", type=int, default=512)
    parser.add_argument("--timeout", type=float, default=10.0, help="drain time at the end")
    parser.add_argument("--offset", type=int, default=0, help="start this far into the pool")
    parser.add_argument("--ids", type=Path, help="write the id of every 200 answer here")
    args = parser.parse_args()
    if (args.rate is None) == (args.concurrency is None):
        parser.error("give exactly one of --rate and --concurrency")
    pool = read_pool(args.pool)
    pool = pool[args.offset % len(pool) :] + pool[: args.offset % len(pool)]
    run = open_loop if args.rate else closed_loop
    started = time.perf_counter()
    stats = _runner()(run(args, pool))
    wall = time.perf_counter() - started
    # Open loop: the offered window; closed loop: until the last answer came back.
    result = stats.summary(args.duration if args.rate else wall)
    result["wall_s"] = wall
    # Both modes wait for every answer; only the open loop gives up (after --timeout).
    result["in_flight_at_stop"] = result["statuses"].get("timeout", 0)
    if args.ids:
        args.ids.write_bytes(b"".join(i + b"\n" for i in stats.acked_ids))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
