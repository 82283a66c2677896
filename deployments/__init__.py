"""How flows and models get deployed and run: `cli` (the `driftloop` command), `demo` (the story `make demo` plays),
`stack/` (the local stack, one module per service), `watch/` (following runs and events from a client).

Flows and tasks never import from here; the stack imports tasks only to talk to the object store.
"""
