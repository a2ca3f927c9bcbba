"""The wheel carries the license and the typing marker; the API reference builds."""

import pathlib
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_wheel_contains_license_and_py_typed(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("kernelnet-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "kernelnet/py.typed" in names
    (license_file,) = [n for n in names if n.endswith("/LICENSE")]
    text = zipfile.ZipFile(wheel).read(license_file).decode()
    assert text.startswith("MIT License")
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    meta = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Classifier: License :: OSI Approved :: MIT License" in meta
    assert "Classifier: Typing :: Typed" in meta


def test_api_reference_builds_from_docstrings(tmp_path):
    subprocess.run([sys.executable, "-m", "pdoc", "kernelnet", "--docformat", "google", "-o",
                    str(tmp_path)], check=True, capture_output=True, cwd=ROOT)
    models = (tmp_path / "kernelnet" / "models.html").read_text()
    assert "Sequential" in models and 'id="Model.export"' in models
    assert (tmp_path / "kernelnet" / "layers.html").is_file()
    assert "Conv2D" in (tmp_path / "kernelnet" / "layers.html").read_text()
