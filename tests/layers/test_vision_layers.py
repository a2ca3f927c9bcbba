"""The Keras 3 vision layers: forward against direct loops, backward against float64 finite
differences (by hand and through the tape), config round trips, and Keras' shapes and names."""

import numpy as np
import pytest
from helpers import check_layer_gradients
from reference import naive_conv2d

from kernelnet import layers
from kernelnet.layers import preprocessing


def naive_depthwise(x, k, strides, padding, dilation):
    c, m = k.shape[2:]
    out = [naive_conv2d(x[..., ci:ci + 1], k[:, :, ci:ci + 1, :], None, strides, padding,
                        dilation) for ci in range(c)]
    return np.concatenate(out, axis=-1)          # channel ci * m + q


def _roundtrip(layer, x):
    clone = layers.deserialize(layers.serialize(layer))
    clone(x)
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_allclose(clone(x), layer(x), rtol=1e-12)


@pytest.mark.parametrize("ks,m,s,padding,d", [
    (3, 1, 1, "same", 1), ((3, 2), 2, 2, "valid", 1), (3, 3, 1, "same", 2)])
def test_depthwise_conv2d(rng, float64, ks, m, s, padding, d):
    x = rng.standard_normal((2, 7, 6, 3))
    layer = layers.DepthwiseConv2D(ks, strides=s, padding=padding, depth_multiplier=m,
                                   dilation_rate=d, bias_initializer="random_normal")
    y = layer(x)
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    expected = naive_depthwise(x, layer.kernel.numpy(), s, padding, d) + layer.bias.numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    assert y.shape == layer.compute_output_shape(x.shape)
    check_layer_gradients(layer, x, rng)
    _roundtrip(layer, x)


@pytest.mark.parametrize("s,padding,m", [(1, "same", 1), (2, "valid", 2)])
def test_separable_conv2d(rng, float64, s, padding, m):
    x = rng.standard_normal((2, 7, 7, 3))
    layer = layers.SeparableConv2D(4, 3, strides=s, padding=padding, depth_multiplier=m,
                                   activation="tanh", bias_initializer="random_normal")
    y = layer(x)
    assert [w.name for w in layer.weights] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    h = naive_depthwise(x, layer.depthwise_kernel.numpy(), s, padding, 1)
    expected = np.tanh(naive_conv2d(h, layer.pointwise_kernel.numpy()) + layer.bias.numpy())
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    check_layer_gradients(layer, x, rng)
    _roundtrip(layer, x)


@pytest.mark.parametrize("groups,filters,s,padding", [(2, 6, 1, "same"), (3, 3, 2, "valid")])
def test_grouped_conv2d(rng, float64, groups, filters, s, padding):
    x = rng.standard_normal((2, 6, 7, 6))
    layer = layers.Conv2D(filters, 3, strides=s, padding=padding, groups=groups,
                          bias_initializer="random_normal")
    y = layer(x)
    k, cg, fg = layer.kernel.numpy(), 6 // groups, filters // groups
    assert k.shape == (3, 3, cg, filters)
    expected = np.concatenate([
        naive_conv2d(x[..., g * cg:(g + 1) * cg], k[..., g * fg:(g + 1) * fg], None, s, padding)
        for g in range(groups)], axis=-1) + layer.bias.numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    check_layer_gradients(layer, x, rng)
    _roundtrip(layer, x)
    assert layer.count_params() == 3 * 3 * cg * filters + filters


def naive_transpose(x, k, s, padding, output_padding):
    """Scatter of every input pixel times the kernel onto the full canvas, cropped as TF."""
    kh, kw, f, _ = k.shape
    n, h, w, _ = x.shape
    full = ((h - 1) * s + kh, (w - 1) * s + kw)
    canvas = np.zeros((n, *full, f))
    for i in range(h):
        for j in range(w):
            canvas[:, i * s:i * s + kh, j * s:j * s + kw] += np.einsum("abfc,nc->nabf", k,
                                                                       x[:, i, j])
    if output_padding is None:
        out = [size * s + (max(kk - s, 0) if padding == "valid" else 0)
               for size, kk in ((h, kh), (w, kw))]
    else:
        out = [(size - 1) * s + kk - 2 * (kk // 2 if padding == "same" else 0) + output_padding
               for size, kk in ((h, kh), (w, kw))]
    start = [max(fl - o, 0) // 2 if padding == "same" else 0 for fl, o in zip(full, out)]
    y = np.zeros((n, *out, f))
    part = canvas[:, start[0]:start[0] + out[0], start[1]:start[1] + out[1]]
    y[:, :part.shape[1], :part.shape[2]] = part
    return y


@pytest.mark.parametrize("s,padding,op", [(2, "same", None), (2, "valid", None),
                                          (3, "valid", 1), (1, "same", None)])
def test_conv2d_transpose(rng, float64, s, padding, op):
    x = rng.standard_normal((2, 3, 4, 2))
    layer = layers.Conv2DTranspose(3, 3, strides=s, padding=padding, output_padding=op,
                                   bias_initializer="random_normal")
    y = layer(x)
    assert layer.kernel.shape == (3, 3, 3, 2)
    expected = naive_transpose(x, layer.kernel.numpy(), s, padding, op) + layer.bias.numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    assert y.shape == layer.compute_output_shape(x.shape)
    check_layer_gradients(layer, x, rng)
    _roundtrip(layer, x)


@pytest.mark.parametrize("k,s,padding,d,groups", [
    (3, 1, "valid", 1, 1), (3, 2, "same", 1, 1), (2, 1, "causal", 2, 1), (3, 1, "same", 1, 2)])
def test_conv1d(rng, float64, k, s, padding, d, groups):
    x = rng.standard_normal((2, 9, 4))
    layer = layers.Conv1D(6, k, strides=s, padding=padding, dilation_rate=d, groups=groups,
                          bias_initializer="random_normal")
    y = layer(x)
    kernel = layer.kernel.numpy()
    assert kernel.shape == (k, 4 // groups, 6)
    if padding == "causal":
        xs, pad = np.pad(x, ((0, 0), (d * (k - 1), 0), (0, 0))), "valid"
    else:
        xs, pad = x, padding
    cg, fg = 4 // groups, 6 // groups
    expected = np.concatenate([
        naive_conv2d(xs[:, None, :, g * cg:(g + 1) * cg], kernel[None, ..., g * fg:(g + 1) * fg],
                     None, (1, s), pad, (1, d))[:, 0] for g in range(groups)], axis=-1)
    np.testing.assert_allclose(y, expected + layer.bias.numpy(), rtol=1e-10, atol=1e-12)
    assert y.shape == layer.compute_output_shape(x.shape)
    check_layer_gradients(layer, x, rng)
    _roundtrip(layer, x)


@pytest.mark.parametrize("cls,pool,s,padding", [
    (layers.MaxPooling1D, 2, None, "valid"), (layers.MaxPooling1D, 3, 2, "same"),
    (layers.AveragePooling1D, 3, 1, "same"), (layers.AveragePooling1D, 2, None, "valid")])
def test_pooling_1d(rng, float64, cls, pool, s, padding):
    x = rng.standard_normal((2, 9, 3))
    layer = cls(pool, strides=s, padding=padding)
    y = layer(x)
    step = s or pool
    if padding == "valid":
        windows = [x[:, i:i + pool] for i in range(0, 9 - pool + 1, step)]
    else:
        total = max((-(-9 // step) - 1) * step + pool - 9, 0)
        lo = total // 2
        windows = [x[:, max(i - lo, 0):i - lo + pool] for i in range(0, 9 + 2 * lo - pool + 1
                                                                      + (total - 2 * lo), step)]
    reduce = np.max if cls is layers.MaxPooling1D else np.mean
    expected = np.stack([reduce(w, axis=1) for w in windows], axis=1)[:, :y.shape[1]]
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    check_layer_gradients(layer, x, rng)


@pytest.mark.parametrize("cls,reduce", [(layers.GlobalAveragePooling1D, np.mean),
                                        (layers.GlobalMaxPooling1D, np.max)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_1d(rng, float64, cls, reduce, keepdims):
    x = rng.standard_normal((2, 7, 3))
    layer = cls(keepdims=keepdims)
    np.testing.assert_allclose(layer(x), reduce(x, axis=1, keepdims=keepdims), rtol=1e-12)
    check_layer_gradients(layer, x, rng)


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_group_normalization(rng, float64, groups):
    x = rng.standard_normal((2, 3, 4, 6)) * 3 + 1
    layer = layers.GroupNormalization(groups=groups, gamma_initializer="random_normal",
                                      beta_initializer="random_normal")
    y = layer(x)
    g = x.reshape(2, 12, groups, 6 // groups)
    mean = g.mean(axis=(1, 3), keepdims=True)
    var = g.var(axis=(1, 3), keepdims=True)
    expected = ((g - mean) / np.sqrt(var + 1e-3)).reshape(x.shape)
    expected = expected * layer.gamma.numpy() + layer.beta.numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-10)
    check_layer_gradients(layer, x, rng)
    _roundtrip(layer, x)


def test_group_normalization_rejects_indivisible_channels():
    with pytest.raises(ValueError, match=r"channels \(6\) must be a multiple of groups=4"):
        layers.GroupNormalization(groups=4)(np.ones((1, 2, 2, 6)))


@pytest.mark.parametrize("make", [
    lambda: layers.Identity(), lambda: layers.Rescaling(0.5, offset=-1.0),
    lambda: layers.Rescaling([1.0, 2.0, 3.0]),
    lambda: layers.Resizing(5, 7), lambda: layers.Resizing(3, 2, interpolation="nearest"),
    lambda: layers.Resizing(6, 4, crop_to_aspect_ratio=True),
    lambda: layers.Resizing(6, 6, pad_to_aspect_ratio=True, fill_value=0.5),
    lambda: layers.CenterCrop(3, 2), lambda: layers.CenterCrop(6, 8),
], ids=["identity", "rescaling", "rescaling-per-channel", "resizing", "resizing-nearest",
        "resizing-crop", "resizing-pad", "center-crop", "center-crop-upsample"])
def test_deterministic_preprocessing_gradients(rng, float64, make):
    x = rng.standard_normal((2, 5, 4, 3))
    layer = make()
    y = layer(x)
    assert y.shape == layer.compute_output_shape(x.shape)
    check_layer_gradients(layer, x, rng)
    _roundtrip(layer, x)


def test_center_crop_and_rescaling_values():
    x = np.arange(2 * 6 * 5 * 1, dtype=float).reshape(2, 6, 5, 1)
    np.testing.assert_array_equal(layers.CenterCrop(2, 3)(x), x[:, 2:4, 1:4])
    np.testing.assert_allclose(layers.Rescaling(1 / 255, offset=-1)(np.full((1, 1), 255.0)),
                               [[0.0]])
    single = layers.CenterCrop(2, 2)(x[0])          # one image without a batch axis
    np.testing.assert_array_equal(single, x[0, 2:4, 1:3])


def test_resizing_bilinear_matches_half_pixel_rule():
    x = np.arange(4.0).reshape(1, 2, 2, 1)
    y = layers.Resizing(4, 4)(x)[0, :, :, 0]
    # torch.nn.functional.interpolate(mode="bilinear", align_corners=False)
    np.testing.assert_allclose(y[0], [0.0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(y[:, 0], [0.0, 0.5, 1.5, 2.0])


def test_normalization_adapt_and_invert(rng):
    data = rng.standard_normal((50, 3)) * [1.0, 2.0, 3.0] + [1.0, -1.0, 5.0]
    layer = layers.Normalization()
    layer.adapt(data)
    out = layer(data)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    assert [w.name for w in layer.weights] == ["mean", "variance", "count"]
    assert layer.count_params() == 7 and not layer.trainable_weights
    back = layers.Normalization(mean=layer.mean.numpy(), variance=layer.variance.numpy(),
                                invert=True)(out)
    np.testing.assert_allclose(back, data, rtol=1e-5, atol=1e-5)


RANDOM = [
    lambda: layers.RandomFlip(seed=3),
    lambda: layers.RandomRotation(0.2, seed=3),
    lambda: layers.RandomRotation((-0.1, 0.3), fill_mode="constant", fill_value=0.5, seed=3),
    lambda: layers.RandomZoom(0.3, seed=3),
    lambda: layers.RandomZoom((-0.2, 0.4), (0.1, 0.2), fill_mode="wrap", seed=3),
    lambda: layers.RandomTranslation(0.2, (-0.3, 0.1), fill_mode="nearest", seed=3),
    lambda: layers.RandomCrop(3, 2, seed=3),
    lambda: layers.RandomContrast(0.4, value_range=(-10, 10), seed=3),
    lambda: layers.RandomBrightness(0.3, value_range=(-10, 10), seed=3),
]
RANDOM_IDS = ["flip", "rotation", "rotation-constant", "zoom", "zoom-wrap", "translation",
              "crop", "contrast", "brightness"]


@pytest.mark.parametrize("make", RANDOM, ids=RANDOM_IDS)
def test_random_layers_are_identity_at_inference_and_seeded_in_training(rng, make):
    x = rng.uniform(-5, 5, (3, 5, 6, 2)).astype("float32")
    layer = make()
    if isinstance(layer, layers.RandomCrop):
        assert layer(x).shape == (3, 3, 2, 2)     # inference: centred crop, resized
    else:
        np.testing.assert_array_equal(layer(x), x)
    a = make()(x, training=True)
    b = make()(x, training=True)
    np.testing.assert_array_equal(a, b)           # same seed, same draws
    assert a.dtype == np.float32
    assert not np.array_equal(a, layer(x, training=False)) or a.shape != x.shape
    _roundtrip(make(), x)


@pytest.mark.parametrize("make", RANDOM, ids=RANDOM_IDS)
def test_random_layers_backward_matches_finite_differences(rng, float64, make):
    from helpers import numerical_grad, rel_error

    from kernelnet.layers.base import context

    x = rng.uniform(-3, 3, (2, 5, 6, 2))
    layer = make()
    layer(x)                                        # build

    def run(ctx):
        layer._rng = np.random.default_rng(layer.seed)   # the same draws every time
        return layer.forward(ctx, x, training=True)

    ctx = context(x, training=True)
    y = run(ctx)
    up = rng.standard_normal(y.shape)
    dx, _ = layer.backward(ctx, up)
    num = numerical_grad(lambda: float(np.sum(run(None) * up)), x)
    assert rel_error(dx, num) < 1e-7


def test_rotation_by_a_quarter_turn_is_rot90():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    y = layers.RandomRotation((0.25, 0.25), seed=0)(x, training=True)
    np.testing.assert_allclose(y[0, :, :, 0], np.rot90(x[0, :, :, 0]), atol=1e-9)


def test_translation_by_whole_pixels_shifts_down_right():
    x = np.arange(20.0).reshape(1, 4, 5, 1)
    y = layers.RandomTranslation((0.25, 0.25), (0.2, 0.2), fill_mode="constant",
                                 interpolation="nearest", seed=0)(x, training=True)
    expected = np.zeros_like(x)
    expected[:, 1:, 1:] = x[:, :-1, :-1]
    np.testing.assert_allclose(y, expected)


def test_zoom_out_shrinks_and_flip_flips():
    x = np.ones((1, 9, 9, 1))
    y = layers.RandomZoom((1.0, 1.0), fill_mode="constant", seed=0)(x, training=True)
    assert y[0, 4, 4, 0] == 1 and y[0, 0, 0, 0] == 0       # zoom 2x out: corners empty
    img = np.arange(6.0).reshape(1, 2, 3, 1)
    flipped = layers.RandomFlip("horizontal", seed=0)
    outs = {tuple(flipped(img, training=True).ravel()) for _ in range(20)}
    assert outs == {tuple(img.ravel()), tuple(img[:, :, ::-1].ravel())}


def test_contrast_and_brightness_formulas():
    x = np.array([[[[0.0], [10.0]], [[20.0], [30.0]]]])     # mean 15
    layer = layers.RandomContrast((0.5, 0.5), seed=0)       # contrast in [0.5, 1.5]
    y = layer(x, training=True)
    factor = (y[0, 1, 1, 0] - 15) / 15
    assert 0.5 <= factor <= 1.5
    np.testing.assert_allclose(y, np.clip((x - 15) * factor + 15, 0, 255))
    b = layers.RandomBrightness((0.1, 0.1), value_range=(0, 1))(np.full((1, 2, 2, 1), 0.95),
                                                                  training=True)
    np.testing.assert_allclose(b, 1.0)                       # +0.1, clipped at 1


def test_noise_layers(rng):
    x = np.ones((4, 8, 8, 5))
    y = layers.SpatialDropout2D(0.5, seed=1)(x, training=True)
    maps = y.reshape(4, 64, 5)
    assert set(np.unique(maps)) <= {0.0, 2.0}
    assert (maps.min(axis=1) == maps.max(axis=1)).all()      # whole maps kept or dropped
    noisy = layers.GaussianNoise(0.5, seed=1)(np.zeros((2000, 10)), training=True)
    assert abs(noisy.std() - 0.5) < 0.02
    dropped = layers.GaussianDropout(0.2, seed=1)(np.ones((2000, 10)), training=True)
    assert abs(dropped.mean() - 1) < 0.02 and abs(dropped.std() - 0.5) < 0.02
    for layer in (layers.GaussianNoise(0.5), layers.GaussianDropout(0.2),
                  layers.SpatialDropout2D(0.3)):
        np.testing.assert_array_equal(layer(x), x)


@pytest.mark.parametrize("make, match", [
    (lambda: layers.Conv2D(5, 3, groups=2), "filters must be evenly divisible"),
    (lambda: layers.Conv2DTranspose(2, 3, strides=2, output_padding=2),
     "greater than output padding"),
    (lambda: layers.RandomRotation(0.2, fill_mode="mirrorr"), "fill_mode"),
    (lambda: layers.Resizing(4, 4, interpolation="lanczos5"), "interpolation"),
    (lambda: layers.RandomFlip("diagonal"), "mode"),
    (lambda: layers.RandomTranslation(1.5, 0.1), "height_factor"),
    (lambda: layers.RandomContrast(1.5), "factor"),
    (lambda: layers.Rescaling("x"), "scale"),
    (lambda: layers.Conv1D(4, 3, padding="full"), "padding"),
    (lambda: layers.RandomZoom(0.1, seed=-1), "seed"),
])
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_input_shapes_are_named():
    with pytest.raises(ValueError, match=r"channels"):
        layers.Conv2D(4, 3, groups=2)(np.ones((1, 5, 5, 3)))
    with pytest.raises(ValueError, match=r"expected.*ndim=3|\(batch, steps, channels\)"):
        layers.Conv1D(4, 3)(np.ones((2, 9)))
    layer = layers.DepthwiseConv2D(3)
    layer(np.ones((1, 5, 5, 2)))
    with pytest.raises(ValueError, match="built for inputs with 2 channels"):
        layer(np.ones((1, 5, 5, 3)))


def test_hard_swish_activation(rng, float64):
    from kernelnet import activations

    x = rng.uniform(-5, 5, 50)
    np.testing.assert_allclose(activations.hard_swish(x), x * np.clip(x + 3, 0, 6) / 6)
    assert activations.get("hard_silu").name == "hard_silu"


def test_image_classification_from_scratch_style_model_trains(rng):
    # keras.io's "image classification from scratch" pattern: augmentation, Rescaling, separable
    # residual blocks joined with layers.add, on a tiny generated problem
    from kernelnet import Input, Model

    inputs = Input((16, 16, 3))
    x = layers.RandomFlip("horizontal", seed=1)(inputs)
    x = layers.RandomRotation(0.1, seed=1)(x)
    x = layers.Rescaling(1.0 / 255)(x)
    x = layers.Conv2D(8, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous = x
    x = layers.SeparableConv2D(16, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    residual = layers.Conv2D(16, 1, strides=2, padding="same")(previous)
    x = layers.add([x, residual])
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.25)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = Model(inputs, outputs)
    images = rng.uniform(0, 60, (64, 16, 16, 3)).astype("float32")
    labels = rng.integers(0, 2, 64)
    images[labels == 1, :, :, 0] += 150                      # class 1: red
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(images, labels, batch_size=16, epochs=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert preprocessing.RandomFlip in {type(layer) for layer in model.layers}
