"""Settings read from the environment, each with a default that works on a fresh machine."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEV_USER_ID = "00000000-0000-4000-8000-000000000001"


def _flag(value: str | None) -> bool | None:
    if value is None or value.strip() == "":
        return None
    return value.strip().lower() in {"1", "true", "yes", "on"}


def switched_on(name: str) -> bool:
    """A process-wide switch that is on unless the environment says `0`, `false`, `no` or `off`
    (CONTINUITY_PLANNER, CONTINUITY_FAST_PATH: README, Configuration)."""
    return os.environ.get(name, "1").strip().lower() not in {"0", "false", "no", "off"}


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "continuity"


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    media_dir: Path
    jwt_secret_env: str | None
    jwt_audience: str | None
    dev_auth_env: bool | None
    public_url: str | None
    pool_size: int
    max_overflow: int
    worker_lease_seconds: float
    worker_poll_seconds: float
    max_depth: int
    max_aliases: int
    max_tokens: int
    max_cost: int
    max_body_bytes: int
    max_operations: int
    max_duplicate_fields: int
    ws_init_timeout_seconds: float
    ws_max_subscriptions: int
    # "module:attribute" of an ImageProvider / ImageStorage factory; None: the built-in ones.
    image_provider: str | None = None
    image_storage: str | None = None
    worker_concurrency: int = 2
    image_timeout_seconds: float = 300.0
    worker_grace_seconds: float = 10.0
    # `package.module:factory` of the PromptWriter generateShotPrompts uses; None = the template.
    prompt_writer: str | None = None
    # Operations (docs/operations.md).
    retry_base_seconds: float = 5.0
    event_retention_days: float = 7.0
    metrics: bool = True
    metrics_port: int | None = None
    log_format: str = "text"
    trusted_documents: Path | None = None
    persisted_query_cache_size: int = 1000
    # CONTINUITY_CORS_ORIGINS as given: exact origins separated by commas, or "*"; None: the default.
    cors_origins: str | None = None

    @property
    def embedded(self) -> bool:
        return not self.database_url

    def jwt_secret(self) -> str:
        """The signing secret: the environment's, else one generated once per data directory."""
        if self.jwt_secret_env:
            return self.jwt_secret_env
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            try:
                # Link, not rename: a concurrent first start must not replace the winner's secret.
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return path.read_text().strip()

    def dev_auth(self, host: str | None = None) -> bool:
        """Development mode: on by default only with the embedded database on a loopback bind."""
        if self.dev_auth_env is not None:
            return self.dev_auth_env
        loopback = host is None or host in {"127.0.0.1", "localhost", "::1"} or host.startswith("127.")
        return self.embedded and loopback


def load_settings() -> Settings:
    env = os.environ
    data_dir = Path(env.get("CONTINUITY_DATA_DIR") or _default_data_dir()).expanduser()
    media_dir = Path(env.get("CONTINUITY_MEDIA_DIR") or data_dir / "media").expanduser()
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        data_dir=data_dir,
        media_dir=media_dir,
        jwt_secret_env=env.get("CONTINUITY_JWT_SECRET") or None,
        jwt_audience=env.get("CONTINUITY_JWT_AUDIENCE") or None,
        dev_auth_env=_flag(env.get("CONTINUITY_DEV_AUTH")),
        public_url=(env.get("CONTINUITY_PUBLIC_URL") or "").rstrip("/") or None,
        pool_size=int(env.get("CONTINUITY_DB_POOL_SIZE", "10")),
        max_overflow=int(env.get("CONTINUITY_DB_MAX_OVERFLOW", "10")),
        worker_lease_seconds=float(env.get("CONTINUITY_WORKER_LEASE_SECONDS", "60")),
        worker_poll_seconds=float(env.get("CONTINUITY_WORKER_POLL_SECONDS", "1")),
        max_depth=int(env.get("CONTINUITY_MAX_DEPTH", "15")),
        max_aliases=int(env.get("CONTINUITY_MAX_ALIASES", "100")),
        max_tokens=int(env.get("CONTINUITY_MAX_TOKENS", "5000")),
        max_cost=int(env.get("CONTINUITY_MAX_COST", "250000")),
        max_body_bytes=int(env.get("CONTINUITY_MAX_BODY_BYTES", str(1024 * 1024))),
        max_operations=int(env.get("CONTINUITY_MAX_OPERATIONS", "10")),
        max_duplicate_fields=int(env.get("CONTINUITY_MAX_DUPLICATE_FIELDS", "20")),
        ws_init_timeout_seconds=float(env.get("CONTINUITY_WS_INIT_TIMEOUT_SECONDS", "10")),
        ws_max_subscriptions=int(env.get("CONTINUITY_WS_MAX_SUBSCRIPTIONS", "50")),
        image_provider=env.get("CONTINUITY_IMAGE_PROVIDER") or None,
        image_storage=env.get("CONTINUITY_IMAGE_STORAGE") or None,
        worker_concurrency=max(1, int(env.get("CONTINUITY_WORKER_CONCURRENCY", "2"))),
        image_timeout_seconds=float(env.get("CONTINUITY_IMAGE_TIMEOUT_SECONDS", "300")),
        worker_grace_seconds=float(env.get("CONTINUITY_WORKER_GRACE_SECONDS", "10")),
        prompt_writer=env.get("CONTINUITY_PROMPT_WRITER") or None,
        retry_base_seconds=float(env.get("CONTINUITY_RETRY_BASE_SECONDS", "5")),
        event_retention_days=float(env.get("CONTINUITY_EVENT_RETENTION_DAYS", "7")),
        metrics=_flag(env.get("CONTINUITY_METRICS")) is not False,
        metrics_port=int(env["CONTINUITY_METRICS_PORT"]) if env.get("CONTINUITY_METRICS_PORT") else None,
        log_format=(env.get("CONTINUITY_LOG_FORMAT") or "text").strip().lower(),
        trusted_documents=Path(env["CONTINUITY_TRUSTED_DOCUMENTS"]).expanduser()
        if env.get("CONTINUITY_TRUSTED_DOCUMENTS") else None,
        persisted_query_cache_size=max(1, int(env.get("CONTINUITY_PERSISTED_QUERY_CACHE_SIZE", "1000"))),
        cors_origins=env.get("CONTINUITY_CORS_ORIGINS") or None,
    )
