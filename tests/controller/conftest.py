from support.apps import load_runner  # noqa: F401
from support.project import project  # noqa: F401
