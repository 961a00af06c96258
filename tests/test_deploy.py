"""The files that run EBOK in production (Dockerfile, compose.yaml, deploy/, docs/deployment.md)
name only `ebok` commands the real parser accepts and only settings that are declared; and the
image builds and serves, where a Docker daemon is there to build it."""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from ebok.cli import build_parser
from ebok.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = sorted(DEPLOY.glob("*.service")) + sorted(DEPLOY.glob("*.timer"))
SHELL_WORDS = {"then", "do", "else", "exec", "time"}


# -- reading commands out of the files ----------------------------------------------------------
def ebok_args(tokens: list[str]) -> list[str] | None:
    """The arguments of `ebok` in one simple command, or None when it runs something else.
    Understands `VAR=x ebok`, `sudo -u ebok ebok`, `docker compose exec [opts] SERVICE ebok`,
    `docker compose run [opts] SERVICE ARGS` (the image's entrypoint is ebok), `ebok-admin`
    (deploy/ebok-admin) and `/opt/ebok/venv/bin/ebok`."""
    while tokens and (tokens[0] in SHELL_WORDS or re.fullmatch(r"[A-Z_]+=\S*", tokens[0])):
        tokens = tokens[1:]
    if not tokens:
        return None
    if tokens[0] == "sudo":
        rest = tokens[1:]
        while rest and rest[0].startswith("-"):
            rest = rest[2:] if rest[0] in ("-u", "-g") else rest[1:]
        return ebok_args(rest)
    if tokens[:2] == ["docker", "compose"] and len(tokens) > 2 and tokens[2] in ("exec", "run"):
        rest = tokens[3:]
        while rest and rest[0].startswith("-"):
            with_value = ("-u", "--user", "-e", "--env", "-v", "--volume", "-w", "--workdir")
            rest = rest[2:] if rest[0] in with_value else rest[1:]
        command = rest[1:]  # after the service's name
        if tokens[2] == "run" and command[:1] != ["ebok"]:
            return command  # `run` goes through the image's ENTRYPOINT, which is ebok
        return ebok_args(command)
    if tokens[0] in ("ebok", "ebok-admin") or tokens[0].endswith(("/bin/ebok", "/ebok-admin")):
        return tokens[1:]
    return None


def simple_commands(line: str) -> list[list[str]]:
    """The simple commands of one line of shell: words, split at `;`, `&&`, `||`, `|`, `&`
    outside quotes."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token and set(token) <= set(";&|"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def script_commands(script: str) -> list[list[str]]:
    """The `ebok` argument lists of a shell script."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        if not line.strip() or line.strip().startswith("#"):
            continue
        for tokens in simple_commands(line):
            if tokens[:1] in (["sh"], ["/bin/sh"]) and tokens[1:2] == ["-c"]:
                found += script_commands(tokens[2])
                continue
            args = ebok_args(tokens)
            if args is not None:
                found.append(args)
    return found


def unit_lines(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of a systemd unit, every line (ExecStart may repeat)."""
    section, lines = "", []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        lines.append((section, key.strip(), value.strip()))
    return lines


def unit_commands(path: Path) -> list[list[str]]:
    found = []
    for _, key, value in unit_lines(path):
        if key.startswith("Exec"):
            command = value.lstrip("-@+!:").replace("%%", "%")
            found += script_commands(command)
    return found


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def compose_commands() -> list[list[str]]:
    found = []
    for name, service in compose()["services"].items():
        if service.get("image", "").startswith("caddy") or "build" not in service:
            continue
        entrypoint = service.get("entrypoint") or ["ebok"]  # the image's ENTRYPOINT
        command = service.get("command") or ["serve"]
        if isinstance(command, str):
            command = shlex.split(command)
        if entrypoint == ["ebok"]:
            found.append(list(command))
        else:
            assert entrypoint == ["/bin/sh", "-c"], name
            found += script_commands(command[0].replace("$$", "$"))
    return found


def dockerfile_command() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M).group(1))
    command = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
    assert entrypoint == ["ebok"]
    return command


def docs_commands() -> list[list[str]]:
    """`ebok …` in the shell blocks of docs/deployment.md."""
    text = (ROOT / "docs" / "deployment.md").read_text()
    found = []
    for block in re.findall(r"```(?:sh|bash|console)\n(.*?)```", text, re.S):
        found += script_commands(block)
    return found


# -- the tests ----------------------------------------------------------------------------------
def _parses(args: list[str], where: str) -> None:
    parser = build_parser()
    try:
        parsed = parser.parse_args(args)
    except SystemExit:
        pytest.fail(f"{where}: `ebok {shlex.join(args)}` is not a command ebok accepts")
    assert getattr(parsed, "func", None), f"{where}: `ebok {shlex.join(args)}` runs nothing"


def test_every_ebok_command_in_the_deployment_files_exists():
    commands = {
        "Dockerfile": [dockerfile_command()],
        "compose.yaml": compose_commands(),
        "docs/deployment.md": docs_commands(),
        **{f"deploy/{p.name}": unit_commands(p) for p in UNITS},
    }
    seen = {shlex.join(args[:2]) for found in commands.values() for args in found}
    # What production needs is there at all: serving, the inbox, erasure, mail and backups.
    for needed in ("serve", "sync", "accounts purge", "accounts mail-retry", "backup"):
        assert any(s == needed or s.startswith(needed + " ") for s in seen), needed
    assert "restore" in {args[0] for args in commands["docs/deployment.md"]}
    for where, found in commands.items():
        for args in found:
            _parses(args, where)


def test_the_parser_is_not_fooled_by_a_wrong_command():
    with pytest.raises(pytest.fail.Exception):
        _parses(["acounts", "purge"], "example")
    assert ebok_args(shlex.split("sudo -u ebok /opt/ebok/venv/bin/ebok sync")) == ["sync"]
    assert ebok_args(shlex.split("install -d -o ebok /var/backups/ebok")) is None


def test_every_setting_named_in_the_deployment_files_is_declared():
    declared = {s.env for s in SETTINGS}
    files = [ROOT / "Dockerfile", ROOT / "compose.yaml", ROOT / "docs" / "deployment.md"]
    files += sorted(p for p in DEPLOY.iterdir() if p.is_file())
    named = set()
    for path in files:
        found = set(re.findall(r"\bEBOK_[A-Z0-9_]+\b", path.read_text()))
        assert found <= declared, f"{path.relative_to(ROOT)}: {sorted(found - declared)}"
        named |= found
    for needed in ("EBOK_BASE_URL", "EBOK_TRUSTED_PROXIES", "EBOK_DATA_DIR", "EBOK_WORKERS"):
        assert needed in named


def test_units_run_as_ebok_and_each_timer_has_its_service():
    services = {p.stem for p in DEPLOY.glob("*.service")}
    assert {"ebok", "ebok-sync", "ebok-daily"} <= services
    for path in DEPLOY.glob("*.service"):
        lines = unit_lines(path)
        assert ("Service", "User", "ebok") in lines, path.name
        assert any(k == "ExecStart" for _, k, _ in lines), path.name
        assert ("Service", "EnvironmentFile", "/etc/ebok/ebok.env") in lines, path.name
    for path in DEPLOY.glob("*.timer"):
        assert path.stem in services, f"{path.name} starts no service of ours"
        assert any(s == "Timer" and k == "OnCalendar" for s, k, _ in unit_lines(path))


def test_only_caddy_is_a_trusted_proxy_in_compose():
    config = compose()
    caddy = config["services"]["caddy"]
    address = caddy["networks"]["ebok"]["ipv4_address"]
    subnet = config["networks"]["ebok"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
    for name in ("portal", "sync"):
        environment = config["services"][name]["environment"]
        assert environment["EBOK_TRUSTED_PROXIES"] == address
        assert environment["EBOK_BASE_URL"].startswith("https://")
        assert "ports" not in config["services"][name]  # reached through Caddy only
    assert caddy["environment"]["PORTAL_UPSTREAM"] == "portal:8000"
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    assert "reverse_proxy {$PORTAL_UPSTREAM:127.0.0.1:8000}" in caddyfile
    env_example = (DEPLOY / "ebok.env.example").read_text()
    assert re.search(r"^EBOK_TRUSTED_PROXIES=127\.0\.0\.1", env_example, re.M)
    assert re.search(r"^EBOK_BASE_URL=https://", env_example, re.M)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_units(tmp_path):
    """`systemd-analyze verify` on copies whose ebok is /bin/true (it checks that executables
    exist)."""
    for path in UNITS:
        text = path.read_text().replace("/opt/ebok/venv/bin/ebok", "/bin/true")
        (tmp_path / path.name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        env={"SYSTEMD_LOG_LEVEL": "warning", "PATH": "/usr/bin:/bin"},
    )
    problems = [line for line in result.stderr.splitlines() if str(tmp_path) in line]
    assert result.returncode == 0 and not problems, result.stderr


@pytest.mark.skipif(shutil.which("caddy") is None, reason="no caddy here (apt-get install caddy)")
def test_caddy_accepts_the_caddyfile():
    result = subprocess.run(
        ["caddy", "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env={"SITE_ADDRESS": "ebok.example.pl", "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert result.returncode == 0 and "Valid configuration" in result.stdout + result.stderr


# -- the image, where there is a Docker daemon --------------------------------------------------
def _docker_daemon() -> str | None:
    """None when `docker info` works; else why the image test cannot run here."""
    if shutil.which("docker") is None:
        return "no docker client on this machine"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker info failed: {exc}"
    if info.returncode != 0:
        return "docker client without a reachable daemon (`docker info` fails)"
    return None


@pytest.mark.slow
def test_the_image_builds_and_serves_as_a_non_root_user(tmp_path):
    why = _docker_daemon()
    if why is not None:
        pytest.skip(why)
    from tests.ebok.server import free_port

    tag = f"ebok-test:{int(time.time())}"
    name = tag.replace(":", "-")
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=1800)
    port = free_port()
    try:
        subprocess.run(
            ["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000", tag],
            check=True,
            timeout=60,
        )

        def in_container(*args: str) -> str:
            return subprocess.run(
                ["docker", "exec", name, *args], check=True, capture_output=True, text=True
            ).stdout

        import httpx

        deadline = time.monotonic() + 90
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the container does not answer"
                time.sleep(1)
        assert answer.status_code == 503  # no data yet
        assert in_container("id", "-u").strip() != "0"
        in_container("ebok", "demo-data", "--out", "/tmp/demo")
        in_container("ebok", "import", "/tmp/demo")
        deadline = time.monotonic() + 10
        while httpx.get(f"http://127.0.0.1:{port}/healthz").status_code != 200:
            assert time.monotonic() < deadline, "the import is not served"
            time.sleep(0.5)
        assert "Logowanie" in httpx.get(f"http://127.0.0.1:{port}/login").text
        in_container("ebok", "backup", "/tmp/kopia")
        assert "manifest.json" in in_container("ls", "/tmp/kopia")
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
