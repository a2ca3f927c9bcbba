"""kernelnet: readable NumPy convolutional neural networks with the Keras API."""

__version__ = "0.1.0"
