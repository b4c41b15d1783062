from support.apps import demo_app, demo_factory, load_runner

__all__ = ["demo_app", "demo_factory", "load_runner"]
