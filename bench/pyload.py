"""A Python load generator for when wrk is not installed: two processes, each with
``connections / 2`` concurrent keep-alive clients, sending the same pre-signed deliveries as
``deliveries.lua`` (disjoint halves). Slower than wrk: the figures say so (``generator``)."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx

PROCESSES = 2


def run(
    url: str, bodies: Path, seconds: float, connections: int, delay_ms: float
) -> dict[str, Any]:
    with ProcessPoolExecutor(PROCESSES) as pool:
        parts = list(
            pool.map(
                _process,
                [
                    (url, str(bodies), seconds, max(1, connections // PROCESSES), delay_ms, i)
                    for i in range(PROCESSES)
                ],
            )
        )
    latencies = sorted(x for part in parts for x in part["latencies"])
    requests = sum(p["requests"] for p in parts)
    return {
        "generator": "python",
        "requests": requests,
        "sent": sum(p["sent"] for p in parts),
        "seconds": seconds,
        "non_2xx": sum(p["non_2xx"] for p in parts),
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan"),
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
        "per_s": requests / seconds,
    }


def _process(job: tuple[str, str, float, int, float, int]) -> dict[str, Any]:
    url, path, seconds, connections, delay_ms, index = job
    lines = Path(path).read_text().splitlines()[index::PROCESSES]
    return asyncio.run(_load(url, lines, seconds, connections, delay_ms))


async def _load(
    url: str, lines: list[str], seconds: float, connections: int, delay_ms: float
) -> dict[str, Any]:
    figures: dict[str, Any] = {"requests": 0, "sent": 0, "non_2xx": 0, "latencies": []}
    queue = iter(lines)
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:

        async def connection() -> None:
            while time.perf_counter() < deadline:
                line = next(queue, None)
                if line is None:
                    return
                signature, body = line.split("\t", 1)
                figures["sent"] += 1
                start = time.perf_counter()
                response = await client.post(
                    "/webhooks/meta",
                    content=body.encode(),
                    headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
                )
                figures["latencies"].append(time.perf_counter() - start)
                figures["requests"] += 1
                figures["non_2xx"] += not 200 <= response.status_code < 300
                if delay_ms:
                    await asyncio.sleep(random.uniform(delay_ms / 2, delay_ms * 1.5) / 1000)

        await asyncio.gather(*(connection() for _ in range(connections)))
    return figures
