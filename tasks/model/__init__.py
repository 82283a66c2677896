"""The model plane: from a training window to a champion, and back by rollback.

Pure: `features` (categorical encoding), `training` (window rule, LightGBM fit), `metrics` (the one ROC AUC),
`gates` (every gate, one decision), `scoring` (the champion path), `records`, `champions` (the history log's rules:
champion, tenure, rollback chain), `episodes` (drift episodes: attempts, leases, backoff, budget). I/O: `registry`
(MLflow versions, aliases, the files each version carries), `integrity` (their SHA-256 manifest), `history` (the log
in the object store, written by compare-and-set; the alias as its projection). Tasks:
`steps/train.py`, `steps/promote.py`, `steps/retrain.py`, `steps/score.py`.

Drift statistics live in `monitoring`, not here.
"""
