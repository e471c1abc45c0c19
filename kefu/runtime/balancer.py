"""nginx in front of the scaled profile: deploy/nginx/kefu.conf.in filled in
with this machine's ports, and the command that runs it in the foreground."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kefu.core.settings import PROJECT_ROOT

TEMPLATE = PROJECT_ROOT / "deploy" / "nginx" / "kefu.conf.in"
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/bin/nginx")


@dataclass(frozen=True)
class Layout:
    """Where nginx listens and what it balances; servers are "host:port"."""

    public_host: str
    public_port: int
    internal_host: str
    internal_port: int
    rasa_servers: Sequence[str]
    action_servers: Sequence[str]
    desk_server: str
    # Set where servers are DNS names whose addresses change (Kubernetes pods):
    # nginx >= 1.27.3 then re-resolves them ("resolve"); else once at start.
    resolver: str | None = None


def render(layout: Layout, run_dir: Path, user: str | None = None, access_log: str | None = None) -> str:
    # As root, nginx's workers would drop to `nobody`, who cannot write the
    # body buffers under var/; run them as the user who started Kefu.
    if user is None:
        user = getpass.getuser() if os.geteuid() == 0 else ""
    user = f"user {user};" if user else ""
    # max_fails=1: one failed attempt takes a server out for 5 s, so a dead
    # server costs one retry, not one per request.
    resolve = " resolve" if layout.resolver else ""

    def servers(name: str, addresses: Sequence[str]) -> str:
        zone = [f"        zone {name} 64k;"] if layout.resolver else []
        return "\n".join(zone + [f"        server {a} max_fails=1 fail_timeout=5s{resolve};" for a in addresses])

    values = {
        "USER": user,
        "RUN_DIR": str(run_dir),
        "ACCESS_LOG": access_log or str(run_dir / "access.log"),
        "PUBLIC_HOST": layout.public_host,
        "PUBLIC_PORT": str(layout.public_port),
        "INTERNAL_HOST": layout.internal_host,
        "INTERNAL_PORT": str(layout.internal_port),
        "DESK_SERVER": layout.desk_server,
        "RASA_SERVERS": servers("kefu_rasa", layout.rasa_servers),
        "ACTION_SERVERS": servers("kefu_actions", layout.action_servers),
        "RESOLVER": f"    resolver {layout.resolver} valid=10s;" if layout.resolver else "",
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in NGINX_CANDIDATES if Path(p).exists()), None)
    if not found:
        raise SystemExit(
            "error: the scaled profile needs nginx; 'make run-scaled' installs Debian's "
            "package, or run 'apt-get install nginx' as root"
        )
    return found


def prepare(layout: Layout, run_dir: Path) -> list[str]:
    """Write the configuration, check it with `nginx -t`, return the command."""
    run_dir.mkdir(parents=True, exist_ok=True)
    conf = run_dir / "nginx.conf"
    conf.write_text(render(layout, run_dir))
    binary = nginx_binary()

    check = subprocess.run([binary, "-t", "-q", "-p", str(run_dir), "-c", str(conf)], capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"error: nginx refused {conf}:\n{check.stderr.strip()}")
    return [binary, "-p", str(run_dir), "-c", str(conf)]


# deploy/k8s/kefu.yaml's nginx: pods of two StatefulSets by their stable DNS
# names, re-resolved through the cluster DNS. tests/test_deploy.py checks that
# the ConfigMap holds exactly this; print it with `python -m kefu.runtime.balancer`.
KUBERNETES_LAYOUT = Layout(
    public_host="0.0.0.0",
    public_port=8080,
    internal_host="0.0.0.0",
    internal_port=8079,
    rasa_servers=[f"kefu-rasa-{i}.kefu-rasa.kefu.svc.cluster.local:5005" for i in range(2)],
    action_servers=[f"kefu-actions-{i}.kefu-actions.kefu.svc.cluster.local:5055" for i in range(2)],
    desk_server="kefu-desk.kefu.svc.cluster.local:8000",
    resolver="kube-dns.kube-system.svc.cluster.local",
)


def kubernetes_config() -> str:
    return render(KUBERNETES_LAYOUT, Path("/tmp/kefu-nginx"), user="nginx", access_log="/dev/stdout")


if __name__ == "__main__":
    print(kubernetes_config(), end="")
