"""The model zoo, under Keras' names and module paths.

Keras applications (ImageNet-sized, Keras-compatible layer names, parameter counts and weight
files): `ResNet50` (`applications.resnet.ResNet50`), `VGG16` (`applications.vgg16.VGG16`), plus
`ResNet18`/`ResNet34` from the same block builder. Classic small nets: `LeNet5`, `MnistCNN`,
`Cifar10CNN`, `AlexNet` (small-image variant with LRN) and `SmallVGG`.
"""

from kernelnet.applications import (
    densenet,
    efficientnet,
    imagenet_utils,
    mobilenet_v2,
    resnet,
    resnet_v2,
    vgg16,
    vgg19,
    xception,
)
from kernelnet.applications.alexnet import AlexNet
from kernelnet.applications.densenet import DenseNet121, DenseNet169, DenseNet201
from kernelnet.applications.efficientnet import (
    EfficientNetB0,
    EfficientNetB1,
    EfficientNetB2,
    EfficientNetB3,
)
from kernelnet.applications.keras_examples import Cifar10CNN, MnistCNN
from kernelnet.applications.lenet import LeNet5
from kernelnet.applications.mobilenet_v2 import MobileNetV2
from kernelnet.applications.resnet import ResNet18, ResNet34, ResNet50, ResNet101, ResNet152
from kernelnet.applications.resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from kernelnet.applications.small_vgg import SmallVGG
from kernelnet.applications.vgg16 import VGG16
from kernelnet.applications.vgg19 import VGG19
from kernelnet.applications.xception import Xception

resnet50 = resnet  # Keras also exposes keras.applications.resnet50

__all__ = ["AlexNet", "Cifar10CNN", "DenseNet121", "DenseNet169", "DenseNet201", "EfficientNetB0",
           "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "LeNet5", "MnistCNN",
           "MobileNetV2", "ResNet101", "ResNet101V2", "ResNet152", "ResNet152V2", "ResNet18",
           "ResNet34", "ResNet50", "ResNet50V2", "SmallVGG", "VGG16", "VGG19", "Xception",
           "densenet", "efficientnet", "imagenet_utils", "mobilenet_v2", "resnet", "resnet50",
           "resnet_v2", "vgg16", "vgg19", "xception"]
