"""Every find in the services and the kit goes through ``convene_kit.store.find_all`` (or an
``AccountScopedCollection``, which calls it): a raw ``collection.find(...)`` cursor that is
iterated, abandoned or cancelled can stay open on the server and hold one of FerretDB's
PostgreSQL connections (tests/integration/test_store_wedge.py)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WRAPPERS = ("_scoped", "entries", "_entries")  # AccountScopedCollection attributes
ALLOWED = {ROOT / "shared/kit/src/convene_kit/store.py"}


def raw_finds(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "find"):
            receiver = ast.unparse(node.func.value)
            if not receiver.endswith(WRAPPERS):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {receiver}.find(...)")
    return found


def test_no_module_opens_a_cursor_of_its_own() -> None:
    sources = [p for pattern in ("services/*/src/**/*.py", "shared/*/src/**/*.py")
               for p in ROOT.glob(pattern) if p not in ALLOWED]
    assert len(sources) > 50, "the source tree was not found"
    offenders = [line for path in sources for line in raw_finds(path)]
    assert offenders == [], "use convene_kit.store.find_all:\n" + "\n".join(offenders)


def test_the_check_sees_a_raw_find(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("async def f(c):\n    return [d async for d in c.collection.find({})]\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert raw_finds(module) == ["m.py:2: c.collection.find(...)"]
    finally:
        ROOT = saved
