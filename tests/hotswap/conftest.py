from support.apps import demo_factory, load_runner  # noqa: F401
from support.hotswap import supervised  # noqa: F401
