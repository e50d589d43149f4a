"""The request and response bodies of ``POST /predict`` (also the OpenAPI schema)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ner_inference.entities import Entity

EXAMPLE = "李克强总理在北京会见了德国总理默克尔。"


class PredictRequest(BaseModel):
    """Exactly one of ``text`` or ``texts``; the size limits are server settings."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": EXAMPLE}, {"texts": [EXAMPLE, "我爱北京。"]}]},
    )

    text: str | None = Field(default=None, description="one text")
    texts: list[str] | None = Field(default=None, description="several texts, answered in order")


class TextResult(BaseModel):
    entities: list[Entity] = Field(
        description="PER/LOC/ORG spans; start and end are Python str indices, end exclusive, "
        "span == text[start:end]"
    )


class PredictResponse(TextResult):
    model: str = Field(description="<backend>@<version>")


class BatchResponse(BaseModel):
    results: list[TextResult]
    model: str = Field(description="<backend>@<version>")


class ErrorResponse(BaseModel):
    detail: str = Field(description="what is wrong")
