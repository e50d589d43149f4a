"""``python -m ner_inference.server``: serve the configured model (settings: ``NER_*`` env)."""

from __future__ import annotations

import contextlib

import uvicorn

from ner_inference.server.app import create_app
from ner_inference.server.drain import DrainingServer
from ner_inference.server.logs import log_config
from ner_inference.server.one_write import OneWriteHttpToolsProtocol
from ner_inference.server.settings import Settings


def main() -> None:
    settings = Settings()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # The fast C implementations (uvicorn[standard]); httptools writing each response
        # in one piece, so that a killed process never leaves a truncated 200 behind.
        loop="uvloop",
        http=OneWriteHttpToolsProtocol,
        lifespan="on",
        access_log=settings.access_log,
        log_config=log_config(settings.log_level, settings.log_json),
        server_header=False,
        timeout_graceful_shutdown=30,
    )
    server = DrainingServer(config, app.state.serving, settings.drain_seconds)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl+C after shutdown
        server.run()


if __name__ == "__main__":
    main()
