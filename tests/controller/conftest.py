from support.apps import load_runner  # noqa: F401
from support.project import project  # noqa: F401
from support.prometheus import prometheus_factory  # noqa: F401
from support.recorder import recorder_factory  # noqa: F401
from support.router import router, router_factory  # noqa: F401
