"""The data plane's Prefect tasks: the only modules of the plane that flows import."""
