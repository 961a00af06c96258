"""The wheel carries everything the portal needs: templates, static files and fonts.

The slow test builds the wheel from a copy of the source tree, installs it into a fresh venv
and, from a directory outside the repository, imports, publishes and renders pages from the
installed copy only. To stay fast and offline, the fresh venv borrows the third-party packages
of the interpreter running the tests (one `.pth` line to its site-packages, whose own `.pth`
files, the editable install's among them, are not processed); the project itself comes only
from the wheel.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("ebok", "etl", "portal")
# Not needed to build the wheel; left out of the copy to keep it quick.
NOT_COPIED = shutil.ignore_patterns(
    ".venv", ".git", "data", "build", "dist", "bench", "docs", "tests", "scripts",
    "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache",
)  # fmt: skip


def _setuptools_config() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)["tool"]["setuptools"]


def _package_dir(package: str, package_dirs: dict[str, str]) -> Path:
    """Where setuptools takes `package` from (the longest package-dir mapping wins)."""
    parts = package.split(".")
    for i in range(len(parts), 0, -1):
        mapped = package_dirs.get(".".join(parts[:i]))
        if mapped is not None:
            return ROOT / mapped / Path(*parts[i:])
    return ROOT / Path(*parts)


def test_pyproject_lists_every_package_and_data_file() -> None:
    """The packages are listed by hand (the templates are mapped from the top-level
    `templates/`); a new subpackage, template folder or static file must not be left out."""
    config = _setuptools_config()
    listed = set(config["packages"])
    package_dirs = config.get("package-dir", {})
    data = config.get("package-data", {})
    shipped: set[Path] = set()
    for package in listed:
        directory = _package_dir(package, package_dirs)
        assert directory.is_dir(), f"{package}: no directory {directory}"
        files = [p for p in directory.iterdir() if p.is_file()]
        for path in files:
            if path.suffix == ".py" or any(
                fnmatch.fnmatch(path.name, pattern) for pattern in data.get(package, ())
            ):
                shipped.add(path.resolve())
    # Every file of the source packages and of templates/ is in the wheel.
    roots = [ROOT / s for s in SOURCES] + [ROOT / "templates"]
    for root in roots:
        for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
            if directory.name == "__pycache__" or not any(p.is_file() for p in directory.iterdir()):
                continue
            for path in directory.iterdir():
                if path.is_file() and path.suffix != ".pyc":
                    assert path.resolve() in shipped, f"{path.relative_to(ROOT)} not in the wheel"


CHECK = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    venv, data, repo = (Path(a).resolve() for a in sys.argv[1:4])
    import ebok, etl, portal
    for module in (ebok, etl, portal):
        where = Path(module.__file__).resolve()
        assert where.is_relative_to(venv), f"{module.__name__} from {where}"
    assert not any(p and Path(p).resolve() == repo for p in sys.path), sys.path

    from starlette.testclient import TestClient

    from ebok.settings import Settings
    from portal.accounts.mail import compose
    from portal.accounts.passwords import hash_password
    from portal.app import create_app
    from portal.web.templating import TEMPLATES_DIR

    assert TEMPLATES_DIR.resolve().is_relative_to(venv), TEMPLATES_DIR
    settings = Settings.from_env({}, data_dir=data, secret_key="wheel-test-key-0123456789abcdef")
    app = create_app(settings)
    premises_id = app.state.store.current().premises_ids()[0]
    password = "Kwiatowa-5-lokal-12"
    app.state.accounts.create(
        "jan", hash_password(password), [premises_id], must_change_password=False
    )
    with TestClient(app) as client:
        page = client.get("/login")
        assert page.status_code == 200 and "Zaloguj się" in page.text, page.text
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        signed_in = client.post(
            "/login",
            data={"login": "jan", "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303, signed_in.text
        overview = client.get(signed_in.headers["location"])
        assert overview.status_code == 200, overview.text
        assert "Saldo" in overview.text and premises_id in overview.text, overview.text
        english = client.get(signed_in.headers["location"] + "?lang=en")
        assert "Balance" in english.text and "PLN" in english.text, english.text
        css = client.get("/static/style.css")
        assert css.status_code == 200 and css.text.strip()
        slip = client.get(
            "/premises/" + premises_id.replace("/", "%2F") + "/slip.pdf",
            params={"amount": "12,34", "title": "Opłaty"},
        )
        assert slip.status_code == 200 and slip.content.startswith(b"%PDF"), slip.text
    message = compose(settings, "jan@example.pl", "Test", "password_reset",
                      {"login": "jan", "link": "http://x/password/reset/t", "valid_minutes": 60})
    assert "jan" in message.get_body(("plain",)).get_content()
    print("wheel ok")
    """
)


@pytest.mark.slow
def test_installed_wheel_renders_pages(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("EBOK_")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def run(*args, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(a) for a in args],
            cwd=tmp_path,  # outside the repository
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
        return done

    # Build from a copy, so that nothing (build/, *.egg-info) is written into the work tree.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path / "dist", source)
    [wheel] = (tmp_path / "dist").glob("ebok-*.whl")

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = Path(
        run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()
    )
    borrowed = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "borrowed-dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(borrowed)))
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel)

    # The wheel's own `ebok` command writes and publishes a small demo export.
    data = tmp_path / "data"
    export = tmp_path / "export"
    ebok = venv / "bin" / "ebok"
    run(
        ebok, "demo-data", "--out", export, "--communities", "1", "--premises", "3", "--months", "3"
    )
    run(ebok, "import", export, extra_env={"EBOK_DATA_DIR": str(data)})

    script = tmp_path / "check.py"
    script.write_text(CHECK)
    result = run(python, script, venv, data, ROOT)
    assert "wheel ok" in result.stdout
