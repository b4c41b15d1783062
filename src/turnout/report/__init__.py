"""Deploy reports: a timeline (requests/s per release, failures, p99 latency, and a
marker for every step) as a PNG and a self-contained HTML page.

``timeline`` is pure (samples or load outcomes in, a ``Timeline`` out);
``render`` draws it with matplotlib.
"""

from turnout.report.timeline import Bucket, Marker, Timeline, from_load, from_samples

__all__ = ["Bucket", "Marker", "Timeline", "from_load", "from_samples"]
