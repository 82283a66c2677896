"""The model server: one FastAPI app serving every dataset's champion under its contract, with canary and shadow,
and its online log landed for the loop (README: Serving). `python -m deployments.serve` runs it."""
