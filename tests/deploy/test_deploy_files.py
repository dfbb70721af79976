"""The deploy/ files: compose, Dockerfile, Procfile, railway.toml, systemd units and nginx.

No Docker engine is needed: the compose files are parsed with PyYAML, validated against the
Compose specification's JSON Schema (as shipped by check-jsonschema) and checked for what the
guide promises; ``docker compose config`` also runs when the compose plugin is installed. The image
itself is built and run by scripts/docker-smoke (see test_docker_smoke.py).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "API_KEY")


def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def compose_schema() -> dict[str, Any]:
    """The Compose specification's schema, vendored (Apache-2.0) and kept current by check-jsonschema."""
    vendored = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(vendored.read_text(encoding="utf-8"))
    return schema


def compose_errors(document: object) -> list[str]:
    schema = compose_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    return sorted(
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(document)
    )


COMPOSE_FILES = sorted(DEPLOY.glob("**/*compose*.y*ml"))


def test_there_is_a_compose_file_to_check() -> None:
    assert DEPLOY / "compose.yaml" in COMPOSE_FILES


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_compose_files_follow_the_compose_specification(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert compose_errors(document) == []


def test_the_compose_schema_check_catches_mistakes() -> None:
    broken = compose()
    broken["services"]["api"]["ports"] = "127.0.0.1:8000:8000"
    broken["services"]["api"]["depends_on"]["db"]["condition"] = "service_ready"
    broken["services"]["db"]["helthcheck"] = broken["services"]["db"].pop("healthcheck")
    errors = compose_errors(broken)
    assert any(e.startswith("services/api/ports:") for e in errors), errors
    assert any(e.startswith("services/api/depends_on:") for e in errors), errors
    assert any("'helthcheck' was unexpected" in e for e in errors), errors


def test_compose_runs_postgres_the_api_and_both_bots() -> None:
    services = compose()["services"]
    assert {"db", "migrate", "api", "discord", "slack"} <= set(services)
    assert services["migrate"]["command"] == ["curiouscore db migrate && curiouscore seed"]
    assert services["api"]["command"] == ["serve"]
    assert services["discord"]["command"] == ["bots", "discord"]
    assert services["slack"]["command"] == ["bots", "slack"]


def test_postgres_has_a_healthcheck_and_a_volume() -> None:
    data = compose()
    db = data["services"]["db"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(volume.startswith("pgdata:") for volume in db["volumes"])
    assert "pgdata" in data["volumes"]


def test_the_app_migrates_once_after_postgres_is_healthy_then_serves() -> None:
    services = compose()["services"]
    for name in ("api", "discord", "slack"):
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "/health" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["api"]["ports"] == ["127.0.0.1:8000:8000"]


def _secret_values(environment: dict[str, Any]) -> dict[str, str]:
    return {
        key: str(value)
        for key, value in environment.items()
        if any(word in key for word in SECRET_WORDS) or re.search(r"://[^/:@]+:[^@]+@", str(value))
    }


def test_compose_commits_no_secrets() -> None:
    for name, service in compose()["services"].items():
        for key, value in _secret_values(service.get("environment", {})).items():
            # A secret may only be a reference to the environment (deploy/.env or the shell).
            literal = re.sub(r"\$\{[^}]*\}", "", value)
            assert not re.search(r"(?i)password|secret|:[^@/]+@", literal.split("://")[-1]), (
                name,
                key,
            )
            assert "${" in value, (name, key)
    assert not (DEPLOY / ".env").exists()
    example = (DEPLOY / "env.example").read_text(encoding="utf-8")
    for line in example.splitlines():
        key, _, value = line.partition("=")
        if line and not line.startswith("#") and key.endswith((*SECRET_WORDS, "_KEY")):
            assert value == "", line


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed here; the PyYAML checks above still ran")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(
            "the docker compose plugin is not installed here (docker compose version failed)"
        )
    env = {**os.environ, "POSTGRES_PASSWORD": "placeholder-for-config-check"}
    result = subprocess.run(
        [docker, "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def _stages(dockerfile: str) -> list[list[str]]:
    stages: list[list[str]] = []
    for line in dockerfile.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    stages = _stages((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    assert len(stages) >= 2
    final = stages[-1]
    text = "\n".join(final)
    assert "build-essential" in "\n".join(stages[0])
    for tool in ("build-essential", "gcc", "apt-get install"):
        assert tool not in text, tool
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    health = [line for line in final if line.upper().startswith("HEALTHCHECK ")]
    assert health and "/health" in health[0]
    assert 'ENTRYPOINT ["curiouscore"]' in final
    assert 'CMD ["up"]' in final
    assert "COPY --from=build /opt/venv /opt/venv" in final


def test_the_base_image_is_a_build_argument_and_host_wheels_need_no_index() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG BASE_IMAGE=\S+$", dockerfile, re.MULTILINE)
    stages = _stages(dockerfile)
    assert [stage[0].split()[1] for stage in stages] == ["${BASE_IMAGE}"] * len(stages)
    build = "\n".join(stages[0])
    assert "COPY deploy/wheels/ /wheels/" in build
    assert "pip install --no-index --no-deps /wheels/*.whl" in build
    assert "--no-index --no-deps --no-build-isolation" in build
    wheels = DEPLOY / "wheels"
    assert (wheels / "README.md").is_file()
    assert (wheels / ".gitignore").read_text(encoding="utf-8").split() == ["*.whl"]


def test_procfile_and_railway_migrate_once_then_serve() -> None:
    procfile = dict(
        line.split(": ", 1)
        for line in (DEPLOY / "Procfile").read_text(encoding="utf-8").splitlines()
        if line.strip()
    )
    assert procfile["release"] == "curiouscore db migrate"
    assert procfile["web"].startswith("curiouscore serve")
    assert procfile["discord"] == "curiouscore bots discord"
    assert procfile["slack"] == "curiouscore bots slack"
    assert procfile["worker"] == "curiouscore worker"
    railway = tomllib.loads((DEPLOY / "railway.toml").read_text(encoding="utf-8"))
    assert railway["build"]["dockerfilePath"] == "deploy/Dockerfile"
    assert railway["deploy"]["preDeployCommand"] == ["curiouscore db migrate"]
    assert railway["deploy"]["healthcheckPath"] == "/health"


@pytest.mark.parametrize("unit", ["api", "discord", "slack", "worker"])
def test_systemd_units_restart_on_failure_and_are_hardened(unit: str) -> None:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / f"curiouscore-{unit}.service", encoding="utf-8")
    service = parser["Service"]
    assert service["EnvironmentFile"] == "/etc/curiouscore/curiouscore.env"
    assert service["Restart"] == "on-failure"
    assert service["User"] == "curiouscore"
    for option in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp"):
        assert option in service, option
    assert parser["Unit"]["Requires"] == "curiouscore-migrate.service"
    if unit == "api":
        assert "--workers 4" in service["ExecStart"]
        assert "--host 127.0.0.1 --port 8000" in service["ExecStart"]
    elif unit == "worker":
        assert service["ExecStart"].endswith("curiouscore worker")
    else:
        assert service["ExecStart"].endswith(f"curiouscore bots {unit}")
    if unit in ("api", "worker"):  # code steps: bubblewrap creates these namespaces
        assert set(service["RestrictNamespaces"].split()) >= {"user", "mnt", "pid", "net"}


def test_nginx_terminates_tls_and_passes_slack_events_through() -> None:
    conf = (DEPLOY / "nginx" / "curiouscore.conf").read_text(encoding="utf-8")
    assert "server 127.0.0.1:8000;" in conf
    assert "listen 443 ssl;" in conf
    assert re.search(r"location /slack/ \{[^}]*proxy_pass http://curiouscore;", conf)
    assert conf.count("{") == conf.count("}")
