"""Checks of the repository's wiring that need no Odoo: Docker files, CI, requirements, secrets."""

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def load_compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_services_and_wiring():
    compose = load_compose()
    services = compose["services"]
    assert set(services) == {"db", "odoo", "xero-sandbox"}
    assert services["db"]["image"] == "postgres:16"
    odoo = services["odoo"]
    assert odoo["build"] == "."
    assert set(odoo["depends_on"]) == {"db", "xero-sandbox"}
    assert odoo["environment"]["HOST"] == "db"
    assert "8069:8069" in odoo["ports"]
    # the addon is mounted on the extra addons path, and that path is on Odoo's addons path
    mounts = [v.split(":") for v in odoo["volumes"]]
    addon_mount = [m for m in mounts if m[0] == "./halo_helpdesk_billing"]
    assert addon_mount and addon_mount[0][1] == "/mnt/extra-addons/halo_helpdesk_billing"
    addons_path = next(a for a in odoo["command"] if a.startswith("--addons-path="))
    assert "/mnt/extra-addons" in addons_path.split("=", 1)[1].split(",")
    assert (ROOT / "halo_helpdesk_billing" / "__manifest__.py").exists()
    sandbox = services["xero-sandbox"]
    assert "8099:8099" in sandbox["ports"]
    assert sandbox["command"][:3] == ["python3", "-m", "xero_sandbox"]
    assert set(compose["volumes"]) == {"db-data", "odoo-data"}


def test_dockerfile_extends_official_odoo_19():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM odoo:19\b", text, re.M)
    assert "requirements-addon.txt" in text
    reqs = (ROOT / "requirements-addon.txt").read_text()
    for name in ("odoo-addon-helpdesk_mgmt==", "xero-python==", "openpyxl=="):
        assert name in reqs


def test_requirements_are_pinned():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert "==" in line, f"unpinned requirement: {line}"


def test_ci_calls_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec ./test.sh" in ci
    readme = (ROOT / "README.md").read_text()
    assert "./test.sh" in readme and "./demo.sh" in readme


SYSTEM_FOLDERS = {"/", "/tmp", "/var/tmp", "/home", "/root", "/opt", "/srv", "/usr", "/var"}


def test_no_secrets_paths_or_mirror_hosts_committed():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    # the checkout's own absolute location (and the folder holding it, unless that is a system
    # folder such as /tmp, which the Dockerfile names legitimately), whatever it is on this machine
    where = ROOT.parent if str(ROOT.parent) not in SYSTEM_FOLDERS else ROOT
    machine_path = re.escape(str(where) + "/")
    bad = re.compile(machine_path + r"|BEGIN (RSA|OPENSSH) PRIVATE KEY|deb\.debian\.org|index-url\s*=")
    hits = []
    for name in files:
        path = ROOT / name
        if path.suffix in {".png", ".xlsx", ".pdf"} or not path.is_file() or path == Path(__file__).resolve():
            continue
        text = path.read_text(errors="ignore")
        if bad.search(text):
            hits.append(name)
    assert not hits, hits
