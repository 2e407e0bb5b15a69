"""The Helm chart (charts/orders), checked without a cluster.

`helm lint --strict`; `helm template` with the default values, the production example and two variants;
every rendered manifest validated against the Kubernetes 1.35 schemas (kubernetes-validate) and the
KEDA and Prometheus Operator resources against their CRDs (vendored in tests/charts/crds); checkov's
policies; and the chart agreeing with the Procfile, docker-compose.yml and .env.example.
helm and checkov come from `make tools` (pinned in tools/).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from infra.amqp import NEW_ORDER_QUEUE, WEBHOOKS_QUEUE

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "orders"
HELM = ROOT / ".tools" / "bin" / "helm"
CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
CRDS = Path(__file__).parent / "crds"
KUBERNETES_VERSION = "1.35.0"
RELEASE = "orders"
APP_UID = 10001
WORKLOADS = {"Deployment", "Job"}
SECRET_SETTINGS = {"DATABASE_URL", "REDIS_URL", "RABBITMQ_URL"}
POD_TMP = "/tmp"  # noqa: S108 (inside the pods: an emptyDir of their own)

# checkov findings the chart accepts, each for a reason; anything else fails the test.
ACCEPTED_POLICY_FINDINGS = {
    # The app reads its settings from the environment only (pydantic-settings); the URLs come from a
    # Secret through secretKeyRef, never from the manifest or a ConfigMap.
    "CKV_K8S_35": "secrets as environment variables",
    # image.digest pins the image when set; a chart's defaults cannot know the digest of your build.
    "CKV_K8S_43": "image by digest",
    # IfNotPresent suits immutable tags and digests; image.pullPolicy=Always is one value away.
    "CKV_K8S_15": "image pull policy Always",
}

DEV_PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n"
DEV_PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nnot a real key\n-----END PUBLIC KEY-----\n"
SCENARIOS: dict[str, list[str]] = {
    "default": [],
    "production": ["-f", str(CHART / "values-production.yaml")],
    # Development: the chart makes both Secrets from values.
    "development": [
        "--set",
        "environment=development,connections.existingSecret=,jwt.existingSecret=",
        "--set",
        "connections.databaseUrl=postgresql+asyncpg://orders:dev@postgresql:5432/orders",
        "--set",
        "connections.redisUrl=redis://redis:6379/0,connections.rabbitmqUrl=amqp://orders:dev@rabbitmq:5672/",
        "--set-string",
        f"jwt.privateKey={DEV_PRIVATE_KEY},jwt.publicKey={DEV_PUBLIC_KEY}",
    ],
    # No KEDA, no HPA, no migration Job: fixed replicas, the api migrates at start.
    "fixed": [
        "--set",
        "keda.enabled=false,api.autoscaling.enabled=false,migrations.enabled=false",
    ],
}

Manifest = dict[str, Any]


def helm(*args: str) -> str:
    if not HELM.exists():
        pytest.fail(f"{HELM} is missing: run `make tools`")
    result = subprocess.run(
        [str(HELM), *args], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    """Each scenario's `helm template` output."""
    return {
        name: helm("template", RELEASE, str(CHART), "--namespace", "orders", *args)
        for name, args in SCENARIOS.items()
    }


@pytest.fixture(scope="module")
def manifests(rendered: dict[str, str]) -> dict[str, list[Manifest]]:
    return {
        name: [doc for doc in yaml.safe_load_all(text) if doc] for name, text in rendered.items()
    }


def find(docs: list[Manifest], kind: str, component: str | None = None) -> list[Manifest]:
    return [
        doc
        for doc in docs
        if doc["kind"] == kind
        and (
            component is None
            or doc["metadata"]["labels"].get("app.kubernetes.io/component") == component
        )
    ]


def one(docs: list[Manifest], kind: str, component: str | None = None) -> Manifest:
    [doc] = find(docs, kind, component)
    return doc


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(docs: list[Manifest]) -> Iterator[tuple[Manifest, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            for container in pod_spec(doc)["containers"]:
                yield doc, container


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


# --- helm itself --------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["default", "production"])
def test_helm_lint_strict_passes(scenario: str) -> None:
    output = helm("lint", "--strict", str(CHART), *SCENARIOS[scenario])
    assert "0 chart(s) failed" in output


def test_chart_made_secrets_need_their_values() -> None:
    """Without an existing Secret, rendering refuses to go on with the URLs or keys missing."""
    result = subprocess.run(
        [str(HELM), "template", RELEASE, str(CHART), "--set", "connections.existingSecret="],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "connections.databaseUrl (or connections.existingSecret)" in result.stderr


# --- schemas and policies -----------------------------------------------------------------------


def _closed(schema: Any) -> Any:
    """The CRD's schema as the API server applies it with strict field validation: unknown fields
    are errors, except where the CRD keeps them (x-kubernetes-preserve-unknown-fields)."""
    if isinstance(schema, dict):
        closed = {key: _closed(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


@pytest.fixture(scope="module")
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the served version's openAPIV3Schema, for each vendored CRD."""
    schemas = {}
    for path in CRDS.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version["served"]:
                schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                schemas[(f"{group}/{version['name']}", kind)] = _closed(schema)
    return schemas


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_manifests_match_the_kubernetes_and_crd_schemas(
    scenario: str,
    manifests: dict[str, list[Manifest]],
    crd_schemas: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for doc in manifests[scenario]:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        crd_schema = crd_schemas.get((doc["apiVersion"], doc["kind"]))
        try:
            if crd_schema is not None:
                jsonschema.Draft7Validator(crd_schema).validate(doc)
            else:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except (jsonschema.ValidationError, kubernetes_validate.SchemaNotFoundError) as exc:
            pytest.fail(f"{scenario}: {name}: {getattr(exc, 'message', exc)}")


def test_policy_check_finds_nothing_beyond_the_accepted(
    rendered: dict[str, str], tmp_path: Path
) -> None:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make tools`")
    for name, text in rendered.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    result = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(tmp_path),
            "--framework",
            "kubernetes",
            "--skip-download",  # offline: no severities or guidelines from the vendor's platform
            "--compact",
            "--quiet",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    assert report["summary"]["resource_count"] > 0, result.stderr
    failed = {
        (check["check_id"], check["resource"], check["check_name"])
        for check in report["results"]["failed_checks"]
        if check["check_id"] not in ACCEPTED_POLICY_FINDINGS
    }
    assert failed == set()


# --- agreement with the Procfile, docker-compose.yml and .env.example ----------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_containers_run_the_procfile_commands(
    scenario: str, manifests: dict[str, list[Manifest]]
) -> None:
    docs = manifests[scenario]
    for name, line in procfile().items():
        [container] = pod_spec(one(docs, "Deployment", name))["containers"]
        assert container["command"] == ["sh", "-c", line], name
    for job in find(docs, "Job", "migrations"):
        assert pod_spec(job)["containers"][0]["command"] == ["alembic", "upgrade", "head"]
        assert "alembic upgrade head" in procfile()["api"]


def test_consumer_and_worker_liveness_is_their_compose_healthcheck(
    manifests: dict[str, list[Manifest]],
) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in ("consumer", "worker", "webhooks"):
        healthcheck = compose["services"][name]["healthcheck"]["test"]
        [container] = pod_spec(one(manifests["default"], "Deployment", name))["containers"]
        assert container["livenessProbe"]["exec"]["command"] == healthcheck[1:], name
        assert container["readinessProbe"]["exec"]["command"] == healthcheck[1:], name


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_environment_variable_is_documented_in_env_example(
    scenario: str, manifests: dict[str, list[Manifest]]
) -> None:
    # A commented `# NAME=value` documents an optional variable (OpenTelemetry's, read by its SDK).
    documented = set(
        re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    )
    docs = manifests[scenario]
    names = {name for _, container in containers(docs) for name in env_of(container)}
    names |= {name for config_map in find(docs, "ConfigMap") for name in config_map["data"]}

    assert names - documented == set()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_secrets_come_from_secrets_and_never_from_config_maps(
    scenario: str, manifests: dict[str, list[Manifest]]
) -> None:
    docs = manifests[scenario]
    for config_map in find(docs, "ConfigMap"):
        assert not set(config_map["data"]) & SECRET_SETTINGS
        assert not any(re.search(r"://[^/@\s]*:[^/@\s]*@", v) for v in config_map["data"].values())
    for workload, container in containers(docs):
        env = env_of(container)
        for name in SECRET_SETTINGS:
            assert set(env[name]) == {"secretKeyRef"}, (workload["metadata"]["name"], name)


# --- secrets and hardening ----------------------------------------------------------------------


def test_the_image_user_is_the_one_the_pods_run_as() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"--uid {APP_UID} " in dockerfile


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_only_the_api_mounts_the_jwt_keys_and_only_its_user_can_read_them(
    scenario: str, manifests: dict[str, list[Manifest]]
) -> None:
    docs = manifests[scenario]
    for workload in find(docs, "Deployment") + find(docs, "Job"):
        component = workload["metadata"]["labels"]["app.kubernetes.io/component"]
        spec = pod_spec(workload)
        secret_volumes = [volume for volume in spec["volumes"] if "secret" in volume]
        if component != "api":
            assert secret_volumes == [], component
            continue
        [jwt] = secret_volumes
        assert jwt["secret"]["defaultMode"] == 0o400
        assert {item["key"] for item in jwt["secret"]["items"]} == {
            "jwt-private.pem",
            "jwt-public.pem",
        }
        assert spec["securityContext"]["runAsUser"] == APP_UID
        assert spec["securityContext"]["fsGroup"] == APP_UID
        [container] = spec["containers"]
        [mount] = [m for m in container["volumeMounts"] if m["name"] == "jwt"]
        assert mount["readOnly"] is True
        env = env_of(container)
        assert env["JWT_PRIVATE_KEY_PATH"] == f"{mount['mountPath']}/jwt-private.pem"
        assert env["JWT_PUBLIC_KEY_PATH"] == f"{mount['mountPath']}/jwt-public.pem"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_pod_is_hardened_and_bounded(
    scenario: str, manifests: dict[str, list[Manifest]]
) -> None:
    for workload, container in containers(manifests[scenario]):
        name = workload["metadata"]["name"]
        spec = pod_spec(workload)
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"]["drop"] == ["ALL"], name
        for bound in ("requests", "limits"):
            assert set(container["resources"][bound]) == {"cpu", "memory"}, (name, bound)
        # The one writable place: an emptyDir for the heartbeat files and temporary files.
        [tmp] = [volume for volume in spec["volumes"] if volume["name"] == "tmp"]
        assert "emptyDir" in tmp, name
        [mount] = [mount for mount in container["volumeMounts"] if mount["name"] == "tmp"]
        assert mount["mountPath"] == POD_TMP, name
        if container["name"] in ("consumer", "worker", "webhooks"):
            assert env_of(container)["HEARTBEAT_DIR"] == mount["mountPath"], name


def test_network_policies_let_only_the_ingress_controller_reach_the_api(
    manifests: dict[str, list[Manifest]],
) -> None:
    policies = {doc["metadata"]["name"]: doc for doc in find(manifests["default"], "NetworkPolicy")}
    assert set(policies) == {"orders-deny-ingress", "orders-api-from-ingress"}
    # One policy selects every pod of the release and admits nothing…
    deny = policies["orders-deny-ingress"]
    assert deny["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "orders",
        "app.kubernetes.io/instance": RELEASE,
    }
    assert deny["spec"]["ingress"] == []
    # …and the only other one opens the api's port to the ingress controller's namespace.
    allow = policies["orders-api-from-ingress"]
    assert allow["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    [rule] = allow["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert rule["from"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
    }


# --- scaling, probes, shutdown, migrations ------------------------------------------------------


def test_api_has_probes_a_cpu_autoscaler_a_disruption_budget_and_spreads_over_nodes(
    manifests: dict[str, list[Manifest]],
) -> None:
    docs = manifests["default"]
    api = one(docs, "Deployment", "api")
    assert "replicas" not in api["spec"]  # the HPA owns it
    [container] = pod_spec(api)["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    hpa = one(docs, "HorizontalPodAutoscaler", "api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == api["metadata"]["name"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    pdb = one(docs, "PodDisruptionBudget", "api")
    assert pdb["spec"]["selector"] == api["spec"]["selector"]
    [spread] = pod_spec(api)["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"] == api["spec"]["selector"]


def test_consumer_scales_on_the_new_order_queue_and_worker_on_the_stream_backlog(
    manifests: dict[str, list[Manifest]],
) -> None:
    docs = manifests["production"]
    scaled = {doc["spec"]["scaleTargetRef"]["name"]: doc for doc in find(docs, "ScaledObject")}
    consumer = one(docs, "Deployment", "consumer")
    worker = one(docs, "Deployment", "worker")
    webhooks = one(docs, "Deployment", "webhooks")
    assert set(scaled) == {
        consumer["metadata"]["name"],
        worker["metadata"]["name"],
        webhooks["metadata"]["name"],
    }
    assert "replicas" not in consumer["spec"]
    assert "replicas" not in worker["spec"]
    assert "replicas" not in webhooks["spec"]
    [webhooks_trigger] = scaled[webhooks["metadata"]["name"]]["spec"]["triggers"]
    assert webhooks_trigger["type"] == "rabbitmq"
    assert webhooks_trigger["metadata"]["queueName"] == WEBHOOKS_QUEUE
    assert webhooks_trigger["metadata"]["mode"] == "QueueLength"

    consumer_scaler = scaled[consumer["metadata"]["name"]]
    [trigger] = consumer_scaler["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == NEW_ORDER_QUEUE
    assert trigger["metadata"]["mode"] == "QueueLength"
    auth = next(
        a
        for a in find(docs, "TriggerAuthentication")
        if a["metadata"]["name"] == trigger["authenticationRef"]["name"]
    )
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "host", "name": "orders-connections", "key": "RABBITMQ_URL"}
    ]

    worker_scaler = scaled[worker["metadata"]["name"]]
    [trigger] = worker_scaler["spec"]["triggers"]
    env = env_of(pod_spec(worker)["containers"][0])
    assert trigger["type"] == "redis-streams"
    assert trigger["metadata"]["stream"] == env["TASKIQ_STREAM"]
    assert trigger["metadata"]["consumerGroup"] == env["TASKIQ_CONSUMER_GROUP"]
    # Pending entries per replica below WORKER_CONCURRENCY, or a busy worker would never count as
    # busy enough to add another.
    assert int(trigger["metadata"]["pendingEntriesCount"]) < int(env["WORKER_CONCURRENCY"])
    assert (worker_scaler["spec"]["minReplicaCount"], worker_scaler["spec"]["maxReplicaCount"]) == (
        2,
        30,
    )


def test_without_keda_or_autoscaling_replicas_are_fixed(
    manifests: dict[str, list[Manifest]],
) -> None:
    docs = manifests["fixed"]
    assert find(docs, "ScaledObject") == []
    assert find(docs, "TriggerAuthentication") == []
    assert find(docs, "HorizontalPodAutoscaler") == []
    replicas = {
        name: one(docs, "Deployment", name)["spec"]["replicas"]
        for name in ("api", "consumer", "worker", "webhooks")
    }
    assert replicas == {"api": 2, "consumer": 1, "worker": 1, "webhooks": 1}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_grace_periods_cover_the_processes_own_shutdown(
    scenario: str, manifests: dict[str, list[Manifest]]
) -> None:
    docs = manifests[scenario]
    for name, prefix in (
        ("consumer", "CONSUMER"),
        ("worker", "WORKER"),
        ("webhooks", "WEBHOOK_DISPATCHER"),
    ):
        deployment = one(docs, "Deployment", name)
        [container] = pod_spec(deployment)["containers"]
        grace = float(env_of(container)[f"{prefix}_SHUTDOWN_GRACE_SECONDS"])
        # The process's own grace, then closing connections (the broker's shutdown is bounded to 5 s).
        assert pod_spec(deployment)["terminationGracePeriodSeconds"] >= grace + 5, name
        assert "lifecycle" not in container, name  # SIGTERM itself starts their drain
    api = one(docs, "Deployment", "api")
    [container] = pod_spec(api)["containers"]
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    assert pod_spec(api)["terminationGracePeriodSeconds"] >= int(sleep[1]) + 10


def test_migrations_run_in_a_hook_job_before_install_and_upgrade(
    manifests: dict[str, list[Manifest]],
) -> None:
    docs = manifests["default"]
    job = one(docs, "Job", "migrations")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    [container] = pod_spec(job)["containers"]
    assert set(env_of(container)) >= {"DATABASE_URL", "ENVIRONMENT"}
    api = env_of(pod_spec(one(docs, "Deployment", "api"))["containers"][0])
    assert api["MIGRATE_ON_START"] == "false"

    fixed = manifests["fixed"]
    assert find(fixed, "Job") == []
    fixed_api = env_of(pod_spec(one(fixed, "Deployment", "api"))["containers"][0])
    assert fixed_api["MIGRATE_ON_START"] == "true"


def test_chart_made_secrets_exist_before_the_migration_job(
    manifests: dict[str, list[Manifest]],
) -> None:
    docs = manifests["development"]
    job = one(docs, "Job", "migrations")
    secrets = {doc["metadata"]["name"]: doc for doc in find(docs, "Secret")}
    connections = secrets["orders-connections"]
    assert connections["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(connections["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"]
    )
    assert set(connections["stringData"]) == SECRET_SETTINGS
    assert secrets["orders-jwt"]["stringData"]["jwt-private.pem"] == DEV_PRIVATE_KEY


def test_tracing_is_off_by_default_and_sends_to_the_collector_when_set(
    manifests: dict[str, list[Manifest]],
) -> None:
    (default,) = find(manifests["default"], "ConfigMap")
    (production,) = find(manifests["production"], "ConfigMap")

    assert not [name for name in default["data"] if name.startswith("OTEL_")]
    assert production["data"]["OTEL_TRACES_EXPORTER"] == "otlp"
    assert production["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == (
        "http://otel-collector.observability:4318"
    )
    assert production["data"]["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
