"""``python -m ner_inference.server``: serve on NER_HOST:NER_PORT (default 127.0.0.1:7860)."""

import os

import uvicorn

from ner_inference.server.app import create_app

if __name__ == "__main__":
    uvicorn.run(
        create_app(),
        host=os.environ.get("NER_HOST", "127.0.0.1"),
        port=int(os.environ.get("NER_PORT", "7860")),
    )
