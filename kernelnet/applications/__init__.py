"""The model zoo, under Keras' names and module paths.

Keras applications (ImageNet-sized, Keras-compatible layer names, parameter counts and weight
files): `ResNet50` (`applications.resnet.ResNet50`), `VGG16` (`applications.vgg16.VGG16`), plus
`ResNet18`/`ResNet34` from the same block builder. Classic small nets: `LeNet5`, `MnistCNN`,
`Cifar10CNN`, `AlexNet` (small-image variant with LRN) and `SmallVGG`.
"""

from kernelnet.applications import imagenet_utils, resnet, vgg16
from kernelnet.applications.alexnet import AlexNet
from kernelnet.applications.keras_examples import Cifar10CNN, MnistCNN
from kernelnet.applications.lenet import LeNet5
from kernelnet.applications.resnet import ResNet18, ResNet34, ResNet50
from kernelnet.applications.small_vgg import SmallVGG
from kernelnet.applications.vgg16 import VGG16

resnet50 = resnet  # Keras also exposes keras.applications.resnet50

__all__ = ["AlexNet", "Cifar10CNN", "LeNet5", "MnistCNN", "ResNet18", "ResNet34", "ResNet50",
           "SmallVGG", "VGG16", "imagenet_utils", "resnet", "resnet50", "vgg16"]
