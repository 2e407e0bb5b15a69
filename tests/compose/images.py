"""The images docker-compose.yml and the Dockerfile name: the real ones where they can be had, stand-ins
where they cannot.

Our build machines reach Debian's and Python's package registries but no container registry, so
`docker pull` fails there. For each image that is neither present nor pullable, this builds a
**stand-in under the same name** from `standins/<folder>/`: a Debian root file system made with
debootstrap and imported with `docker import` (`base(suite)`: bookworm, or trixie for Python 3.13),
with the server's Debian packages (or pgAdmin from PyPI) installed on top. Stand-ins are test fixtures only: they carry the label
`orders.standin`, and a stand-in found locally is replaced by the real image as soon as a pull works.

Builds that install packages get the host's CA bundle (this network reaches the registries through a
TLS proxy) copied into a temporary build context; it is never written into the repository. Docker's
build cache keeps rebuilds to a few seconds.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

STANDINS = Path(__file__).resolve().parent / "standins"
# The Debian releases a stand-in (or a test's own image) is built on, by the FROM line's tag.
SUITES = ("bookworm", "trixie")
LABEL = "orders.standin"
MIRROR = "http://deb.debian.org/debian"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PULL_TIMEOUT_SECONDS = 60

# Every third-party image docker-compose.yml, deploy/ha/compose.yaml and the Dockerfiles' FROM lines
# name → its stand-in's folder.
STANDIN_FOLDERS = {
    "python:3.13-slim": "python",
    "debian:bookworm-slim": "debian",
    "postgres:16-alpine": "postgres",
    "redis:7-alpine": "redis",
    "rabbitmq:3.13-management-alpine": "rabbitmq",
    "dpage/pgadmin4:8": "pgadmin",
    "redis/redisinsight:2.60": "redisinsight",
}

_APT_CONF = """\
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Dpkg::Options { "--force-confdef"; "--force-confold"; };
"""
_DPKG_EXCLUDES = """\
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
"""


def base(suite: str) -> str:
    """The name of the debootstrapped Debian `suite` image."""
    assert suite in SUITES, suite
    return f"orders-standin/debian:{suite}"


def _sources(suite: str) -> str:
    return (
        f"deb {MIRROR} {suite} main\n"
        f"deb {MIRROR} {suite}-updates main\n"
        f"deb http://deb.debian.org/debian-security {suite}-security main\n"
    )


def _docker(
    *args: str, capture: bool = False, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args],
        check=False,
        text=True,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=timeout,
    )


def _label(image: str) -> str | None:
    """None when the image is absent; its stand-in label ("" for a real image) otherwise."""
    result = _docker(
        "image",
        "inspect",
        "--format",
        f'{{{{ index .Config.Labels "{LABEL}" }}}}',
        image,
        capture=True,
    )
    if result.returncode != 0:
        return None
    return result.stdout.strip().replace("<no value>", "")


_base_locks = {suite: threading.Lock() for suite in SUITES}


def ensure_base(suite: str) -> str:
    """debootstrap a minimal Debian `suite` and import it as `base(suite)` (once per machine)."""
    with _base_locks[suite]:
        if _label(base(suite)) is None:
            _debootstrap_and_import(suite)
    return base(suite)


def _debootstrap_and_import(suite: str) -> None:
    with tempfile.TemporaryDirectory(prefix="orders-standin-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", suite, str(rootfs), MIRROR],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # No daemons started by package scripts, no recommends, no prompts, no docs.
        policy = rootfs / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        (rootfs / "etc/apt/apt.conf.d/90standin").write_text(_APT_CONF)
        (rootfs / "etc/dpkg/dpkg.cfg.d/90standin").write_text(_DPKG_EXCLUDES)
        (rootfs / "etc/apt/sources.list").write_text(_sources(suite))
        for leftover in [
            *rootfs.glob("var/cache/apt/archives/*.deb"),
            *rootfs.glob("var/lib/apt/lists/*_*"),
        ]:
            leftover.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            [
                "docker",
                "import",
                "--change",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--change",
                "ENV LANG=C.UTF-8",
                "--change",
                f"LABEL {LABEL}=debian",
                "--change",
                'CMD ["bash"]',
                "-",
                base(suite),
            ],
            stdin=tar.stdout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if tar.wait() != 0:
            msg = "tar of the debootstrap root file system failed"
            raise RuntimeError(msg)


def _build_standin(image: str) -> None:
    folder = STANDIN_FOLDERS[image]
    build_on_base(STANDINS / folder, image, label=folder)


def build_on_base(folder: Path, image: str, *, label: str) -> None:
    """`docker build` of `folder`, whose Dockerfile starts FROM one of the `base(suite)` images
    (built first when absent), with the host's CA bundle in the context as `ca-certificates.crt`."""
    from_line = re.search(r"^FROM (\S+)", (folder / "Dockerfile").read_text(), re.MULTILINE)
    assert from_line is not None, folder
    ensure_base(from_line.group(1).rpartition(":")[2])
    with tempfile.TemporaryDirectory(prefix=f"orders-standin-{label}-") as tmp:
        context = Path(tmp) / "context"
        shutil.copytree(folder, context)
        shutil.copy(HOST_CA_BUNDLE, context / "ca-certificates.crt")
        result = _docker(
            "build",
            "--network",
            "host",
            "--label",
            f"{LABEL}={label}",
            "-t",
            image,
            str(context),
            capture=True,
        )
    if result.returncode != 0:
        msg = f"building {image} from {folder} failed:\n{result.stdout[-4000:]}{result.stderr}"
        raise RuntimeError(msg)


def _pulled(image: str) -> bool:
    try:
        return _docker("pull", "--quiet", image, timeout=PULL_TIMEOUT_SECONDS).returncode == 0
    except subprocess.TimeoutExpired:  # a registry that does not answer is no registry
        return False


def ensure_image(image: str) -> str:
    """Make `image` available; says how ("present", "pulled" or "stand-in") and how long it took."""
    started = time.monotonic()
    if _label(image) == "":
        how = "present"
    elif _pulled(image):
        how = "pulled"
    else:
        _build_standin(image)
        how = "stand-in"
    return f"{how} ({time.monotonic() - started:.0f}s)"


def compose_images(compose_file: Path) -> list[str]:
    """Every image `docker compose up` runs from `compose_file` and the base images of what it builds
    (their Dockerfiles' FROM lines); the services of an optional profile (observability) are left
    out, and so are the images the file builds itself."""
    compose = yaml.safe_load(compose_file.read_text())
    services = [service for service in compose["services"].values() if "profiles" not in service]
    built = {service["image"] for service in services if "build" in service}
    bases: set[str] = set()
    for service in services:
        if "build" in service:
            build = service["build"]
            context = compose_file.parent / (build if isinstance(build, str) else build["context"])
            dockerfile = (context / "Dockerfile").read_text()
            bases |= set(re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE))
    named = {service["image"] for service in services if "build" not in service}
    return sorted((named - built) | bases)


def ensure_images(images: list[str]) -> dict[str, str]:
    """Every image in `images` available, the missing stand-ins built side by side."""
    unknown = [image for image in images if image not in STANDIN_FOLDERS]
    if unknown:
        msg = f"no stand-in for {unknown}: add one under {STANDINS}"
        raise LookupError(msg)
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(images, pool.map(ensure_image, images), strict=True))
