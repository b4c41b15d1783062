from support.postgres import database, postgres_server  # noqa: F401 - fixtures
from support.project import project  # noqa: F401
