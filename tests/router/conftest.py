from support.apps import demo_app, demo_factory, load_runner  # noqa: F401
from support.recorder import recorder, recorder_factory  # noqa: F401
from support.router import router, router_factory  # noqa: F401
