"""An OpenFeature provider over ``Flags``, for the standard ``openfeature-sdk`` API.

    from openfeature import api
    from turnout.flags import Flags
    from turnout.flags.openfeature import TurnoutProvider

    api.set_provider(TurnoutProvider(Flags.connect("http://127.0.0.1:8002")))
    client = api.get_client()
    client.get_boolean_value("new-checkout", False, EvaluationContext("user-42", {"country": "CA"}))

Evaluation stays in-process (the provider calls ``Flags.evaluate``). When a connected
``Flags`` receives new flags the provider emits PROVIDER_CONFIGURATION_CHANGED with the
keys that changed. Needs the ``flags`` extra (``pip install 'turnout[flags]'``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

try:
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.event import ProviderEventDetails
    from openfeature.exception import ErrorCode as OFErrorCode
    from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
    from openfeature.provider import AbstractProvider, Metadata
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "turnout.flags.openfeature needs openfeature-sdk: pip install 'turnout[flags]'"
    ) from exc

from turnout.flags.evaluate import Evaluation, Snapshot
from turnout.flags.evaluate import Reason as TurnoutReason
from turnout.flags.sdk import Flags

__all__ = ["TurnoutProvider", "context_dict"]


def context_dict(context: EvaluationContext | None) -> dict[str, Any] | None:
    """An OpenFeature context as the mapping ``Flags.evaluate`` takes."""
    if context is None:
        return None
    data = dict(context.attributes)
    if context.targeting_key is not None:
        data["targetingKey"] = context.targeting_key
    return data


class TurnoutProvider(AbstractProvider):
    def __init__(self, flags: Flags) -> None:
        super().__init__()
        self.flags = flags
        flags.on_change(self._changed)

    def get_metadata(self) -> Metadata:
        return Metadata(name="turnout")

    def shutdown(self) -> None:
        self.flags.close()

    def _changed(self, new: Snapshot, old: Snapshot | None) -> None:
        before = old.document.flags if old is not None else {}
        after = new.document.flags
        changed = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
        self.emit_provider_configuration_changed(ProviderEventDetails(flags_changed=changed))

    def _resolve(self, key: str, default: Any, context: EvaluationContext | None) -> Any:
        result = self.flags.evaluate(key, default, context_dict(context))
        return _details(result)

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context)  # type: ignore[no-any-return]

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context)  # type: ignore[no-any-return]

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, evaluation_context)  # type: ignore[no-any-return]

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, default_value, evaluation_context)  # type: ignore[no-any-return]

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return self._resolve(flag_key, default_value, evaluation_context)  # type: ignore[no-any-return]


_REASONS = {r.value: Reason(r.value) for r in TurnoutReason}


def _details(result: Evaluation) -> FlagResolutionDetails[Any]:
    if result.reason == TurnoutReason.ERROR:
        return FlagResolutionDetails(
            result.value,
            error_code=OFErrorCode(result.error_code or OFErrorCode.GENERAL),
            error_message=result.error_message,
            reason=Reason.ERROR,
            flag_metadata=dict(result.flag_metadata),
        )
    # A DEFAULT with TARGETING_KEY_MISSING still resolved (to the default variant), as in
    # flagd; OpenFeature would turn an error code into the caller's default, so it stays out.
    return FlagResolutionDetails(
        result.value,
        reason=_REASONS[result.reason],
        variant=result.variant,
        flag_metadata=dict(result.flag_metadata),
    )
