"""Unpack the pinned uv from its PyPI wheel into the given path (`make` uses it where no uv is installed).

Python's standard library only: a fresh Debian has python3 without pip, and its pip refuses to install
into the system (PEP 668). The wheel is checked against the SHA-256 digest PyPI publishes for it.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import sys
import urllib.request
import zipfile
from pathlib import Path

# The same version as the Dockerfile's `pip install "uv==…"` (tests/test_setup.py checks).
UV_VERSION = "0.13.9"
# PyPI's simple index in its JSON form (PEP 691): every file of every release, with its SHA-256.
INDEX = "https://pypi.org/simple/uv/"


def wheel_for_this_machine(files: list[dict[str, object]]) -> dict[str, object]:
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    libc = "manylinux" if platform.libc_ver()[0] == "glibc" else "musllinux"
    for file in files:
        name = str(file["filename"])
        if (
            name.startswith(f"uv-{UV_VERSION}-")
            and libc in name
            and name.endswith(f"_{machine}.whl")
        ):
            return file
    msg = f"uv {UV_VERSION} has no {libc} wheel for {machine}: install uv yourself (https://docs.astral.sh/uv/)"
    raise SystemExit(msg)


def main(target: Path) -> None:
    request = urllib.request.Request(
        INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - a fixed https URL
        index = json.load(response)
    wheel = wheel_for_this_machine(index["files"])
    with urllib.request.urlopen(str(wheel["url"]), timeout=300) as response:  # noqa: S310
        payload = response.read()
    digests = wheel["hashes"]
    assert isinstance(digests, dict)
    if hashlib.sha256(payload).hexdigest() != digests["sha256"]:
        msg = f"{wheel['filename']}: SHA-256 differs from PyPI's"
        raise SystemExit(msg)
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        binary = archive.read(f"uv-{UV_VERSION}.data/scripts/uv")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.replace(target)
    sys.stderr.write(f"installed uv {UV_VERSION} into {target}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
