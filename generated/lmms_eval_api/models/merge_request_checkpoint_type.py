from enum import Enum


class MergeRequestCheckpointType(str, Enum):
    """Type of checkpoint to merge: 'regular' for main model weights, 'ema' for EMA weights

    Open enum: a value the contract does not list yet (a newer server's) still parses, as a
    member created on the fly, so older clients keep working. Members compare and hash
    equal to their plain string values.
    """

    EMA = "ema"
    REGULAR = "regular"

    @classmethod
    def _missing_(cls, value: object) -> "MergeRequestCheckpointType | None":
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value.upper()
        member._value_ = value
        return member

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return str(self.value).__format__(format_spec)
