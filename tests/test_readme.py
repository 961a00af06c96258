"""The README's layout table is the map a new engineer starts from: it must match the tree."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE_ROOTS = ("ebok", "etl", "portal")


def _listed() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)/` \|", section, re.M)


def _packages() -> set[str]:
    """Every Python package with code of its own (data-only folders such as fonts excluded)."""
    found = set()
    for top in CODE_ROOTS:
        for init in (ROOT / top).rglob("__init__.py"):
            found.add(init.parent.relative_to(ROOT).as_posix())
    return found


def test_every_package_is_in_the_layout_table() -> None:
    missing = _packages() - set(_listed())
    assert not missing, f"README layout table lacks {sorted(missing)}"


def test_every_path_in_the_layout_table_exists_or_is_runtime_data() -> None:
    for path in _listed():
        assert path == "data" or (ROOT / path).is_dir(), f"README lists {path}/, not in the tree"
