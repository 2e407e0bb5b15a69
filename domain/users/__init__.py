"""Users: registration, password hashing, access tokens."""
