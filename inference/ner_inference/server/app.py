"""The HTTP API: POST /predict, GET /health, /ready, /metrics, and the web page at /."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from ner_inference.backend import Backend, load_backend
from ner_inference.server.batcher import MicroBatcher
from ner_inference.server.body_limit import BodyLimitMiddleware
from ner_inference.server.drain import CloseWhenDraining
from ner_inference.server.metrics import Metrics, MetricsMiddleware
from ner_inference.server.schemas import (
    EXAMPLE,
    BatchResponse,
    ErrorResponse,
    PredictRequest,
    PredictResponse,
    TextResult,
)
from ner_inference.server.settings import Settings

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("ner_inference.server")


@dataclass
class Serving:
    """What the routes share: the model once loaded, and where the server is in its life."""

    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    model: str = ""  # "<backend>@<version>"
    batcher: MicroBatcher | None = None  # set once loaded and warmed up
    load_error: str | None = None
    draining: bool = False

    @property
    def ready(self) -> bool:
        return self.batcher is not None and not self.draining

    def begin_drain(self) -> None:
        self.draining = True
        self.metrics.ready.set(0)


async def load_and_warm_up(serving: Serving, load: Callable[[Settings], Backend]) -> None:
    """Load off the event loop (the server answers /health meanwhile), then run one real
    request through the batcher: only then is the server ready."""
    settings = serving.settings
    batcher: MicroBatcher | None = None
    try:
        backend = await asyncio.to_thread(load, settings)
        batcher = MicroBatcher(
            backend.predict,
            max_texts=settings.batch_size,
            max_wait=settings.batch_wait_ms / 1000,
            on_batch=serving.metrics.observe_batch,
            concurrency=settings.batch_concurrency,
        )
        batcher.start()
        await batcher.predict([EXAMPLE])
    except Exception as error:
        log.exception("loading the %s model failed", settings.backend)
        serving.load_error = f"{type(error).__name__}: {error}"
        if batcher is not None:
            await batcher.stop()
        return
    # The model's vocabularies and lexicon are ~170k long-lived container objects; a full
    # collection walking them stalled every request for ~100 ms. Frozen, the collector
    # skips them.
    gc.collect()
    gc.freeze()
    serving.model = f"{backend.name}@{backend.version}"
    serving.metrics.load_seconds.labels(backend.name, backend.version).set(backend.load_seconds)
    serving.batcher = batcher
    if not serving.draining:
        serving.metrics.ready.set(1)
    log.info("model %s loaded in %.1f s, ready", serving.model, backend.load_seconds)


def create_app(
    settings: Settings | None = None, load: Callable[[Settings], Backend] = load_backend
) -> FastAPI:
    serving = Serving(settings or Settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(load_and_warm_up(serving, load))
        try:
            yield
        finally:
            loading.cancel()
            if serving.batcher is not None:
                await serving.batcher.stop()

    app = FastAPI(
        title="ner-ha",
        summary="Chinese named entities (PER, LOC, ORG)",
        lifespan=lifespan,
        exception_handlers={RequestValidationError: _validation_error},
        # Prometheus is this service's metrics; skip OpenTelemetry's per-request checks.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.serving = serving
    app.add_middleware(CloseWhenDraining, serving=serving)
    app.add_middleware(BodyLimitMiddleware, max_bytes=serving.settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=serving.metrics)
    if STATIC.is_dir():  # the web page's files; without them / and /static/* are 404
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/health", summary="liveness: the event loop answers and inference is not stuck")
    async def health() -> JSONResponse:
        if serving.load_error is not None:
            return _error(503, f"model failed to load: {serving.load_error}")
        batcher = serving.batcher
        busy_since = batcher.busy_since if batcher is not None else None
        if busy_since is not None:
            busy = time.monotonic() - busy_since
            if busy > serving.settings.stuck_seconds:
                return _error(503, f"inference has been running one batch for {busy:.0f} s")
        return JSONResponse({"status": "ok" if batcher is not None else "loading"})

    @app.get("/ready", summary="readiness: 200 once the model has answered, 503 while draining")
    async def ready() -> JSONResponse:
        if serving.ready:
            return JSONResponse({"status": "ready", "model": serving.model})
        return _error(503, _not_ready_reason(serving))

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(serving.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", summary="the web page", response_class=FileResponse)
    async def page() -> FileResponse:
        index = STATIC / "index.html"
        if not index.is_file():
            raise HTTPException(404, "the web page is not installed")
        return FileResponse(index, media_type="text/html")

    @app.post(
        "/predict",
        summary="entities of one text or of several",
        response_model=PredictResponse | BatchResponse,
        responses={
            code: {"model": ErrorResponse, "description": why}
            for code, why in {
                400: "the body is not UTF-8 JSON",
                413: "the body is larger than the limit",
                415: "the content type is not application/json",
                422: "the JSON does not match the schema or a limit",
                503: "the model is still loading",
            }.items()
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
            }
        },
    )
    async def predict(request: Request) -> Response:
        # The body is parsed here, not by FastAPI, so that every failure gets its own
        # status and message, and the happy path costs one Rust-side parse.
        payload = await _request_of(request)
        texts = _texts_of(payload, serving.settings)
        batcher = serving.batcher
        if batcher is None:
            raise HTTPException(503, _not_ready_reason(serving), headers={"Retry-After": "1"})
        results = await batcher.predict(texts)
        serving.metrics.count_entities(results)
        body: PredictResponse | BatchResponse
        if payload.text is not None:
            body = PredictResponse.model_construct(entities=results[0], model=serving.model)
        else:
            items = [TextResult.model_construct(entities=entities) for entities in results]
            body = BatchResponse.model_construct(results=items, model=serving.model)
        return Response(body.model_dump_json().encode(), media_type="application/json")

    return app


async def _request_of(request: Request) -> PredictRequest:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise HTTPException(415, f"content type must be application/json, not {media_type!r}")
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HTTPException(400, f"body is not UTF-8: bad byte at offset {error.start}") from None
    try:
        return PredictRequest.model_validate_json(text)
    except ValidationError as error:
        problems = error.errors(include_url=False)
        if problems[0]["type"] == "json_invalid":
            raise HTTPException(400, problems[0]["msg"]) from None
        raise HTTPException(422, _describe(problems)) from None


def _texts_of(request: PredictRequest, settings: Settings) -> list[str]:
    if (request.text is None) == (request.texts is None):
        raise HTTPException(422, "give exactly one of 'text' (a string) or 'texts' (a list)")
    texts = [request.text] if request.text is not None else request.texts or []
    if not 1 <= len(texts) <= settings.max_batch_texts:
        raise HTTPException(
            422, f"'texts' must hold 1 to {settings.max_batch_texts} texts, not {len(texts)}"
        )
    for index, text in enumerate(texts):
        if len(text) > settings.max_text_chars:
            where = "'text'" if request.text is not None else f"texts[{index}]"
            raise HTTPException(
                422,
                f"{where} has {len(text)} characters, more than the limit of "
                f"{settings.max_text_chars}",
            )
    return texts


def _describe(problems: Sequence[Mapping[str, object]]) -> str:
    def one(problem: Mapping[str, object]) -> str:
        loc = problem.get("loc") or ()
        where = ".".join(str(part) for part in loc) if isinstance(loc, tuple) else ""
        return f"{where}: {problem['msg']}" if where else str(problem["msg"])

    return "; ".join(one(problem) for problem in problems[:5])


def _not_ready_reason(serving: Serving) -> str:
    if serving.draining:
        return "draining: the server is shutting down"
    if serving.load_error is not None:
        return f"model failed to load: {serving.load_error}"
    return "model is loading"


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status)


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    problems = error.errors() if isinstance(error, RequestValidationError) else []
    return _error(422, _describe(problems))
