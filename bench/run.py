"""The benchmark, one command: builds the standard film, starts the server (planner on, and the
loader path for reference), the floor and the peer (PostGraphile 5), loads each with every query
and prints ours / floor / peer with their ratios, as a table and as JSON.

    .venv/bin/python bench/run.py [--scale N] [--duration S] [--connections C]

See docs/benchmark.md; dated results in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from bench import film as film_module  # noqa: E402
from bench import mutations  # noqa: E402
from bench.load import run_load  # noqa: E402

BENCH = REPO / "bench"
QUERIES = BENCH / "queries"
PEER = BENCH / "peer"
SECRET = "continuity-bench-secret-0123456789abcdef0123456789"
DB_NAME = "continuity_bench"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_url(data_dir: Path) -> str:
    from services.db.database import normalize_url

    if os.environ.get("DATABASE_URL"):
        return normalize_url(os.environ["DATABASE_URL"])
    from services.db import embedded

    return embedded.start(data_dir)


def with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def recreate_database(server: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(plain(server))
    try:
        await conn.execute(f'drop database if exists "{DB_NAME}" with (force)')
        await conn.execute(f'create database "{DB_NAME}"')
    finally:
        await conn.close()


class Process:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path = REPO) -> None:
        self.name = name
        self.log_file = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)

    def tail(self) -> str:
        return Path(self.log_file.name).read_text()[-2000:]


async def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(timeout=120) as client:
        response = await client.post(url, json=body, headers=headers)
        return response.json()  # type: ignore[no-any-return]


async def wait_ready(url: str, process: Process, body: dict[str, Any], headers: dict[str, str], wait: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
        try:
            await post(url, body, headers)
            return
        except (httpx.HTTPError, ValueError):
            await asyncio.sleep(0.3)
    raise RuntimeError(f"{process.name} did not start:\n{process.tail()}")


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) of these processes and all their children."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            # Children that exited (PostgreSQL backends, uvicorn workers) left their time with
            # the root once reaped; the live ones are counted themselves.
            times = root.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            for proc in root.children(recursive=True):
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


def rss_mb(pid: int) -> float | None:
    """Resident memory of a served process and its children (uvicorn workers), in MiB, from
    /proc/<pid>/status (VmRSS); None where /proc is not there."""
    import psutil

    pids = [pid]
    try:
        pids += [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        pass
    total_kb = 0
    found = False
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
                found = True
                break
    return total_kb / 1024 if found else None


def rss_cell(values: list[float | None]) -> str:
    """RSS after each run; a rise from the second run to the third is flagged (a leak shows there,
    after the first run has warmed the caches up)."""
    known = [v for v in values if v is not None]
    if not known:
        return "-"
    cell = " / ".join(f"{v:.0f}" if v is not None else "-" for v in values)
    if len(values) >= 3 and values[1] is not None and values[2] is not None and values[2] - values[1] >= 1:
        cell += f" (+{values[2] - values[1]:.0f} run 2 to 3)"
    return cell


def postmaster_pid(server: str) -> int | None:
    """The embedded PostgreSQL's postmaster (its backends are its children); None for an
    external database, whose CPU the benchmark cannot see."""
    if os.environ.get("DATABASE_URL"):
        return None
    pidfile = REPO / ".data" / "bench" / "pg" / "postmaster.pid"
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def ensure_wrk() -> str | None:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing wrk (Debian package) ...")
        subprocess.run(["apt-get", "install", "-y", "wrk"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run(["apt-get", "install", "-y", "wrk"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return shutil.which("wrk")


def start_peer(database: str, port: int) -> Process | str:
    """PostGraphile 5 from the npm registry; a reason string when it cannot run here."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return "node/npm not installed: the peer (PostGraphile) is skipped"
    if not (PEER / "node_modules" / "postgraphile").exists():
        log("installing PostGraphile 5 from npm ...")
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=PEER, capture_output=True, text=True)
        if done.returncode != 0:
            return f"npm install failed: {done.stderr[-500:]}"
    env = {**os.environ, "PEER_DATABASE_URL": node_url(database), "PEER_PORT": str(port), "NODE_ENV": "production"}
    return Process("peer", [node, "--require", "./polyfill.cjs", "server.mjs"], env, cwd=PEER)


def node_url(url: str) -> str:
    """node-postgres reads the socket directory from `host=` too, but wants no driver name."""
    return plain(url)


def percent(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "-"
    return f"{a / b:.2f}x"


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


async def statements_per_request(database: str, settings: Any, body: dict[str, Any], token: str, planner: bool) -> int:
    """Counted in this process on the server's own counter (a real app over ASGI, no load)."""
    import httpx

    from gql.app import create_app

    os.environ["CONTINUITY_PLANNER"] = "1" if planner else "0"
    app = create_app(settings, database, public_url="http://bench", dev_auth=False)
    state = app.state.continuity
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = {"Authorization": f"Bearer {token}"}
            await client.post("/graphql", json=body, headers=headers)
            state.db.statements.take()
            await client.post("/graphql", json=body, headers=headers)
            return state.db.statements.take()
    finally:
        await state.db.dispose()
        os.environ.pop("CONTINUITY_PLANNER", None)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    os.environ["CONTINUITY_JWT_SECRET"] = SECRET
    os.environ["CONTINUITY_DEV_AUTH"] = "0"
    os.environ.setdefault("CONTINUITY_DATA_DIR", str(REPO / ".data" / "bench-data"))
    from services.core.auth import issue_token
    from services.core.config import load_settings
    from services.db import migrations

    server = server_url(REPO / ".data" / "bench")
    await recreate_database(server)
    database = with_database(server, DB_NAME)
    log(f"migrating {DB_NAME} ...")
    await asyncio.to_thread(migrations.upgrade, database)
    log(f"building the standard film x{args.scale} (set-based SQL, as the system) ...")
    started = time.perf_counter()
    films = await film_module.build(plain(database), args.scale)
    log(f"  built in {time.perf_counter() - started:.1f}s")
    settings = load_settings()
    token = issue_token(settings, film_module.OWNER, ttl_seconds=86400)
    postmaster = postmaster_pid(server)
    standard = films["standard"]
    middle = standard.scenes[len(standard.scenes) // 2]
    targets_of = {
        "scene_page": middle,
        "stage9_page": middle,
        "continuity_page": standard.branch_id,
        "continuity_report": standard.branch_id,
        "history_page": standard.branch_id,
    }

    wrk = ensure_wrk()
    log(f"load generator: {'wrk' if wrk else 'python asyncio client (wrk not available)'}")
    workers = str(args.workers)
    base_env = {**os.environ, "DATABASE_URL": database, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    processes: dict[str, Process] = {}
    notes: list[str] = []
    results: dict[str, Any] = {"queries": {}, "mutations": {}}
    try:
        ports = {name: free_port() for name in ("ours", "planned", "loaders", "floor", "peer")}
        if "ours" in args.targets:
            processes["ours"] = Process("ours", [sys.executable, "-m", "bench.serve", "--port", str(ports["ours"]), "--workers", workers], {**base_env, "CONTINUITY_PLANNER": "1"})
        if "planned" in args.targets:
            processes["planned"] = Process("planned", [sys.executable, "-m", "bench.serve", "--port", str(ports["planned"]), "--workers", workers], {**base_env, "CONTINUITY_PLANNER": "1", "CONTINUITY_FAST_PATH": "0"})
        if "loaders" in args.targets:
            processes["loaders"] = Process("loaders", [sys.executable, "-m", "bench.serve", "--port", str(ports["loaders"]), "--workers", workers], {**base_env, "CONTINUITY_PLANNER": "0"})
        if "floor" in args.targets:
            processes["floor"] = Process("floor", [sys.executable, "-m", "bench.floor", "--port", str(ports["floor"]), "--workers", workers], {**base_env, "FLOOR_DSN": plain(database), "FLOOR_UID": film_module.OWNER})
        if "peer" in args.targets:
            peer = start_peer(database, ports["peer"])
            if isinstance(peer, str):
                notes.append(peer)
                log(peer)
            else:
                processes["peer"] = peer

        from bench.floor import statements as floor_statements

        floor_sql = floor_statements()
        endpoints: dict[str, dict[str, Any]] = {}
        for query_name in args.queries:
            query = (QUERIES / f"{query_name}.graphql").read_text()
            variables = {"id": targets_of[query_name]}
            ep: dict[str, Any] = {}
            auth = {"Authorization": f"Bearer {token}"}
            for name in ("ours", "planned", "loaders"):
                if name in processes:
                    ep[name] = (f"http://127.0.0.1:{ports[name]}/graphql", {"query": query, "variables": variables}, auth)
            if "floor" in processes and query_name in floor_sql:
                ep["floor"] = (f"http://127.0.0.1:{ports['floor']}/{query_name}", {"variables": variables}, {})
            peer_query = PEER / "queries" / f"{query_name}.graphql"
            if "peer" in processes and peer_query.exists():
                ep["peer"] = (f"http://127.0.0.1:{ports['peer']}/graphql", {"query": peer_query.read_text(), "variables": variables}, {"X-User-Id": film_module.OWNER})
            endpoints[query_name] = ep

        for name, process in processes.items():
            log(f"waiting for {name} ...")
            path = "/scene_page" if name == "floor" else "/graphql"
            probe = {"variables": {"id": middle}} if name == "floor" else {"query": "{ __typename }"}
            await wait_ready(f"http://127.0.0.1:{ports[name]}{path}", process, probe, {})

        for query_name, ep in endpoints.items():
            query_result: dict[str, Any] = {}
            body = ep["ours"][1] if "ours" in ep else None
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in ep}
            answers: dict[str, tuple[Any, int]] = {}
            for name, (url, payload, headers) in ep.items():
                answer = await post(url, payload, headers)
                first_error = (answer.get("errors") or [None])[0]
                size = len(json.dumps(answer))
                answers[name] = (first_error, size)
                log(f"{query_name} / {name}: {size} bytes{'; ERROR: ' + str(first_error)[:200] if first_error else ''}")
                await run_load(wrk, url, payload, headers, args.warmup, args.connections, args.threads)
            # Runs interleave the targets, so a noisy neighbour hurts each of them alike.
            for _ in range(args.runs):
                for name, (url, payload, headers) in ep.items():
                    served = [processes[name].proc.pid]
                    pg = [postmaster] if postmaster else []
                    before = (cpu_seconds(served), cpu_seconds(pg))
                    run = await run_load(wrk, url, payload, headers, args.duration, args.connections, args.threads)
                    after = (cpu_seconds(served), cpu_seconds(pg))
                    done = max(run["requests"], 1)
                    run["server_cpu_ms"] = (after[0] - before[0]) / done * 1000
                    run["pg_cpu_ms"] = (after[1] - before[1]) / done * 1000 if pg else 0.0
                    run["rss_mb"] = rss_mb(processes[name].proc.pid)
                    runs[name].append(run)
            for name in ep:
                first_error, size = answers[name]
                summary = {
                    "rps": median([r["rps"] for r in runs[name]]),
                    "p50_ms": median([r["p50_ms"] for r in runs[name]]),
                    "p99_ms": median([r["p99_ms"] for r in runs[name]]),
                    "errors": median([r["errors"] for r in runs[name]]),
                    "server_cpu_ms": median([r["server_cpu_ms"] for r in runs[name]]),
                    "pg_cpu_ms": median([r["pg_cpu_ms"] for r in runs[name]]),
                    # After each run, in order: not a median (growth is what it shows).
                    "rss_mb": [r["rss_mb"] for r in runs[name]],
                    "response_bytes": size,
                    "runs": runs[name],
                    "first_error": first_error,
                }
                if name in ("ours", "planned", "loaders") and body is not None:
                    summary["statements"] = await statements_per_request(database, settings, body, token, planner=name != "loaders")
                elif name == "floor":
                    summary["statements"] = 2  # the claims, then the one statement
                elif name == "peer":
                    summary["statements"] = 2  # PostGraphile: pgSettings (set_config), then one query
                log(f"  {name}: {summary['rps']:.0f} req/s p50 {summary['p50_ms']:.1f} ms p99 {summary['p99_ms']:.1f} ms errors {summary['errors']:.0f}")
                query_result[name] = summary
            results["queries"][query_name] = query_result

        if "ours" in processes and not args.skip_mutations:
            results["mutations"] = await mutations.measure(
                f"http://127.0.0.1:{ports['ours']}/graphql", token, plain(database), films
            )
    finally:
        for process in processes.values():
            process.stop()
    results["notes"] = notes
    return results


def table(results: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        f"date {meta['date']}  machine {meta['machine']}",
        f"command {meta['command']}",
        f"c={meta['connections']} duration {meta['duration']}s x {meta['runs']} runs (medians), workers {meta['workers']}, scale {meta['scale']}",
        "",
        "| query | target | req/s | p50 ms | p99 ms | errors | SQL/req | CPU ms/req server + PG | RSS MiB after each run | vs peer | vs floor |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    peer_scene = results["queries"].get("scene_page", {}).get("peer", {}).get("rps")
    for query_name, by_target in results["queries"].items():
        peer = by_target.get("peer", {}).get("rps")
        floor = by_target.get("floor", {}).get("rps")
        for name in ("ours", "planned", "loaders", "floor", "peer"):
            r = by_target.get(name)
            if r is None:
                continue
            versus_peer = percent(r["rps"], peer) if name != "peer" else "1.00x"
            if query_name != "scene_page" and peer is None and name in ("ours", "planned", "loaders"):
                versus_peer = percent(r["rps"], peer_scene) + " (of peer scene_page)" if peer_scene else "-"
            lines.append(
                f"| {query_name} | {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']:.0f} | "
                f"{r.get('statements', '-')} | {r['server_cpu_ms']:.1f} + {r['pg_cpu_ms']:.1f} | "
                f"{rss_cell(r.get('rss_mb') or [])} | {versus_peer} | {percent(r['rps'], floor) if name != 'floor' else '1.00x'} |"
            )
    if results.get("mutations"):
        lines += ["", "| mutation | via GraphQL ms | SQL core ms | ratio | note |", "|---|---:|---:|---:|---|"]
        for name, m in results["mutations"].items():
            if m.get("skipped"):
                lines.append(f"| {name} | - | - | - | skipped: {m['skipped']} |")
            else:
                lines.append(f"| {name} | {m['api_ms']:.1f} | {m['core_ms']:.1f} | {m['api_ms'] / m['core_ms']:.2f}x | {m.get('note', '')} |")
    for note in results.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of ours and of the floor")
    parser.add_argument("--queries", default="scene_page,stage9_page,continuity_page,continuity_report,history_page")
    parser.add_argument("--targets", default="ours,loaders,floor,peer")
    parser.add_argument("--skip-mutations", action="store_true")
    parser.add_argument("--out", default=str(BENCH / "results"))
    args = parser.parse_args()
    args.queries = [q for q in args.queries.split(",") if q]
    args.targets = [t for t in args.targets.split(",") if t]
    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "command": " ".join(["bench/run.py", *sys.argv[1:]]),
        "connections": args.connections,
        "duration": args.duration,
        "runs": args.runs,
        "workers": args.workers,
        "scale": args.scale,
    }
    results = asyncio.run(main_async(args))
    report = {"meta": meta, **results}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (out / f"bench-{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
    text = table(results, meta)
    (out / f"bench-{stamp}.md").write_text(text + "\n")
    print(text)
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
