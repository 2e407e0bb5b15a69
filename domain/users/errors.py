"""Errors of this area; each names its kind (domain/errors.py), which the interfaces map."""

from domain.errors import DomainError, ErrorKind


class EmailAlreadyRegistered(DomainError):
    """An account with this email (in any letter case) exists."""

    kind = ErrorKind.CONFLICT
    reason = "EMAIL_TAKEN"

    def __init__(self) -> None:
        super().__init__("An account with this email already exists")


class InvalidCredentials(DomainError):
    """Unknown email or wrong password; the two are deliberately indistinguishable."""

    kind = ErrorKind.UNAUTHENTICATED
    reason = "INVALID_CREDENTIALS"

    def __init__(self) -> None:
        super().__init__("Incorrect email or password")


class PasswordCheckQueueFull(DomainError):
    """Too many password checks are already waiting for the hashing thread: refused at once, not
    queued, so a burst of logins cannot hold connections and memory for as long as it lasts."""

    kind = ErrorKind.UNAVAILABLE
    reason = "LOGIN_QUEUE_FULL"

    def __init__(self) -> None:
        super().__init__("Too many logins are being checked; try again shortly")


NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105 (reasons, not secrets)
TOKEN_EXPIRED = "TOKEN_EXPIRED"  # noqa: S105


class InvalidToken(DomainError):
    """The access token is missing (`NOT_AUTHENTICATED`), malformed or not signed by us
    (`INVALID_TOKEN`), or expired (`TOKEN_EXPIRED`)."""

    kind = ErrorKind.UNAUTHENTICATED

    def __init__(
        self, message: str = "Invalid or expired access token", *, reason: str = INVALID_TOKEN
    ) -> None:
        self.reason = reason
        super().__init__(message)


class AccountGone(DomainError):
    """A valid token of an account that no longer exists (deleted after the token was issued).

    A token is verified by its signature alone, so it outlives its account until it expires; a write
    in its name finds no user and is refused as unauthenticated, like any token that no longer holds.
    """

    kind = ErrorKind.UNAUTHENTICATED
    reason = "ACCOUNT_GONE"

    def __init__(self) -> None:
        super().__init__("The account this token was issued to no longer exists")


class InvalidScope(DomainError):
    """A token was asked for a scope its user's role does not have (OAuth2 `invalid_scope`)."""

    kind = ErrorKind.BAD_INPUT
    # REST answers it 400, as OAuth2 does, with OAuth2's `error`: `invalid_scope` (api/errors.py).
    reason = "INVALID_SCOPE"

    def __init__(self, scopes: list[str]) -> None:
        self.scopes = scopes
        super().__init__(f"Scope not granted to this account: {' '.join(scopes)}")


class StaffOnly(DomainError):
    """A staff-only operation asked by a token without `orders:manage`, or by a user who is no
    longer staff."""

    kind = ErrorKind.FORBIDDEN
    reason = "STAFF_ONLY"

    def __init__(self) -> None:
        super().__init__("This needs a staff account and a token with the orders:manage scope")


class UnknownUser(DomainError):
    """No account has this email (operators' commands)."""

    kind = ErrorKind.NOT_FOUND
    reason = "UNKNOWN_USER"

    def __init__(self, email: str) -> None:
        self.email = email
        super().__init__(f"No account with the email {email}")
