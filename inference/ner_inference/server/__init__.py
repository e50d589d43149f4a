"""HTTP serving of the built-in model (FastAPI)."""
