"""Pure, stateless NumPy math on NHWC arrays. Layers call these; nothing here holds weights.

All array code lives behind this boundary, so another array module (CuPy) could replace NumPy
here without touching the layers.
"""

from kernelnet.ops import nn
from kernelnet.ops.nn import log_softmax, softmax

__all__ = ["nn", "softmax", "log_softmax"]
