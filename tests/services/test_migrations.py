"""Migrations run forward, back to base and forward again on a real database."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg
import pytest

from services.db import embedded, migrations
from services.db.tables import metadata
from tests.support import REPO, asyncpg_dsn, create_database, drop_database, pg_ctl, run_sync

TABLES = set(metadata.tables)


def _inventory(url: str) -> dict[str, object]:
    async def read() -> dict[str, object]:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            tables = {r["tablename"] for r in await conn.fetch("select tablename from pg_tables where schemaname = 'public'")}
            rls = {r["relname"] for r in await conn.fetch(
                "select relname from pg_class where relrowsecurity and relnamespace = 'public'::regnamespace")}
            auth_uid = await conn.fetchval(
                "select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                "where n.nspname = 'auth' and p.proname = 'uid'")
            functions = await conn.fetchval(
                "select count(*) from pg_proc where proname like 'continuity_%'")
            return {"tables": tables, "rls": rls, "auth_uid": auth_uid, "functions": functions}
        finally:
            await conn.close()

    return run_sync(read)


def test_upgrade_downgrade_upgrade_round_trip(pg_server: str) -> None:
    url = create_database(pg_server, "continuity_migrations")
    try:
        migrations.upgrade(url)
        head = _inventory(url)
        assert TABLES <= head["tables"]  # type: ignore[operator]
        assert TABLES <= head["rls"]  # type: ignore[operator]
        assert head["auth_uid"] == 1
        migrations.downgrade(url, "base")
        base = _inventory(url)
        assert base["tables"] == {"alembic_version"}
        assert base["auth_uid"] == 0 and base["functions"] == 0
        migrations.upgrade(url)
        assert _inventory(url) == head
    finally:
        drop_database(pg_server, url)


def test_migrations_keep_an_existing_auth_uid(pg_server: str) -> None:
    """On Supabase auth.uid() exists already: the migrations use it and leave it in place."""
    url = create_database(pg_server, "continuity_supabase")
    dsn = asyncpg_dsn(url)

    async def prepare() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                "create schema auth; create function auth.uid() returns uuid language sql stable as "
                "$$ select nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$")
        finally:
            await conn.close()

    try:
        run_sync(prepare)
        migrations.upgrade(url)
        migrations.downgrade(url, "base")
        assert _inventory(url)["auth_uid"] == 1
    finally:
        drop_database(pg_server, url)




@pytest.mark.slow  # a PostgreSQL server of its own: the role must not exist yet
async def test_databases_of_a_new_server_migrate_at_the_same_time(tmp_path: Path) -> None:
    """The first migration creates the server-wide role `authenticated`; migrations of two
    databases on a new server may both find it missing, and both must still succeed."""
    server = embedded.start(tmp_path)
    try:
        urls = [create_database(server, "continuity_together") for _ in range(3)]
        env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
        runs = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "continuity", "migrate", env={**env, "DATABASE_URL": url}, cwd=REPO,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )
            for url in urls
        ]
        outputs = [(await run.communicate())[0].decode(errors="replace") for run in runs]
        assert [run.returncode for run in runs] == [0] * len(runs), "\n".join(outputs)
        for url in urls:
            assert TABLES <= _inventory(url)["tables"]  # type: ignore[operator]
    finally:
        pg_ctl(tmp_path, "-m", "fast", "stop")
