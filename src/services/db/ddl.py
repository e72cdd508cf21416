"""DDL shared by the migrations: ownership policies and timestamp triggers.

Kept in one place so every table gets the same tenancy rules; the migrations import it.
"""

from alembic import op

from services.db.predicates import SESSION_USER, owned, owns_project

# The policies' predicates: the services' ownership predicate, with the session's user.
OWNED_BY_VIEWER = owned(user=SESSION_USER)
PROJECT_OF_VIEWER = owns_project(user=SESSION_USER)


def owner_policies(table: str, predicate: str = OWNED_BY_VIEWER) -> str:
    """Row-level security for one table: Supabase-style, one policy per command."""
    return f"""
    alter table {table} enable row level security;
    create policy {table}_select on {table} for select to authenticated using ({predicate});
    create policy {table}_insert on {table} for insert to authenticated with check ({predicate});
    create policy {table}_update on {table} for update to authenticated
        using ({predicate}) with check ({predicate});
    create policy {table}_delete on {table} for delete to authenticated using ({predicate});
    grant select, insert, update, delete on {table} to authenticated;
    """


def updated_at_trigger(table: str) -> str:
    return f"""
    create trigger {table}_updated_at before update on {table}
        for each row execute function continuity_set_updated_at();
    """


def run_script(sql: str) -> None:
    """Runs a multi-statement script (asyncpg prepares single statements only, so the script
    goes through the driver's simple-query protocol, inside the migration's transaction)."""
    adapted = op.get_bind().connection.dbapi_connection
    adapted.run_async(lambda driver: driver.execute(sql))  # type: ignore[union-attr]
