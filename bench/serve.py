"""The server under test, as `continuity serve` builds it, with uvicorn workers (a factory, so
every worker process builds its own app)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))


def app():  # type: ignore[no-untyped-def]
    from gql.app import create_app
    from services.core.config import load_settings

    settings = load_settings()
    url = os.environ["DATABASE_URL"]
    return create_app(
        settings, url, public_url=os.environ.get("CONTINUITY_PUBLIC_URL", "http://127.0.0.1"),
        dev_auth=False,
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join([str(SRC), str(SRC.parent)])
    uvicorn.run(
        "bench.serve:app", factory=True, host="127.0.0.1", port=args.port, workers=args.workers,
        log_level="warning", access_log=False,
    )


if __name__ == "__main__":
    main()
