"""Standard datasets with Keras' `load_data()` interface: mnist, fashion_mnist, cifar10, cifar100.

Files are looked up under `$KERNELNET_HOME/datasets` (default `~/.kernelnet/datasets`) in the
formats their publishers distribute, and downloaded there (SHA-256 checked) when missing.
"""

from kernelnet.datasets import cifar10, cifar100, fashion_mnist, mnist

__all__ = ["cifar10", "cifar100", "fashion_mnist", "mnist"]
