"""How strong a new password must be: zxcvbn's estimate (Dropbox's estimator, maintained as the
`zxcvbn` package), which scores 0–4 from the guesses an attacker needs, dictionaries, keyboard
patterns, repeats and dates included.

The same rule for every way an account gets its password (registration over REST and GraphQL,
`UserCreate` wherever it is built).
"""

from __future__ import annotations

from collections.abc import Sequence

from zxcvbn import zxcvbn

# 3: "safely unguessable: moderate protection from offline slow-hash scenario" (< 10^10 guesses is
# refused). OWASP's authentication cheat sheet asks for such an estimator rather than composition rules.
MIN_SCORE = 3
# zxcvbn refuses longer input (its matching grows faster than linearly); a password whose first 72
# characters are strong is strong.
ESTIMATED_CHARS = 72


def weakness(password: str, *, user_inputs: Sequence[str] = ()) -> str | None:
    """Why `password` is too weak to accept, or None when it is strong enough. `user_inputs` (the
    account's email, say) count as words an attacker knows."""
    if not password.strip():
        return "The password must not be only whitespace"
    estimate = zxcvbn(password[:ESTIMATED_CHARS], user_inputs=list(user_inputs))
    if estimate["score"] >= MIN_SCORE:
        return None
    feedback = estimate["feedback"]
    reasons = [feedback["warning"], *feedback["suggestions"]]
    advice = " ".join(reason for reason in reasons if reason)
    return f"The password is too easy to guess (strength {estimate['score']} of 4, at least {MIN_SCORE} needed). {advice}".strip()
