"""Errors of this area; each names its kind (domain/errors.py), which the interfaces map."""

from domain.errors import DomainError, ErrorKind


class EmailAlreadyRegistered(DomainError):
    """An account with this email (in any letter case) exists."""

    kind = ErrorKind.CONFLICT

    def __init__(self) -> None:
        super().__init__("An account with this email already exists")


class InvalidCredentials(DomainError):
    """Unknown email or wrong password; the two are deliberately indistinguishable."""

    kind = ErrorKind.UNAUTHENTICATED

    def __init__(self) -> None:
        super().__init__("Incorrect email or password")


class InvalidToken(DomainError):
    """The access token is missing, malformed, expired, or not signed by us."""

    kind = ErrorKind.UNAUTHENTICATED

    def __init__(self, reason: str = "Invalid or expired access token") -> None:
        super().__init__(reason)
