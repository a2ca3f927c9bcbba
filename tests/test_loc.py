"""scripts/loc.py keeps `make test` quiet unless the core is over its line budget."""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_loc():
    spec = importlib.util.spec_from_file_location("loc", ROOT / "scripts" / "loc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_loc_prints_one_line_only_when_over_budget(capsys, monkeypatch):
    loc = load_loc()
    monkeypatch.setattr(loc, "BUDGET", 10**6)
    monkeypatch.setattr("sys.argv", ["loc.py"])
    assert loc.main() == 0 and capsys.readouterr().out == ""
    monkeypatch.setattr(loc, "BUDGET", 10)
    assert loc.main() == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "over its soft budget of 10" in out
    monkeypatch.setattr("sys.argv", ["loc.py", "--all"])
    loc.main()
    assert "models/model.py" in capsys.readouterr().out
