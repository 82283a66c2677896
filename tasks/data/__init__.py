"""The data plane: what lands, what the contract lets into the lake, and where every object lives.

Pure: `ingest` (parse, conform, the decision records), `lake` (the object layout and batch metadata), `simulate`
(synthetic batches and defects). I/O: `lake_io` (write, list and read lake batches). Tasks: `steps/ingest.py`,
`steps/ingest_write.py` (each write exactly once), `steps/simulate.py`.

Nothing here knows about models or drift.
"""
