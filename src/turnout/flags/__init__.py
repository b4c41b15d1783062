"""Feature flags: flagd-compatible definitions, evaluated in-process.

    from turnout.flags import Flags

    flags = Flags.from_file("flags.json")                 # or Flags.connect(url, token=...)
    flags.evaluate("new-checkout", False, {"targetingKey": "user-42"})
    # Evaluation(value=True, variant='on', reason='SPLIT', error_code=None, ...)

Pure modules (no I/O): ``model`` (the format), ``compile`` (JsonLogic to closures),
``ops`` (fractional, sem_ver, string operations), ``evaluate`` (results), ``edit``
(rollout edits and diffs). I/O: ``store``, ``service``, ``client``, ``openfeature``.
See docs/flags.md.
"""

from turnout.flags.evaluate import ErrorCode, Evaluation, Reason, Snapshot
from turnout.flags.model import DefinitionError, FlagDefinition, FlagDocument
from turnout.flags.sdk import Flags

__all__ = [
    "DefinitionError",
    "ErrorCode",
    "Evaluation",
    "FlagDefinition",
    "FlagDocument",
    "Flags",
    "Reason",
    "Snapshot",
]
