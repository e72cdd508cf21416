"""The ownership predicate every service lookup carries, on top of row-level security."""

OWNED = "project_id in (select id from projects where user_id = cast(:uid as uuid))"


def owned(alias: str) -> str:
    return f"{alias}.project_id in (select id from projects where user_id = cast(:uid as uuid))"
