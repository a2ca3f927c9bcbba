"""Data preprocessing with Keras' interface: `kernelnet.preprocessing.image`."""

from kernelnet.preprocessing import image

__all__ = ["image"]
