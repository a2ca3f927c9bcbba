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


def cell_with(notebook, text):
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and text in c.source]
    return cell


def images(cell):
    return [o for o in outputs(cell) if "image/png" in o.get("data", {})]


def test_notebook_runs_with_progress_and_no_tqdm_warning(executed):
    streams = [o for c in executed.cells for o in outputs(c) if o["output_type"] == "stream"]
    assert not any("TqdmWarning" in o["text"] or "IProgress" in o["text"] for o in streams)
    fit_text = "".join(o["text"] for o in outputs(cell_with(executed, "model.fit")) if "text" in o)
    assert "Epoch 2/2" in fit_text and "val_loss" in fit_text


def test_plots_display_inline(executed):
    # history, kernels, feature maps, Grad-CAM: each shown once, as a PNG
    assert len(images(cell_with(executed, "vis.plot_history"))) == 4
    assert len(images(cell_with(executed, "vis.plot_images"))) == 1
    summary = "".join(o.get("text", "") for o in outputs(cell_with(executed, "model.summary")))
    assert "Total params: 61,706" in summary
