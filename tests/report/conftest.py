from support.apps import demo_app, demo_factory, load_runner  # noqa: F401
from support.project import project  # noqa: F401
from support.router import router, router_factory  # noqa: F401
