"""The two errors the spec raises. Both are ValueErrors, so `except ValueError` still works."""


class InvalidLogits(ValueError):
    """The logits themselves are unusable (NaN, +inf, all -inf, empty, wrong shape)."""


class InvalidParameter(ValueError):
    """A sampling parameter is outside the range the transform or the engine preset accepts."""

    def __init__(self, name: str, value, allowed: str):
        super().__init__(f"{name}={value!r} is not allowed: expected {allowed}")
        self.name, self.value, self.allowed = name, value, allowed
