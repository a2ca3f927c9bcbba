"""Callbacks for `fit()`, `evaluate()` and `predict()`, with Keras 3 names and defaults.

`fit()` builds a `CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, ...)`, so a
`History` (returned by `fit()`, also `model.history`) and a `ProgbarLogger` are always present.
"""

from kernelnet.callbacks.base import Callback, CallbackList, History, LambdaCallback
from kernelnet.callbacks.checkpoint import CSVLogger, ModelCheckpoint
from kernelnet.callbacks.learning_rate import LearningRateScheduler, ReduceLROnPlateau
from kernelnet.callbacks.monitoring import EarlyStopping, TerminateOnNaN
from kernelnet.callbacks.progbar_logger import ProgbarLogger
from kernelnet.callbacks.tensorboard import TensorBoard

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]
