"""Exact parameter counts of the zoo models (no forward passes at 224x224).

Keras counts (ResNet50/101/152 and V2, VGG16/19, DenseNet121/169/201) are the documented Keras
numbers (the "without top" ones are those minus the classifier's 2048*1000+1000, 1024*1000+1000,
1664*1000+1000 or the three dense layers) and were re-checked with
`keras.applications.X(weights=None).count_params()` (Keras 3.15.1, torch backend). The small nets'
counts come from building the same layer stacks in Keras 3.15.1 and calling `count_params()`.
ResNet18/34 are torchvision's parameter counts (11,689,512 / 21,797,672) plus the BatchNormalization
moving mean and variance Keras counts as parameters (2 x 4,800 / 2 x 8,512 channels).
"""

import inspect

import pytest

from kernelnet import applications
from kernelnet.applications import resnet, vgg16

KERAS_COUNTS = [
    (applications.ResNet50, {}, 25_636_712),
    (applications.ResNet50, {"include_top": False}, 23_587_712),
    (applications.ResNet50, {"include_top": False, "pooling": "avg"}, 23_587_712),
    (applications.ResNet18, {}, 11_689_512 + 2 * 4_800),
    (applications.ResNet34, {}, 21_797_672 + 2 * 8_512),
    (applications.VGG16, {"include_top": False}, 14_714_688),
    (applications.VGG19, {"include_top": False}, 20_024_384),
    (applications.ResNet101, {}, 44_707_176),
    (applications.ResNet152, {"include_top": False}, 58_370_944),
    (applications.ResNet50V2, {}, 25_613_800),
    (applications.ResNet101V2, {"include_top": False}, 42_626_560),
    (applications.DenseNet121, {}, 8_062_504),
    (applications.MobileNetV2, {}, 3_538_984),
    (applications.MobileNetV2, {"include_top": False, "input_shape": (96, 96, 3)}, 2_257_984),
    (applications.MobileNetV2, {"alpha": 0.35, "input_shape": (128, 128, 3)}, 1_691_208),
    (applications.EfficientNetB0, {}, 5_330_571),
    (applications.EfficientNetB1, {"include_top": False}, 6_575_239),
    (applications.EfficientNetB2, {}, 9_177_569),
    (applications.EfficientNetB3, {"include_top": False}, 10_783_535),
    (applications.Xception, {}, 22_910_480),
    (applications.DenseNet169, {"include_top": False}, 12_642_880),
    (applications.LeNet5, {}, 61_706),
    (applications.LeNet5, {"input_shape": (32, 32, 1)}, 61_706),
    (applications.MnistCNN, {}, 1_199_882),
    (applications.Cifar10CNN, {}, 1_250_858),
    (applications.AlexNet, {}, 1_756_426),
    (applications.SmallVGG, {}, 550_570),
]


def _build(factory, kwargs):
    if "weights" in inspect.signature(factory).parameters:
        kwargs = {"weights": None, **kwargs}
    return factory(**kwargs)


@pytest.mark.parametrize(("factory", "kwargs", "expected"), KERAS_COUNTS,
                         ids=lambda v: getattr(v, "__name__", None) or str(v))
def test_param_counts_match_keras(factory, kwargs, expected):
    assert _build(factory, kwargs).count_params() == expected


@pytest.mark.slow
@pytest.mark.parametrize(("factory", "expected"), [
    (applications.VGG16, 138_357_544), (applications.VGG19, 143_667_240),
    (applications.ResNet152, 60_419_944), (applications.ResNet101V2, 44_675_560),
    (applications.ResNet152V2, 60_380_648), (applications.DenseNet169, 14_307_880),
    (applications.DenseNet201, 20_242_984),
])
def test_large_model_param_counts(factory, expected):
    # slow: glorot-initializing the big fully connected layers takes seconds
    assert factory(weights=None).count_params() == expected


def test_keras_module_paths_and_layer_names():
    assert resnet.ResNet50 is applications.ResNet50
    assert vgg16.VGG16 is applications.VGG16
    model = applications.ResNet50(weights=None)
    assert [layer.name for layer in model.layers][1:4] == ["conv1_pad", "conv1_conv", "conv1_bn"]
    for name in ("conv2_block1_0_conv", "conv2_block1_1_conv", "conv4_block6_3_bn",
                 "conv5_block3_out", "avg_pool", "predictions"):
        model.get_layer(name)
    assert model.compute_output_shape((None, 224, 224, 3)) == (None, 1000)


def test_resnet50_notop_output_shapes():
    model = applications.ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
    assert model.compute_output_shape((None, 64, 64, 3)) == (None, 2, 2, 2048)
    pooled = applications.ResNet50(weights=None, include_top=False, pooling="max",
                                   input_shape=(32, 32, 3))
    assert pooled.compute_output_shape((None, 32, 32, 3)) == (None, 2048)


@pytest.mark.parametrize("kwargs, match", [
    ({"weights": "nonexistent.h5"}, "The `weights` argument should be either"),
    ({"weights": "imagenet", "classes": 10}, "`classes` should be 1000"),
    ({"weights": None, "include_top": False, "input_shape": (16, 16, 3)},
     "Input size must be at least 32x32"),
    ({"weights": "imagenet", "input_shape": (64, 64, 3)}, "`input_shape` should be"),
])
def test_keras_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        applications.ResNet50(**kwargs)


def test_resnet18_has_no_imagenet_weights():
    with pytest.raises(ValueError, match="no ImageNet weights for resnet18"):
        applications.ResNet18(weights="imagenet")
