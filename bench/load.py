"""Load: wrk (Debian's package) with bench/load.lua, else a keep-alive asyncio client."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LUA = Path(__file__).resolve().parent / "load.lua"


async def run_load(
    wrk: str | None, url: str, body: dict[str, Any], headers: dict[str, str], duration: float,
    connections: int, threads: int,
) -> dict[str, float]:
    if wrk:
        return await _wrk(wrk, url, body, headers, duration, connections, threads)
    return await _python(url, body, headers, duration, connections)


async def _wrk(
    wrk: str, url: str, body: dict[str, Any], headers: dict[str, str], duration: float,
    connections: int, threads: int,
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(body, f)
    env = {
        **os.environ,
        "BENCH_BODY_FILE": f.name,
        "BENCH_AUTH": headers.get("Authorization", ""),
        "BENCH_USER": headers.get("X-User-Id", ""),
    }
    proc = await asyncio.create_subprocess_exec(
        wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
        "-s", str(LUA), url, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    os.unlink(f.name)
    for line in out.decode().splitlines():
        if line.startswith("BENCH_JSON "):
            r = json.loads(line.removeprefix("BENCH_JSON "))
            return {
                "rps": r["requests"] / (r["duration_us"] / 1e6),
                "p50_ms": r["p50_us"] / 1000,
                "p99_ms": r["p99_us"] / 1000,
                "errors": r["errors"],
                "requests": r["requests"],
            }
    raise RuntimeError(f"wrk gave no summary:\n{out.decode()[-2000:]}")


async def _python(
    url: str, body: dict[str, Any], headers: dict[str, str], duration: float, connections: int
) -> dict[str, float]:
    """HTTP/1.1 keep-alive over raw streams: lighter than any client library, still Python."""
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
    ).encode()
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(head + payload)
                status_line = await reader.readline()
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                data = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if b" 200 " not in status_line or b'"errors"' in data:
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 if latencies else 0.0

    return {"rps": len(latencies) / elapsed, "p50_ms": pct(0.5), "p99_ms": pct(0.99), "errors": errors,
            "requests": len(latencies)}
