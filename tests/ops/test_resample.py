"""ops.resample: sampling against a direct loop, fill modes, resize, and the scatter backward."""

import math

import numpy as np
import pytest
from helpers import numerical_grad, rel_error

from kernelnet.ops import resample


def fill_index(i, size, mode):
    if 0 <= i < size:
        return i
    if mode == "constant":
        return None
    if mode == "nearest":
        return min(max(i, 0), size - 1)
    if mode == "wrap":
        return i % size
    i = i % (2 * size)
    return i if i < size else 2 * size - 1 - i


def naive_sample(x, ys, xs, interpolation, fill_mode, fill_value):
    n, h, w, c = x.shape
    out = np.zeros((*ys.shape, c))
    for b, i, j in np.ndindex(ys.shape):
        sy, sx = ys[b, i, j], xs[b, i, j]
        if interpolation == "nearest":
            taps = [(math.floor(sy + 0.5), math.floor(sx + 0.5), 1.0)]
        else:
            y0, x0 = math.floor(sy), math.floor(sx)
            wy, wx = sy - y0, sx - x0
            taps = [(y0, x0, (1 - wy) * (1 - wx)), (y0, x0 + 1, (1 - wy) * wx),
                    (y0 + 1, x0, wy * (1 - wx)), (y0 + 1, x0 + 1, wy * wx)]
        for ty, tx, wt in taps:
            py, px = fill_index(ty, h, fill_mode), fill_index(tx, w, fill_mode)
            value = fill_value if py is None or px is None else x[b, py, px]
            out[b, i, j] += wt * value
    return out


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
def test_sample_matches_loop_reference(rng, interpolation, fill_mode):
    x = rng.standard_normal((2, 5, 4, 3))
    ys = rng.uniform(-6, 10, size=(2, 3, 4))
    xs = rng.uniform(-6, 9, size=(2, 3, 4))
    y, _ = resample.sample(x, ys, xs, interpolation, fill_mode, fill_value=0.7)
    np.testing.assert_allclose(y, naive_sample(x, ys, xs, interpolation, fill_mode, 0.7),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fill_mode", ["reflect", "constant"])
def test_sample_backward_matches_finite_differences(rng, fill_mode):
    x = rng.standard_normal((2, 4, 5, 2))
    ys = rng.uniform(-2, 6, size=(2, 3, 3))
    xs = rng.uniform(-2, 6, size=(2, 3, 3))
    y, cache = resample.sample(x, ys, xs, "bilinear", fill_mode, 0.5)
    up = rng.standard_normal(y.shape)
    dx = resample.sample_backward(up, cache)
    num = numerical_grad(lambda: float(np.sum(resample.sample(x, ys, xs, "bilinear", fill_mode,
                                                               0.5)[0] * up)), x)
    assert rel_error(dx, num) < 1e-8


def test_resize_uses_half_pixel_centres():
    x = np.arange(4.0).reshape(1, 2, 2, 1)
    ys, xs = resample.resize_coordinates(1, (2, 2), (4, 4))
    y, _ = resample.sample(x, ys, xs, "bilinear", "nearest")
    # torch.nn.functional.interpolate(mode="bilinear", align_corners=False) gives these rows
    np.testing.assert_allclose(y[0, :, :, 0], [[0.0, 0.25, 0.75, 1.0], [0.5, 0.75, 1.25, 1.5],
                                               [1.5, 1.75, 2.25, 2.5], [2.0, 2.25, 2.75, 3.0]])


def test_identity_transform_is_identity(rng):
    x = rng.standard_normal((2, 5, 6, 3))
    t = np.tile([1.0, 0, 0, 0, 1.0, 0, 0, 0], (2, 1))
    ys, xs = resample.affine_coordinates(t, (5, 6))
    np.testing.assert_allclose(resample.sample(x, ys, xs)[0], x, atol=1e-12)


def test_bad_modes_are_named():
    x = np.zeros((1, 2, 2, 1))
    z = np.zeros((1, 1, 1))
    with pytest.raises(ValueError, match="fill_mode.*'mirrorr'"):
        resample.sample(x, z, z, fill_mode="mirrorr")
    with pytest.raises(ValueError, match="interpolation.*'cubic'"):
        resample.sample(x, z, z, interpolation="cubic")
