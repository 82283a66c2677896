"""The local stack behind `driftloop up/down/status/env`: one module per service, and what ties them together.

`services` (a service as a process: start, health, stop, ports), `postgres`, `s3_server`, `mlflow_server`,
`prefect_server` (server, blocks, work pool, deploy), `worker`; `lifecycle` (up, down), `status`, `state` (the home
folder: pid files, generated credentials), `environment` (what every process and shell gets). A new service is one
new module here plus its line in `status.component_services`.
"""
