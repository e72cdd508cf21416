"""Migrations run forward, back to base and forward again on a real database."""

from __future__ import annotations

import asyncpg

from services.db import migrations
from services.db.tables import metadata
from tests.support import asyncpg_dsn, create_database, drop_database, run_sync

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


