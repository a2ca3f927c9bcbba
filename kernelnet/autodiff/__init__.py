"""Automatic differentiation: tracked values, differentiable functions and the tape.

- `Tensor`, `Variable` (tensor.py): arrays with an identity the tape follows.
- `Function` (function.py): one op as a forward/backward pair with a per-call `Context`.
- `GradientTape`, `Context`, `record`, `stop_recording` (tape.py): define-by-run recording and
  the reverse walk.
"""

from kernelnet.autodiff.function import Function, unbroadcast
from kernelnet.autodiff.tape import (
    Context,
    GradientTape,
    record,
    recording,
    requires_grad,
    stop_recording,
)
from kernelnet.autodiff.tensor import (
    Tensor,
    Variable,
    convert_to_numpy,
    convert_to_tensor,
    is_tracked,
    unwrap,
)

__all__ = ["Context", "Function", "GradientTape", "Tensor", "Variable", "convert_to_numpy",
           "convert_to_tensor", "is_tracked", "record", "recording", "requires_grad",
           "stop_recording", "unbroadcast", "unwrap"]
