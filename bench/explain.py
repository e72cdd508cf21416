"""`EXPLAIN (ANALYZE, BUFFERS)` of our statement and the floor's, side by side, for one query.

    .venv/bin/python bench/explain.py stage9_page [--verbose] [--sql] [--repeat N]

Runs against the benchmark's database (`continuity_bench`, as `bench/run.py` left it; it is
built first when missing). Our statement is the one the planner compiles for the query (read
from its plan cache after one request through the app in this process); both run in a
transaction as role `authenticated` with the owner's claim, as the servers run them. The plans
go to stdout, then the execution times (best of `--repeat`) and the shared buffers touched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from bench import film as film_module  # noqa: E402
from bench.floor import CLAIMS, statements  # noqa: E402
from bench.run import DB_NAME, QUERIES, SECRET, plain, server_url, with_database  # noqa: E402


async def compiled_sql(database: str, query: str, variables: dict[str, Any]) -> str:
    """The SQL the planner compiled for the query's root field, with `$1` = id, `$2` = user."""
    import httpx

    from gql.app import create_app
    from gql.planner import executor
    from services.core.auth import issue_token
    from services.core.config import load_settings

    settings = load_settings()
    token = issue_token(settings, film_module.OWNER, ttl_seconds=3600)
    app = create_app(settings, database, public_url="http://bench", dev_auth=False)
    state = app.state.continuity
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
    finally:
        await state.db.dispose()
    plans = [plan for plan in executor.PLANS._plans.values() if plan is not None]
    if not plans:
        raise SystemExit("the query was not planned")
    sql = plans[-1].sql
    return re.sub(r":uid\b", "$2::uuid", re.sub(r":id\b", "$1::uuid", sql))


async def explain(conn: Any, sql: str, args: list[Any], verbose: bool, repeat: int) -> tuple[str, float, int]:
    options = "ANALYZE, BUFFERS, FORMAT JSON" + (", VERBOSE" if verbose else "")
    best: float | None = None
    text = ""
    buffers = 0
    for _ in range(repeat):
        async with conn.transaction():
            await conn.execute(CLAIMS, film_module.OWNER)
            raw = await conn.fetchval(f"explain ({options}) {sql}", *args)
        plan = json.loads(raw)[0]
        elapsed = float(plan["Execution Time"])
        if best is None or elapsed < best:
            best = elapsed
            node = plan["Plan"]
            buffers = int(node.get("Shared Hit Blocks", 0)) + int(node.get("Shared Read Blocks", 0))
    async with conn.transaction():
        await conn.execute(CLAIMS, film_module.OWNER)
        rows = await conn.fetch(f"explain (ANALYZE, BUFFERS{', VERBOSE' if verbose else ''}) {sql}", *args)
        text = "\n".join(r[0] for r in rows)
    assert best is not None
    return text, best, buffers


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def timed(conn: Any, sql: str, args: list[Any], repeat: int) -> tuple[float, float, float | None]:
    """Least and median wall time of the statement itself (no EXPLAIN instrumentation), and the
    backend's CPU time per run when the server is local (steadier than wall time on a shared
    machine), in ms."""
    import statistics
    import time

    times = []
    async with conn.transaction():
        await conn.execute(CLAIMS, film_module.OWNER)
        pid = await conn.fetchval("select pg_backend_pid()")
        local = os.path.exists(f"/proc/{pid}/stat")  # noqa: ASYNC240 (a local procfs read, once)
        statement = await conn.prepare(sql)
        await statement.fetchval(*args)
        cpu = _cpu_seconds(pid) if local else 0.0
        for _ in range(repeat):
            started = time.perf_counter()
            await statement.fetchval(*args)
            times.append((time.perf_counter() - started) * 1000)
        per_run = (_cpu_seconds(pid) - cpu) * 1000 / repeat if local else None
    return min(times), statistics.median(times), per_run


async def main_async(args: argparse.Namespace) -> None:
    import asyncpg

    os.environ["CONTINUITY_JWT_SECRET"] = SECRET
    os.environ["CONTINUITY_DEV_AUTH"] = "0"
    os.environ["CONTINUITY_PLANNER"] = "1"
    os.environ.setdefault("CONTINUITY_DATA_DIR", str(REPO / ".data" / "bench-data"))
    server = server_url(REPO / ".data" / "bench")
    database = with_database(server, DB_NAME)
    conn = await asyncpg.connect(plain(database))
    try:
        by_branch = args.query in ("continuity_page", "continuity_report", "history_page")
        # The benchmark's own targets: the standard film's branch, or its middle scene.
        target = await conn.fetchval(
            "select b.id from branches b join projects p on p.id = b.project_id"
            " where p.user_id = $1 and p.title like 'Standard film x%'"
            if by_branch
            else "select s.id from scenes s join projects p on p.id = s.project_id"
            " where p.user_id = $1 and p.title like 'Standard film x%'"
            " and s.scene_number = (select count(*) / 2 from scenes x where x.project_id = p.id)",
            film_module.OWNER,
        )
        if target is None:
            raise SystemExit("no benchmark film: run bench/run.py once (any query, --runs 1) first")
        query = (QUERIES / f"{args.query}.graphql").read_text()
        ours = await compiled_sql(database, query, {"id": str(target)})
        floor = statements().get(args.query)
        values = [target, film_module.OWNER]
        results = []
        for name, sql in (("ours", ours), ("floor", floor[1] if floor else None)):
            if sql is None:
                continue
            if args.sql:
                print(f"-- {name}\n{sql}\n")
            text, best, buffers = await explain(conn, sql, values, args.verbose, args.repeat)
            print(f"== {name} ==\n{text}\n")
            results.append((name, best, buffers, await timed(conn, sql, values, args.repeat * 20)))
        for name, best, buffers, (least, median, cpu) in results:
            print(
                f"{args.query} {name}: {'-' if cpu is None else f'{cpu:.2f}'} ms PostgreSQL CPU per run,"
                f" {least:.2f} ms least, {median:.2f} ms median of {args.repeat * 20} runs"
                " (prepared, no EXPLAIN);"
                f" EXPLAIN ANALYZE best of {args.repeat}: {best:.2f} ms, {buffers} shared buffers"
            )
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("query")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--sql", action="store_true", help="print both statements")
    parser.add_argument("--repeat", type=int, default=5)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
