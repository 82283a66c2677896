"""The units of work, one package per plane; flows import only each plane's `steps`.

- `platform`   what every plane stands on: errors, pure specs, the contract mechanics, the object store, events,
               the task decorators, and the dataset configuration loaded from blocks.
- `data`       landing → contract → lake or quarantine; the lake layout; synthetic batches.
- `model`      features, training, gates, scoring, the MLflow registry and the champion's history.
- `monitoring` the fast drift engine, its statistics and records, and the Evidently report.
- `contracts`  the datasets' Pandera contracts (the demo's `credit`; your own go here too).

Inside a plane, pure modules (polars/numpy/pydantic/LightGBM, no I/O) sit beside the I/O helpers, and `steps/` holds
the Prefect tasks. The boundaries are import-linter contracts (`make lint`).
"""
