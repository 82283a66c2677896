"""The monitoring plane: is a scored batch still like the champion's reference?

Pure: `drift` (the fast engine: profiles and verdicts), `stats` (the distances behind it), `models` (profiles,
verdicts, summaries). `report` renders Evidently's human report from bounded samples (Evidently is never the
verdict). Tasks: `steps/check.py` (verdict, report, persisted summary), `steps/publish.py` (MLflow, artifact,
events).

Retraining decisions are the model plane's; this plane only reports drift.
"""
