"""POST /predict, GET /health (liveness), GET /ready (model loaded and warmed up)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, model_validator

from ner_inference.builtin import BuiltinModel, load
from ner_inference.entities import Entity, EntityType

MAX_TEXT = 100_000
MAX_BATCH = 64


class PredictRequest(BaseModel):
    text: str | None = None
    texts: list[str] | None = None

    @model_validator(mode="after")
    def one_of(self) -> PredictRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of 'text' or 'texts'")
        if self.texts is not None and not 1 <= len(self.texts) <= MAX_BATCH:
            raise ValueError(f"'texts' must hold 1 to {MAX_BATCH} texts")
        if any(len(t) > MAX_TEXT for t in self.all_texts()):
            raise ValueError(f"a text is longer than {MAX_TEXT} characters")
        return self

    def all_texts(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class EntityOut(BaseModel):
    type: EntityType
    start: int
    end: int
    span: str


def _out(entities: list[Entity]) -> list[EntityOut]:
    return [EntityOut(type=e.type, start=e.start, end=e.end, span=e.span) for e in entities]


def create_app() -> FastAPI:
    state: dict[str, BuiltinModel] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        model = await run_in_threadpool(load)
        await run_in_threadpool(model.predict, ["李克强在北京。"])  # warm-up before /ready
        state["model"] = model
        yield

    app = FastAPI(title="ner-ha", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> dict[str, str]:
        if "model" not in state:
            raise HTTPException(503, "model loading")
        return {"status": "ready"}

    @app.post("/predict")
    async def predict(request: PredictRequest) -> dict[str, object]:
        model = state.get("model")
        if model is None:
            raise HTTPException(503, "model loading")
        results = await run_in_threadpool(model.predict, request.all_texts())
        name = f"{model.name}@{model.version}"
        if request.text is not None:
            return {"entities": _out(results[0]), "model": name}
        return {"results": [{"entities": _out(r)} for r in results], "model": name}

    return app
