"""Logging setup shared by every process."""

from __future__ import annotations

import logging

from domain.infra.settings import AppSettings


def configure_logging(settings: AppSettings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
