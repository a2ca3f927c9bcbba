"""kernelnet.visualization: figures under Agg, saved files, and the numbers behind the pictures
(intermediate activations, Grad-CAM gradients vs finite differences)."""

import numpy as np
import pytest

from kernelnet import Input, Model, Sequential, layers
from kernelnet import visualization as vis
from kernelnet.visualization import probe
from tests.helpers import numerical_grad, rel_error

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402


def small_cnn(classes=3, activation="softmax"):
    return Sequential([
        layers.Input(shape=(8, 8, 1)),
        layers.Conv2D(4, 3, activation="tanh", name="conv_a"),
        layers.MaxPooling2D(2, name="pool"),
        layers.Flatten(name="flat"),
        layers.Dense(classes, activation=activation, name="out"),
    ])


def residual_cnn():
    inputs = Input(shape=(6, 6, 2))
    a = layers.Conv2D(3, 3, padding="same", activation="tanh", name="conv_a")(inputs)
    b = layers.Conv2D(3, 3, padding="same", activation="tanh", name="conv_b")(a)
    x = layers.Add(name="add")([a, b])
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return Model(inputs, layers.Dense(4, activation="softmax", name="out")(x))


def assert_png(path):
    assert path.exists() and path.stat().st_size > 500
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ probe: activations, gradients
def test_intermediate_outputs_match_layers_run_by_hand(rng):
    model = small_cnn()
    x = rng.standard_normal((2, 8, 8, 1)).astype("float32")
    taps = vis.intermediate_outputs(model, x, ["conv_a", "pool"])
    conv = model.get_layer("conv_a")
    np.testing.assert_allclose(taps["conv_a"], conv(x), rtol=1e-6)
    np.testing.assert_allclose(taps["pool"], model.get_layer("pool")(conv(x)), rtol=1e-6)
    np.testing.assert_allclose(taps["__output__"], model.predict(x, verbose=0), rtol=1e-6)


def test_intermediate_outputs_unknown_layer_lists_names():
    with pytest.raises(ValueError, match="no layer named 'nope'.*conv_a"):
        vis.intermediate_outputs(small_cnn(), np.zeros((1, 8, 8, 1)), ["nope"])


def test_class_score_gradient_matches_finite_differences_sequential(rng, float64):
    model = small_cnn()
    x = rng.standard_normal((8, 8, 1))
    model.predict(x[np.newaxis], verbose=0)
    act, grad, _ = probe.class_score_gradient(model, x, "conv_a", 1)
    pool, flat, dense = (model.get_layer(n) for n in ("pool", "flat", "out"))

    def logit():  # the class score before the softmax
        h = flat(pool(a))
        return float((h @ dense.kernel.value + dense.bias.value)[0, 1])

    a = act[np.newaxis].copy()
    assert rel_error(grad, numerical_grad(logit, a)[0]) < 1e-7


def test_class_score_gradient_matches_finite_differences_residual_graph(rng, float64):
    model = residual_cnn()
    x = rng.standard_normal((6, 6, 2))
    model.predict(x[np.newaxis], verbose=0)
    act, grad, _ = probe.class_score_gradient(model, x, "conv_a", 2)
    conv_b, add, gap, dense = (model.get_layer(n) for n in ("conv_b", "add", "gap", "out"))

    def logit():  # conv_a's output feeds conv_b and the Add: gradients must be summed
        h = gap(add([a, conv_b(a)]))
        return float((h @ dense.kernel.value + dense.bias.value)[0, 2])

    a = act[np.newaxis].copy()
    assert rel_error(grad, numerical_grad(logit, a)[0]) < 1e-7


def test_class_score_gradient_reaches_into_nested_model(rng, float64):
    backbone = Sequential([layers.Input(shape=(8, 8, 1)), layers.Conv2D(2, 3, name="inner"),
                           layers.Activation("tanh", name="act")], name="backbone")
    model = Sequential([layers.Input(shape=(8, 8, 1)), backbone, layers.Flatten(name="flat"),
                        layers.Dense(3, activation="softmax", name="out")])
    x = rng.standard_normal((8, 8, 1))
    act, grad, _ = probe.class_score_gradient(model, x, "inner", 0)
    np.testing.assert_allclose(act, backbone.get_layer("inner")(x[np.newaxis])[0])
    tanh, dense = backbone.get_layer("act"), model.get_layer("out")

    def logit():
        h = tanh(a).reshape(1, -1)
        return float((h @ dense.kernel.value + dense.bias.value)[0, 0])

    a = act[np.newaxis].copy()
    assert rel_error(grad, numerical_grad(logit, a)[0]) < 1e-7


def test_class_score_gradient_rejects_bad_class_index(rng):
    with pytest.raises(ValueError, match="Received: class_index=7"):
        probe.class_score_gradient(small_cnn(), np.zeros((8, 8, 1)), "conv_a", 7)


def test_input_gradient_and_saliency_map_match_finite_differences(rng, float64):
    model = small_cnn()
    x = rng.standard_normal((8, 8, 1))
    grad, k = probe.input_gradient(model, x, 2)
    conv, pool, flat, dense = (model.get_layer(n) for n in ("conv_a", "pool", "flat", "out"))
    img = x[np.newaxis].copy()

    def logit():  # the class score before the softmax
        h = flat(pool(conv(img)))
        return float((h @ dense.kernel.value + dense.bias.value)[0, 2])

    assert k == 2 and rel_error(grad, numerical_grad(logit, img)[0]) < 1e-7
    sal = vis.saliency_map(model, x, 2)
    assert sal.shape == (8, 8) and sal.max() == 1.0 and sal.min() >= 0
    np.testing.assert_allclose(sal, np.abs(grad[..., 0]) / np.abs(grad).max())


# ------------------------------------------------------------------ Grad-CAM
def test_grad_cam_on_linear_model_is_relu_of_the_input():
    # conv = identity 1x1, GAP, Dense with weights (+1, -1): class 0 likes bright pixels,
    # so its map is relu(x) / max; class 1 likes dark pixels: relu(-x) / max.
    inputs = Input(shape=(4, 5, 1))
    conv = layers.Conv2D(1, 1, use_bias=False, name="conv")
    out = layers.Dense(2, activation="softmax", name="out")
    model = Model(inputs, out(layers.GlobalAveragePooling2D()(conv(inputs))))
    conv.kernel[...] = 1.0
    out.kernel[...] = [[1.0, -1.0]]
    x = np.linspace(-1, 1, 20).reshape(4, 5, 1).astype("float32")
    np.testing.assert_allclose(vis.grad_cam(model, x, "conv", 0),
                               np.maximum(x[..., 0], 0) / 1.0, atol=1e-6)
    np.testing.assert_allclose(vis.grad_cam(model, x, "conv", 1),
                               np.maximum(-x[..., 0], 0) / 1.0, atol=1e-6)


def test_grad_cam_defaults_to_last_conv_and_is_in_unit_range(rng):
    heat = vis.grad_cam(residual_cnn(), rng.standard_normal((6, 6, 2)))
    assert heat.shape == (6, 6) and heat.min() >= 0 and heat.max() <= 1


def test_grad_cam_needs_a_conv_layer():
    model = Sequential([layers.Input(shape=(4, 4, 1)), layers.Flatten(), layers.Dense(2)])
    with pytest.raises(ValueError, match="no Conv2D layer"):
        vis.grad_cam(model, np.zeros((4, 4, 1)))


# ------------------------------------------------------------------ figures
def test_plot_history_returns_figure_and_saves(tmp_path):
    history = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.3, 0.6, 0.8]}
    fig = vis.plot_history(history, path=tmp_path / "h.png")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    lines = {line.get_label() for line in fig.axes[0].get_lines()}
    assert lines == {"loss", "val_loss"}
    assert_png(tmp_path / "h.png")


def test_plot_history_into_given_axes_and_from_json(tmp_path):
    import json

    (tmp_path / "h.json").write_text(json.dumps({"loss": [2.0, 1.0], "acc": [0.1, 0.2]}))
    fig = Figure()
    ax = fig.add_subplot()
    assert vis.plot_history(tmp_path / "h.json", ax=ax) is fig
    assert len(ax.get_lines()) == 2


def test_plot_history_unknown_metric():
    with pytest.raises(ValueError, match="Available keys: \\['loss'\\]"):
        vis.plot_history({"loss": [1.0]}, metrics=("accuracy",))


def test_plot_kernels_tiles_every_filter(tmp_path):
    model = small_cnn()
    fig = vis.plot_kernels(model, path=tmp_path / "k.png")
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (2 * 3 + 1, 2 * 3 + 1)     # 4 filters of 3x3 in a 2x2 grid, 1px gaps
    assert_png(tmp_path / "k.png")
    assert vis.plot_filters is vis.plot_kernels


def test_kernel_tiles_rgb_and_channel_selection(rng):
    from kernelnet.visualization.kernels import kernel_tiles

    kernel = rng.standard_normal((3, 3, 3, 5))
    assert kernel_tiles(kernel).shape == (5, 3, 3, 3)
    tiles = kernel_tiles(kernel, channel=1, max_filters=2)
    assert tiles.shape == (2, 3, 3) and tiles.min() == 0 and tiles.max() == 1


def test_plot_kernels_rejects_layer_without_kernel():
    with pytest.raises(ValueError, match="'pool' \\(MaxPooling2D\\) has no 4D kernel"):
        vis.plot_kernels(small_cnn(), layer_name="pool")


def test_plot_feature_maps_one_row_per_spatial_layer(tmp_path, rng):
    model = small_cnn()
    fig = vis.plot_feature_maps(model, rng.standard_normal((8, 8, 1)), path=tmp_path / "f.png")
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["conv_a: 6x6x4", "pool: 3x3x4"]
    assert_png(tmp_path / "f.png")


def test_plot_feature_maps_rejects_flat_layer(rng):
    with pytest.raises(ValueError, match="feature maps need a 4D output"):
        vis.plot_feature_maps(small_cnn(), rng.standard_normal((8, 8, 1)), "flat")


def test_plot_predictions_titles_show_correctness(tmp_path, rng):
    images = rng.random((3, 8, 8, 1))
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    fig = vis.plot_predictions(images, probs, ["a", "b", "c"], y_true=[0, 2, 2],
                               path=tmp_path / "p.png")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["a (true a)", "b (true c)", "c (true c)"]
    assert_png(tmp_path / "p.png")


def test_confusion_matrix_counts_and_plot(tmp_path):
    y_true, y_pred = [0, 0, 1, 2, 2, 2], np.eye(3)[[0, 1, 1, 2, 2, 0]]
    np.testing.assert_array_equal(vis.confusion_matrix(y_true, y_pred),
                                  [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    fig = vis.plot_confusion_matrix(y_true, y_pred, ["x", "y", "z"], path=tmp_path / "c.png")
    assert "accuracy 0.667" in fig.axes[0].get_title()
    assert_png(tmp_path / "c.png")


def test_plot_grad_cam_and_images(tmp_path, rng):
    model = small_cnn()
    fig = vis.plot_grad_cam(model, rng.random((8, 8, 1)), class_names=["a", "b", "c"],
                            path=tmp_path / "g.png")
    assert len(fig.axes[0].images) == 2 and "conv_a" in fig.axes[0].get_title()
    assert_png(tmp_path / "g.png")
    fig = vis.plot_images(rng.random((5, 8, 8, 3)), y=[0, 1, 0, 1, 1], class_names=["u", "v"])
    assert fig.axes[0].get_title() == "u v u v v"


def test_figures_never_touch_pyplot_state(rng):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    vis.plot_history({"loss": [1.0, 0.5]})
    vis.plot_kernels(small_cnn())
    assert plt.get_fignums() == before
