"""docker-compose.yml and the Dockerfile, checked statically (no Docker engine runs here).

Containers must run exactly what the native run runs (the Procfile), every server must report its
health, and every setting the app reads must be set or defaulted.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from admin.settings import AdminProcessSettings
from api.settings import ApiProcessSettings
from consumer.settings import ConsumerProcessSettings
from worker.settings import WorkerProcessSettings

ROOT = Path(__file__).resolve().parents[1]
APP_SERVICES = {"api", "consumer", "worker", "webhooks"}
SERVERS = {"postgres", "redis", "rabbitmq", "pgadmin", "redisinsight"}
# Started only with `--profile observability`.
OBSERVABILITY = {"otel-collector", "jaeger"}
# The API on every interface; the admin UIs on 127.0.0.1 only. Host ports are settings (.env).
PUBLISHED = {
    "api": ["${API_PORT:-8000}:8000"],
    "rabbitmq": ["127.0.0.1:${RABBITMQ_UI_PORT:-15672}:15672"],
    "pgadmin": ["127.0.0.1:${PGADMIN_PORT:-5050}:80"],
    "redisinsight": ["127.0.0.1:${REDISINSIGHT_PORT:-5540}:5540"],
    "jaeger": ["127.0.0.1:16686:16686"],
}
PASSWORDS = (
    "POSTGRES_PASSWORD",
    "RABBITMQ_DEFAULT_PASS",
    "REDIS_PASSWORD",
    "PGADMIN_DEFAULT_PASSWORD",
    "METRICS_TOKEN",
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_every_service_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == APP_SERVICES | SERVERS | OBSERVABILITY


def test_app_containers_run_the_procfile_commands(compose: dict[str, Any]) -> None:
    for name, line in procfile().items():
        command = compose["services"][name]["command"]
        assert command[:2] == ["sh", "-c"], name
        # `$$` is compose's escape for a `$` left to the container's shell.
        assert command[2].replace("$$", "$") == line, name


def test_the_image_defaults_to_the_api_command() -> None:
    cmd = re.search(r"^CMD (.+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert cmd is not None
    assert yaml.safe_load(cmd.group(1)) == ["sh", "-c", procfile()["api"]]


def test_api_migrates_before_serving_unless_told_not_to(compose: dict[str, Any]) -> None:
    # tests/e2e/test_migrate_on_start.py runs this line both ways.
    assert procfile()["api"].startswith(
        '{ [ "${MIGRATE_ON_START:-true}" = false ] || alembic upgrade head; } && exec python -m api '
    )


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies(
    compose: dict[str, Any],
) -> None:
    for name, service in compose["services"].items():
        if name == "otel-collector":  # a distroless image: nothing inside to probe with
            continue
        assert service["healthcheck"]["test"], name
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
    for name in APP_SERVICES:
        assert set(compose["services"][name]["depends_on"]) == {"postgres", "redis", "rabbitmq"}


def test_only_the_documented_ports_are_published_and_workers_scale(compose: dict[str, Any]) -> None:
    published = {name: s["ports"] for name, s in compose["services"].items() if "ports" in s}
    assert published == PUBLISHED
    for name in ("consumer", "worker"):
        assert "container_name" not in compose["services"][name]


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    for name in SERVERS:
        mounts = compose["services"][name]["volumes"]
        assert all(mount.split(":")[0] in compose["volumes"] for mount in mounts), name


def test_only_the_api_gets_the_keys_and_it_drops_root_after_copying_them(
    compose: dict[str, Any],
) -> None:
    api = compose["services"]["api"]
    assert api["secrets"] == ["jwt-private.pem", "jwt-public.pem"]
    assert compose["secrets"]["jwt-private.pem"] == {"file": "./.secret_key/jwt-private.pem"}
    assert api["user"] == "root"  # for the entrypoint only: it ends in setpriv to the app user
    assert api["tmpfs"] == ["/run/keys"]
    assert api["environment"]["JWT_PRIVATE_KEY_PATH"] == "/run/keys/jwt-private.pem"
    entrypoint = (ROOT / "scripts/docker-entrypoint.sh").read_text()
    assert "exec setpriv --reuid=orders --regid=orders --init-groups --no-new-privs" in entrypoint
    for name in ("consumer", "worker"):
        service = compose["services"][name]
        assert not {"secrets", "volumes", "user"} & set(service), name
        assert not any(key.startswith("JWT_") for key in service["environment"])


def test_redis_requires_a_password_and_rabbitmq_keeps_its_node_name(
    compose: dict[str, Any],
) -> None:
    redis = compose["services"]["redis"]
    assert "--requirepass" in redis["command"]
    assert compose["services"]["api"]["environment"]["REDIS_URL"].startswith(
        "redis://:${REDIS_PASSWORD:?"
    )
    assert compose["services"]["rabbitmq"]["hostname"] == "rabbitmq"


def test_the_observability_profile_takes_the_apps_spans_to_jaeger(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in OBSERVABILITY:
        assert services[name]["profiles"] == ["observability"], name
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        # Off unless asked for; when on, OTLP over HTTP (the default protocol) to the collector.
        assert environment["OTEL_TRACES_EXPORTER"] == "${OTEL_TRACES_EXPORTER:-none}"
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    [mount] = services["otel-collector"]["volumes"]
    source, target, _ = mount.split(":")
    assert services["otel-collector"]["command"] == [f"--config={target}"]
    collector = yaml.safe_load((ROOT / source).read_text())
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    [exporter] = collector["service"]["pipelines"]["traces"]["exporters"]
    assert collector["exporters"][exporter]["endpoint"] == "jaeger:4317"


def _env_names() -> set[str]:
    """Every environment variable a process reads: each settings group's prefix + field name."""
    names = set()
    roots = (
        ApiProcessSettings,
        ConsumerProcessSettings,
        WorkerProcessSettings,
        AdminProcessSettings,
    )
    for group in [group for root in roots for group in root.model_fields.values()]:
        settings_class = group.annotation
        assert isinstance(settings_class, type)
        prefix = settings_class.model_config.get("env_prefix", "")
        names |= {f"{prefix}{field}".upper() for field in settings_class.model_fields}
    return names


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(
        re.findall(r"^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    )

    assert _env_names() - documented == set()


def test_app_settings_point_at_the_compose_servers(compose: dict[str, Any]) -> None:
    environment = compose["services"]["api"]["environment"]
    assert "@postgres:5432/" in environment["DATABASE_URL"]
    assert "@redis:6379/" in environment["REDIS_URL"]
    assert "@rabbitmq:5672/" in environment["RABBITMQ_URL"]
    for name in APP_SERVICES:
        assert compose["services"][name]["env_file"] == ".env"


def test_the_image_runs_as_a_non_root_user_without_dev_tools() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[0] == "*" or "*" in ignored
    assert not any(line.startswith("!.secret_key") or line.startswith("!.env") for line in ignored)


def test_the_image_holds_every_package_the_wheel_names() -> None:
    """A package left out of the build context or the image (a new process's) fails only in
    Docker; the wheel's package list is the one list of them."""
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"
    ]["wheel"]["packages"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for package in packages:
        assert f"!{package}/" in ignored, package
        assert f"COPY {package} ./{package}" in dockerfile, package
        assert f"COPY --chown=root:root {package} ./{package}" in dockerfile, package


def _docker_compose_config(directory: Path, env_text: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(ROOT / "docker-compose.yml", directory)
    (directory / ".env").write_text(env_text)
    return subprocess.run(
        [
            "docker-compose",
            "--project-directory",
            str(directory),
            "-f",
            str(directory / "docker-compose.yml"),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.skipif(
    shutil.which("docker-compose") is None and not os.environ.get("CI"),
    reason="docker-compose (Debian) not installed; scripts/ensure-tools.sh installs it, and CI runs it",
)
def test_docker_compose_refuses_the_example_passwords_and_accepts_real_ones(
    tmp_path: Path,
) -> None:
    example = (ROOT / ".env.example").read_text()
    for name in PASSWORDS:
        assert re.search(rf"^{name}=$", example, re.MULTILINE), (
            f"{name} must be empty in .env.example"
        )

    refused = _docker_compose_config(tmp_path, example)
    filled = example
    for name in PASSWORDS:
        filled = filled.replace(f"\n{name}=\n", f"\n{name}=s3cure{len(name)}\n")
    accepted = _docker_compose_config(tmp_path, filled)

    assert refused.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
