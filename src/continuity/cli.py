"""`continuity`: serve, migrate, worker, export-schema, token, demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
import warnings
from pathlib import Path
from typing import Any

from services.core import logs
from services.core.config import DEV_USER_ID, Settings, load_settings
from services.db import migrations

log = logging.getLogger("continuity")


def _exit_on_signals() -> None:
    """A SIGTERM must still run atexit (the embedded database is stopped there). uvicorn
    re-raises it after its graceful shutdown, so this also ends a served run: a requested
    stop is a clean exit."""

    def _exit(signum: int, _: Any) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, _exit)


def _database(settings: Settings, migrate: bool) -> str:
    from services.db.database import resolve_database_url

    url = resolve_database_url(settings)
    if migrate:
        migrations.upgrade(url)
    return url


def _listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound before anything is started or announced: a busy
    port fails at once, with nothing printed that suggests a server is up."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as error:
        sock.close()
        raise SystemExit(f"continuity serve: cannot listen on {host}:{port}: {error.strerror}") from None
    sock.set_inheritable(True)
    return sock


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gql.app import create_app, server_options
    from services.core.auth import issue_token

    sock = _listen(args.host, args.port)
    port = sock.getsockname()[1]  # the one the system picked for --port 0
    settings = load_settings()
    _exit_on_signals()
    url = _database(settings, migrate=settings.embedded or args.migrate)
    dev_auth = settings.dev_auth(args.host)
    host = f"[{args.host}]" if ":" in args.host else args.host
    public_url = settings.public_url or f"http://{host}:{port}"
    background = []
    if not args.no_worker:
        from continuity.background import image_worker

        background.append(image_worker)
    from continuity.background import job_events

    background.insert(0, job_events)
    app = create_app(
        settings, url, public_url=public_url, dev_auth=dev_auth, background=background, metrics_host=args.host
    )
    config = uvicorn.Config(
        app, host=args.host, port=port, log_level=args.log_level, lifespan="on",
        log_config=logs.uvicorn_log_config(), access_log=False, **server_options(settings),
    )
    server = uvicorn.Server(config)
    print(f"Continuity on {public_url}/graphql (GraphiQL in a browser)", flush=True)
    if dev_auth:
        token = issue_token(settings, DEV_USER_ID, ttl_seconds=30 * 86400)
        print(f"Development mode: requests without a token act as {DEV_USER_ID}.", flush=True)
        print(f"Its token: {token}", flush=True)
    server.run(sockets=[sock])
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    _exit_on_signals()
    url = _database(settings, migrate=False)
    if args.direction == "upgrade":
        migrations.upgrade(url, args.revision or "head")
    else:
        migrations.downgrade(url, args.revision or "-1")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from continuity.background import run_worker_forever

    settings = load_settings()
    _exit_on_signals()
    url = _database(settings, migrate=settings.embedded)
    public_url = settings.public_url or "http://127.0.0.1:8000"
    return asyncio.run(run_worker_forever(settings, url, public_url))


def cmd_export_schema(args: argparse.Namespace) -> int:
    from gql.schema import schema_sdl

    path = Path(args.path) if args.path else migrations.REPO_ROOT / "schema" / "schema.graphql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_sdl())
    print(f"wrote {path}")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from services.core.auth import issue_token

    settings = load_settings()
    print(issue_token(settings, args.user, ttl_seconds=args.ttl))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from continuity.demo import load_demo

    settings = load_settings()
    _exit_on_signals()
    # Only the ids are printed (scripts read them): migration and image progress are not news here.
    for noisy in ("alembic", "continuity.worker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    url = _database(settings, migrate=settings.embedded)
    # The images' URLs are built on the address `serve` answers on by default.
    public_url = settings.public_url or "http://127.0.0.1:8000"
    for line in asyncio.run(load_demo(url, args.user, settings=settings, public_url=public_url)):
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="continuity", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve GraphQL and GraphiQL at /graphql")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--migrate", action="store_true", help="migrate DATABASE_URL to head first")
    serve.add_argument("--no-worker", action="store_true", help="leave image jobs to `continuity worker`")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply or revert database migrations")
    migrate.add_argument("direction", nargs="?", choices=["upgrade", "downgrade"], default="upgrade")
    migrate.add_argument("revision", nargs="?", help="default: head (upgrade), -1 (downgrade)")
    migrate.set_defaults(func=cmd_migrate)

    worker = sub.add_parser("worker", help="run the image-job worker in its own process")
    worker.set_defaults(func=cmd_worker)

    export = sub.add_parser("export-schema", help="write the served schema as SDL")
    export.add_argument("path", nargs="?", help="default: schema/schema.graphql of the repository")
    export.set_defaults(func=cmd_export_schema)

    token = sub.add_parser("token", help="print a bearer token (JWT) for a user")
    token.add_argument("--user", default=DEV_USER_ID, help="the user's UUID (default: the dev user)")
    token.add_argument("--ttl", type=int, default=86400, help="seconds until it expires")
    token.set_defaults(func=cmd_token)

    demo = sub.add_parser("demo", help="load a small demo film and print ids to try")
    demo.add_argument("--user", default=DEV_USER_ID, help="the owner (default: the dev user)")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    # pgserver asks platformdirs for a runtime directory; without XDG_RUNTIME_DIR (root, CI,
    # containers) platformdirs warns on every command and falls back to a fine default.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    args = build_parser().parse_args(argv)
    # `serve --log-level` sets every logger's level, request lines (INFO) included.
    level = str(getattr(args, "log_level", "info")).upper()
    logs.configure(load_settings().log_format, level if level in logging.getLevelNamesMapping() else "INFO")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    return int(args.func(args) or 0)
