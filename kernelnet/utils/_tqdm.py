"""The tqdm class for progress bars that are not Keras lines: a widget in Jupyter when
ipywidgets is there, else plain text, and never tqdm.auto's "IProgress not found" warning."""

from __future__ import annotations

import sys
from typing import Any


def _in_notebook_kernel() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def tqdm_class() -> Any:
    """`tqdm.notebook.tqdm` in a Jupyter kernel with ipywidgets, else `tqdm.std.tqdm`.

    NOTE: `tqdm.auto` picks the notebook bar in any kernel and warns with a TqdmWarning when
    ipywidgets is missing; plain text renders fine in Jupyter, so that case needs no warning.
    """
    if _in_notebook_kernel():
        try:
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm

            return tqdm
        except ImportError:
            pass
    from tqdm.std import tqdm

    return tqdm
