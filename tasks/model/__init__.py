"""The model plane: from a training window to a champion, and back by rollback.

Pure: `features` (categorical encoding), `training` (window rule, LightGBM fit), `metrics` (the one ROC AUC),
`gates` (every gate, one decision), `scoring` (the champion path), `records`. I/O: `registry` (MLflow versions,
aliases, the files each version carries), `history` and `locks` (the alias history in the object store). Tasks:
`steps/train.py`, `steps/promote.py`, `steps/retrain.py`, `steps/score.py`.

Drift statistics live in `monitoring`, not here.
"""
