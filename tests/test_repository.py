"""Checks of the repository's wiring that need no Odoo: Docker files, CI, requirements, secrets."""

import os
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
    assert "127.0.0.1:8099:8099" in sandbox["ports"]
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


# -- Docker: what is exposed, and Odoo's master password ------------------------------------------------
ENTRYPOINT = ROOT / "docker" / "odoo-entrypoint.sh"


def test_compose_publishes_the_sandbox_on_localhost_only():
    """The sandbox's control API has no authentication: never on the host's other interfaces."""
    sandbox = load_compose()["services"]["xero-sandbox"]
    for port in sandbox["ports"]:
        mapping = (
            port
            if isinstance(port, str)
            else "%s:%s:%s" % (port.get("host_ip", ""), port.get("published", ""), port.get("target", ""))
        )
        host_ip = mapping.rsplit(":", 2)[0] if mapping.count(":") == 2 else ""
        assert host_ip == "127.0.0.1", f"sandbox port {port!r} is published on every interface"
    assert "network_mode" not in sandbox


def test_compose_odoo_needs_a_master_password_and_lists_no_databases():
    odoo = load_compose()["services"]["odoo"]
    # required from the environment, with a message and no default
    assert re.fullmatch(r"\$\{ODOO_ADMIN_PASSWD:\?[^}]+\}", odoo["environment"]["ODOO_ADMIN_PASSWD"])
    assert "--no-database-list" in odoo["command"]
    assert not any(str(arg).startswith(("--admin-passwd", "--list-db")) for arg in odoo["command"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY docker/odoo-entrypoint.sh /usr/local/bin/halo-odoo-entrypoint.sh" in dockerfile
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/halo-odoo-entrypoint.sh"\]$', dockerfile, re.M)
    assert re.search(r'^CMD \["odoo"\]$', dockerfile, re.M)


def run_entrypoint(tmp_path, *args, password=None):
    """The container's entrypoint on this machine, the official entrypoint replaced by a script that
    prints ODOO_RC and its arguments."""
    official = tmp_path / "official-entrypoint.sh"
    official.write_text('#!/bin/sh\necho "ODOO_RC=$ODOO_RC"\necho "ARGS=$*"\n')
    official.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "ODOO_ADMIN_PASSWD"}
    env.update(HALO_ODOO_CONF=str(tmp_path / "odoo.conf"), HALO_ODOO_ENTRYPOINT=str(official))
    if password is not None:
        env["ODOO_ADMIN_PASSWD"] = password
    return subprocess.run(
        ["bash", str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=30
    )


def test_entrypoint_refuses_to_start_odoo_without_a_master_password(tmp_path):
    for args in (("odoo",), ("odoo", "-d", "halo", "-i", "halo_helpdesk_billing"), ("--dev=all",), ()):
        for password in (None, ""):
            result = run_entrypoint(tmp_path, *args, password=password)
            assert result.returncode == 64, (args, result.stdout)
            assert "ODOO_ADMIN_PASSWD is not set" in result.stderr
            assert not (tmp_path / "odoo.conf").exists()
    assert run_entrypoint(tmp_path, "odoo", password="two\nlines").returncode == 64
    # the sandbox (same image, another command) needs no password
    sandbox = run_entrypoint(tmp_path, "python3", "-m", "xero_sandbox", "--port", "8099")
    assert sandbox.returncode == 0 and "ARGS=python3 -m xero_sandbox --port 8099" in sandbox.stdout


def test_entrypoint_writes_the_master_password_and_turns_the_database_list_off(tmp_path):
    result = run_entrypoint(tmp_path, "odoo", "--addons-path=/mnt/extra-addons", password="s3cret %(x)s")
    assert result.returncode == 0, result.stderr
    conf = tmp_path / "odoo.conf"
    # the official entrypoint then runs with ODOO_RC pointing at the generated file
    assert result.stdout.splitlines() == [f"ODOO_RC={conf}", "ARGS=odoo --addons-path=/mnt/extra-addons"]
    lines = conf.read_text().splitlines()
    assert lines[0] == "[options]"
    assert "admin_passwd = s3cret %(x)s" in lines
    assert "list_db = False" in lines
    assert "addons_path = /mnt/extra-addons" in lines
    assert oct(conf.stat().st_mode & 0o777) == "0o600"


def test_pre_commit_hooks_need_only_pypi_and_npm():
    """Every hook is a local hook (no hook repository to clone) whose tool is pinned; the lint
    step of ./test.sh runs them (tools/run_tests.py) and skips only what .pre-commit-pending lists."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert {repo["repo"] for repo in config["repos"]} == {"local"}
    for hook in hooks:
        for dep in hook.get("additional_dependencies", []):
            assert "==" in dep or re.search(r".@\d", dep), f"{hook['id']}: unpinned {dep}"
    ids = {hook["id"] for hook in hooks}
    assert {"ruff", "ruff-format-check", "pylint_odoo", "prettier-check", "oca-checks-po"} <= ids
    # the fixing twins only run when asked for (tools/format.sh): a test run rewrites nothing
    for hook in hooks:
        if hook["id"] in ("ruff-fix", "ruff-format", "prettier"):
            assert hook.get("stages") == ["manual"], hook["id"]
        else:
            assert "--fix" not in hook["entry"] and "--write" not in hook["entry"], hook["id"]
    pending = ROOT / ".pre-commit-pending"
    if pending.exists():
        for line in pending.read_text().splitlines():
            name = line.split("#", 1)[0].strip()
            assert not name or name in ids, f".pre-commit-pending names an unknown hook: {name}"
    assert "pre-commit" in (ROOT / "tools" / "run_tests.py").read_text()
    assert "PRE_COMMIT_HOME" in (ROOT / "tools" / "setup.sh").read_text()


def test_xero_sandbox_is_an_installed_package(tmp_path):
    """xero_sandbox has its own pyproject.toml and is installed into the venv: it imports from any
    folder, without the repository on sys.path."""
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.metadata as m, xero_sandbox; "
            "print(m.version('halo-xero-sandbox')); print(xero_sandbox.SandboxServer.__name__)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["19.0.1.0.0", "SandboxServer"]
    assert "halo-xero-sandbox" in (ROOT / "xero_sandbox" / "pyproject.toml").read_text()
    assert (
        "pip3 install" in (ROOT / "Dockerfile").read_text()
        and "/opt/xero_sandbox/xero_sandbox" in (ROOT / "Dockerfile").read_text()
    )


def test_translations_have_no_format_errors():
    """Every .po of the addon (fr.po) is merged with the .pot and keeps each placeholder, QWeb
    expression and HTML tag of its source (tools/i18n.py, also run by the pot step of ./test.sh)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("halo_i18n", ROOT / "tools" / "i18n.py")
    i18n = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(i18n)
    assert (ROOT / "halo_helpdesk_billing" / "i18n" / "fr.po").exists()
    problems, stats = i18n.check()
    assert problems == []
    assert stats, "no .po file checked"
    # the checker sees a broken placeholder and a lost tag
    assert i18n.entry_problems("%(count)s invoices created.", "%(nombre)s factures créées.")
    assert i18n.entry_problems("<strong>Total</strong>", "Total")
    assert not i18n.entry_problems("%(count)s invoices created.", "%(count)s factures créées.")


# Models of the addon re-opened in a second file of the addon that are accepted (none: each model of the
# addon is in one file). A split that is fixed must leave this set; a new one fails the check.
KNOWN_MODEL_SPLITS = set()


def _model_classes(addon):
    """``(path, _name or None, [_inherit names])`` of every class of the addon's Python files
    (its tests left out) that sets ``_name`` or ``_inherit`` to string constants."""
    import ast

    for path in sorted(addon.rglob("*.py")):
        relative = path.relative_to(addon).as_posix()
        if relative.startswith("tests/") or "/tests/" in relative:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ClassDef):
                continue
            name, inherit = None, []
            for statement in node.body:
                if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
                    continue
                target, value = statement.targets[0], statement.value
                if not isinstance(target, ast.Name):
                    continue
                if target.id == "_name" and isinstance(value, ast.Constant):
                    name = value.value
                elif target.id == "_inherit":
                    values = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
                    inherit = [item.value for item in values if isinstance(item, ast.Constant)]
            if name or inherit:
                yield relative, name, inherit


def test_each_model_of_the_addon_is_in_one_file():
    """A model the addon defines (``_name``) is not re-opened (``_inherit`` of the same name,
    without a new ``_name``) in another file of the addon: one model, one file. Extensions of
    other modules' models (``account.move``...) are not concerned."""
    addon = ROOT / "halo_helpdesk_billing"
    classes = list(_model_classes(addon))
    defined = {}
    for path, name, inherit in classes:
        if name and name not in inherit:
            assert name not in defined, f"{name} is defined in {defined[name]} and in {path}"
            defined[name] = path
    splits = set()
    for path, name, inherit in classes:
        # a class without _name extends its first _inherit; with the same _name it re-opens it
        reopened = name if name in inherit else (inherit[0] if not name and inherit else None)
        if reopened in defined and path != defined[reopened]:
            splits.add((reopened, path))
    new = sorted(splits - KNOWN_MODEL_SPLITS)
    assert not new, "models re-opened outside their own file: " + ", ".join(
        f"{model} in {path} (defined in {defined[model]})" for model, path in new
    )
    fixed = sorted(KNOWN_MODEL_SPLITS - splits)
    assert not fixed, f"no longer split, remove from KNOWN_MODEL_SPLITS: {fixed}"


def test_the_xero_sdk_stays_inside_the_client():
    """``services/xero_client.py`` is the Xero boundary (issue #15): typed bodies in, plain values out. No
    other module of the addon (its tests aside) imports ``xero_python``."""
    addon = ROOT / "halo_helpdesk_billing"
    boundary = addon / "services" / "xero_client.py"
    offenders = []
    for path in sorted(addon.rglob("*.py")):
        if path == boundary or "tests" in path.relative_to(addon).parts:
            continue
        for number, text in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"\s*(from|import)\s+xero_python\b", text):
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert not offenders, "xero_python imported outside services/xero_client.py: " + ", ".join(offenders)
    assert re.search(r"^\s+from xero_python", boundary.read_text(), re.M)  # the check looks at real imports


def test_manifest_data_in_ocas_order():
    """security, data, views (and the report views), wizards, then the menus (issue #21)."""
    import ast

    manifest = ast.literal_eval((ROOT / "halo_helpdesk_billing" / "__manifest__.py").read_text())

    def rank(path):
        if path.startswith("security/"):
            return 0
        if path.startswith("data/"):
            return 1
        if path.endswith("_menus.xml"):
            return 5
        if path.startswith("views/"):
            return 2
        if path.startswith("reports/"):
            return 3
        if path.startswith("wizards/"):
            return 4
        raise AssertionError("a data file outside the known folders: " + path)

    ranks = [rank(path) for path in manifest["data"]]
    assert ranks == sorted(ranks), [p for p, r in zip(manifest["data"], ranks, strict=True)]


def test_odoos_runner_imports_every_test_module():
    """``odoo --test-tags /halo_helpdesk_billing`` runs only the modules ``tests/__init__.py`` imports."""
    tests = ROOT / "halo_helpdesk_billing" / "tests"
    imported = set(re.findall(r"^from \. import (\w+)", (tests / "__init__.py").read_text(), re.M))
    modules = {path.stem for path in tests.glob("test_*.py")}
    # a module named like a test module that holds no test (shared set-up) is not imported
    shared = {path.stem for path in tests.glob("test_*.py") if "def test_" not in path.read_text()}
    assert modules - shared - imported == set()
    assert imported - modules == set()
