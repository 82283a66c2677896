"""Prefect tasks of the operations plane; flows import only these."""
