"""Canary analysis: pure judges that compare a canary with its baseline.

``model`` holds the data a judge sees (cumulative counters sampled over time, per
release) and what it returns (a ``Judgement``); ``judge`` dispatches to the
configured judge. Metric sources (the router's counters, Prometheus) live at the
edge and only produce ``Window`` values.
"""
