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


class PasswordCheckQueueFull(DomainError):
    """Too many password checks are already waiting for the hashing thread: refused at once, not
    queued, so a burst of logins cannot hold connections and memory for as long as it lasts."""

    kind = ErrorKind.UNAVAILABLE

    def __init__(self) -> None:
        super().__init__("Too many logins are being checked; try again shortly")


class InvalidToken(DomainError):
    """The access token is missing, malformed, expired, or not signed by us."""

    kind = ErrorKind.UNAUTHENTICATED

    def __init__(self, reason: str = "Invalid or expired access token") -> None:
        super().__init__(reason)


class AccountGone(DomainError):
    """A valid token of an account that no longer exists (deleted after the token was issued).

    A token is verified by its signature alone, so it outlives its account until it expires; a write
    in its name finds no user and is refused as unauthenticated, like any token that no longer holds.
    """

    kind = ErrorKind.UNAUTHENTICATED

    def __init__(self) -> None:
        super().__init__("The account this token was issued to no longer exists")
