"""The suite reads no `.env`: set before any settings class is defined (conftest.py imports them),
so a developer's `.env` cannot change what the tests see. conftest.py reads the servers' base URLs
from `.env` explicitly; every process a test starts inherits this environment."""

import os

os.environ["ORDERS_ENV_FILE"] = ""
