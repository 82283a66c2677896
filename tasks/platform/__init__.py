"""What every plane stands on. Pure: `errors`, `specs` (the policies and dataset fields as plain pydantic), `contract`
(Pandera mechanics), `codec`. I/O: `store` (S3 with conditional writes), `events` (names, resources, emit), `retry`
(which errors are transient; the typed task decorators), `config` (a dataset's blocks loaded in one call).

No plane logic lives here: nothing about batches, models or drift.
"""
