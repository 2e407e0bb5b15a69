class EmailAlreadyRegistered(Exception):
    """An account with this email (in any letter case) exists."""

    def __init__(self) -> None:
        super().__init__("An account with this email already exists")


class InvalidCredentials(Exception):
    """Unknown email or wrong password; the two are deliberately indistinguishable."""

    def __init__(self) -> None:
        super().__init__("Incorrect email or password")


class InvalidToken(Exception):
    """The access token is missing, malformed, expired, or not signed by us."""

    def __init__(self, reason: str = "Invalid or expired access token") -> None:
        super().__init__(reason)
