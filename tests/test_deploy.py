"""deploy/: the Kubernetes example is valid against Kubernetes' own schemas
(kubernetes-validate, strict), and its nginx.conf is the one Kefu renders."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from kefu.runtime.balancer import kubernetes_config
from tests.support.stack import ROOT

MANIFEST = ROOT / "deploy" / "k8s" / "kefu.yaml"
VALIDATOR = ROOT / ".venv-tools" / "bin" / "kubernetes-validate"


def validate(path: Path) -> subprocess.CompletedProcess:
    assert VALIDATOR.exists(), "kubernetes-validate is missing: run 'make test' (it installs .venv-tools)"
    return subprocess.run([str(VALIDATOR), "--strict", "-k", "1.30.0", str(path)], capture_output=True, text=True)


@pytest.mark.e2e  # kubernetes-validate runs from its own venv (make's .venv-tools)
def test_the_kubernetes_example_passes_kubernetes_validate():
    result = validate(MANIFEST)
    assert result.returncode == 0, result.stdout + result.stderr
    kinds = [line.split("for resource ")[1].split()[0] for line in result.stdout.splitlines() if "passed" in line]
    for expected in (
        "statefulset/kefu-rasa",
        "statefulset/kefu-actions",
        "deployment/kefu-desk",
        "deployment/kefu-nginx",
        "service/kefu-public",
    ):
        assert expected in kinds, result.stdout


@pytest.mark.e2e
def test_the_validator_rejects_a_broken_manifest(tmp_path):
    """The check above can fail: a misspelt field is refused."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(MANIFEST.read_text().replace("replicas: 2", "replica: 2", 1))
    assert validate(broken).returncode != 0


def test_the_example_nginx_conf_is_the_rendered_template():
    docs = list(yaml.safe_load_all(MANIFEST.read_text()))
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "kefu-nginx")
    assert config["data"]["nginx.conf"] == kubernetes_config(), (
        "deploy/k8s/kefu.yaml is stale: paste the output of `python -m kefu.runtime.balancer` into the kefu-nginx ConfigMap"
    )
