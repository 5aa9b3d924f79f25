"""The exceptions of the binding."""

from typing import Union

from ._capi import NicStatus


class LibraryNotFoundError(OSError):
    """libnic could not be located or loaded (the message lists what was tried)."""


class NicError(Exception):
    """A libnic call failed.

    Attributes:
        status: the status code (a NicStatus member when known, else an int).
        status_name: nic_status_string(status), e.g. "invalid dimensions".
        message: nic_last_error() of the context at the time of the failure.
    """

    status: Union[NicStatus, int]
    status_name: str
    message: str

    def __init__(self, status: int, message: str = "") -> None:
        from .library import status_string  # the library is loaded: a context made the call

        try:
            status = NicStatus(status)
        except ValueError:
            status = int(status)
        self.status = status
        self.status_name = status_string(status)
        self.message = message
        text = f"{self.status_name} ({int(status)})"
        if message:
            text += f": {message}"
        super().__init__(text)
