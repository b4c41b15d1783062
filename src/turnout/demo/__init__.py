"""The demo app turnout's tests, demo and examples deploy (docs/example-app.md).

A small real web app, served as ASGI by uvicorn or as WSGI by any WSGI server,
with switches for the faults a bad release has.
"""

from turnout.demo.asgi import DemoASGIApp
from turnout.demo.content import pattern
from turnout.demo.release import DemoRelease
from turnout.demo.state import DemoState
from turnout.demo.wsgi import DemoWSGIApp

__all__ = ["DemoASGIApp", "DemoRelease", "DemoState", "DemoWSGIApp", "pattern"]
