"""The HTTP service (FastAPI + uvicorn): ``python -m ner_inference.server``."""
