"""docs/tutorial.ipynb runs in a Jupyter kernel: progress as text without a TqdmWarning, and
every plotting call shows its picture inline."""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = pathlib.Path(__file__).resolve().parent.parent / "docs" / "tutorial.ipynb"


@pytest.fixture(scope="module")
def executed():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    return notebook


def outputs(cell):
    return cell.get("outputs", [])


def test_notebook_runs_with_progress_and_no_tqdm_warning(executed):
    streams = [o for c in executed.cells for o in outputs(c) if o["output_type"] == "stream"]
    assert not any("TqdmWarning" in o["text"] or "IProgress" in o["text"] for o in streams)
    fit_text = "".join(o["text"] for o in outputs(executed.cells[3]) if "text" in o)
    assert "Epoch 2/2" in fit_text and "val_loss" in fit_text


def test_plots_display_inline(executed):
    images = [o for o in outputs(executed.cells[4]) if "image/png" in o.get("data", {})]
    assert len(images) == 3                      # history, kernels, Grad-CAM: each once
