"""pgAdmin's system configuration in the stand-in image (test fixture): server mode on port 80."""

SERVER_MODE = True
DEFAULT_SERVER = "0.0.0.0"  # noqa: S104 - inside the container; compose decides what is published
DEFAULT_SERVER_PORT = 80
DATA_DIR = "/var/lib/pgadmin"
LOG_FILE = "/var/lib/pgadmin/pgadmin4.log"
UPGRADE_CHECK_ENABLED = False
