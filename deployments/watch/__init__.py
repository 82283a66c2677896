"""Following the stack from a client: point the Prefect client at an API (`api`), wait for flow runs (`runs`) and
events (`events`). Used by the demo, the benchmarks and the tests; flows never need it."""
