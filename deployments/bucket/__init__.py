"""The production bucket's own configuration: `retention` (the lifecycle rules `driftloop init` applies, from
lifecycle.json) and the producer announcement (landed-webhook.json.j2, a Prefect Cloud webhook template, fed by the
EventBridge rule in landed-rule.json)."""
