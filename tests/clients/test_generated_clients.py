"""Generated clients work: TypeScript types generated from /openapi.json (openapi-typescript) and
from the GraphQL operations of docs/api.md (GraphQL Code Generator) type-check, with the small
clients in clients/, under `tsc --strict`.

The npm packages are pinned in clients/package-lock.json and installed by `npm ci` into the
git-ignored clients/node_modules; Node.js and npm come from scripts/ensure-tools.sh. Without them
the tests are skipped, unless REQUIRE_NODE is set (as CI sets it), when they fail instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from api.main import create_app

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "clients"
GENERATED = CLIENTS / "generated"
DOCS = ROOT / "docs" / "api.md"
# The npm registry is reached through a TLS proxy here; Node.js reads its CA from this variable.
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _missing_node() -> str | None:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return (
        f"{' and '.join(missing)} not installed: run scripts/ensure-tools.sh" if missing else None
    )


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if CA_BUNDLE.exists():
        env.setdefault("NODE_EXTRA_CA_CERTS", str(CA_BUNDLE))
    done = subprocess.run(
        args, cwd=CLIENTS, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def npm_packages() -> None:
    """clients/node_modules as package-lock.json pins it (`npm ci` when it is absent or older)."""
    reason = _missing_node()
    if reason is not None:
        if os.environ.get("REQUIRE_NODE"):
            pytest.fail(reason)
        pytest.skip(reason)
    installed = CLIENTS / "node_modules" / ".package-lock.json"
    lock = CLIENTS / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        _run("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
    GENERATED.mkdir(exist_ok=True)


def _tool(name: str) -> str:
    return str(CLIENTS / "node_modules" / ".bin" / name)


def documented_operations() -> str:
    """Every ```graphql block of docs/api.md's walkthrough (before its error contract), in order."""
    walkthrough = DOCS.read_text().split("\n## Errors")[0]
    blocks = re.findall(r"^```graphql\n(.*?)^```", walkthrough, flags=re.MULTILINE | re.DOTALL)
    assert blocks, "docs/api.md has no graphql block"
    return "\n".join(blocks)


def test_a_client_of_the_openapi_types_type_checks(npm_packages: None) -> None:
    document = create_app().openapi()
    (GENERATED / "openapi.json").write_text(json.dumps(document, indent=2))

    # A field with a default is optional in a request (the form's `scope`), not always present.
    _run(
        _tool("openapi-typescript"),
        "generated/openapi.json",
        "--default-non-nullable=false",
        "-o",
        "generated/openapi.d.ts",
    )
    _run(_tool("tsc"), "-p", "openapi/tsconfig.json")

    generated = (GENERATED / "openapi.d.ts").read_text()
    assert "ProblemDetails" in generated
    assert '"application/problem+json"' in generated


def test_the_documented_graphql_operations_type_check(npm_packages: None) -> None:
    (GENERATED / "operations.graphql").write_text(documented_operations())

    _run(
        "node",
        "graphql/codegen.mjs",
        str(ROOT / "graph" / "schema.graphql"),
        "generated/operations.graphql",
        "generated/graphql.ts",
    )
    _run(_tool("tsc"), "-p", "graphql/tsconfig.json")

    generated = (GENERATED / "graphql.ts").read_text()
    assert all(
        f"export type {name}" in generated
        for name in ("RegisterMutation", "CreateOrderMutation", "PayMutation", "MyOrdersQuery")
    )
