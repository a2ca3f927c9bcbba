"""benchmarks/: the best-PyTorch selection, allocator environments and resizable architectures.

The benchmark itself needs PyTorch and minutes; these check its bookkeeping on made-up runs.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks"))

import archs  # noqa: E402
import run  # noqa: E402


def _run(train, infer, rss, faults=0.1):
    return {"train_ips": train, "infer_ips": infer, "peak_rss_mb": rss, "macs_per_image": 10,
            "train_faults_per_step": faults}


def test_best_pytorch_is_the_fastest_median_per_figure():
    kn = [_run(100, 1000, 50), _run(110, 1100, 50), _run(90, 900, 50)]
    th = {"stock": [_run(50, 500, 300, 18000.0)] * 3,
          "tcmalloc": [_run(120, 600, 400), _run(20, 600, 400), _run(130, 600, 400)],
          "jemalloc+channels_last": [_run(80, 2000, 200)] * 3}
    row = run.summarize("mnist_cnn", kn, th, peak=100.0)
    train, infer = row["train_ips"], row["infer_ips"]
    assert (train["best_config"], train["best"], train["kernelnet"]) == ("tcmalloc", 120, 100)
    assert train["ratio"] == pytest.approx(100 / 120)
    assert train["stock_ratio"] == pytest.approx(100 / 50)
    assert (infer["best_config"], infer["ratio"]) == ("jemalloc+channels_last", 0.5)
    # Memory against the configuration that was fastest at training.
    assert row["peak_rss_mb"]["config"] == "tcmalloc"
    assert row["peak_rss_mb"]["ratio"] == pytest.approx(50 / 400)
    text = run.table([row], {"peak": 100.0, "import_s": 0.2, "import_repeats": 5, "load": 0.5,
                             "missing": ["jemalloc"]})
    assert "120 (tcmalloc) | **0.83**" in text and "2000 (jemalloc+channels_last)" in text
    assert "Left out (allocator library not installed): jemalloc." in text
    assert "| stock | 50 / 500, 300 MB, 18000 faults |" in text


def test_inference_only_rows_compare_memory_with_the_best_inference_config():
    kn = [{"infer_ips": 20, "peak_rss_mb": 300, "macs_per_image": 10}]
    th = {"stock": [{"infer_ips": 10, "peak_rss_mb": 600}],
          "tcmalloc": [{"infer_ips": 25, "peak_rss_mb": 500}]}
    row = run.summarize("resnet50", kn, th, peak=100.0)
    assert row["train_ips"]["kernelnet"] is None and row["infer_ips"]["best_config"] == "tcmalloc"
    assert row["peak_rss_mb"]["ratio"] == pytest.approx(0.6)
    assert "| resnet50 | - | - | - | - | - |" in run.table([row], {
        "peak": 100.0, "import_s": 0.2, "import_repeats": 5, "load": 0.5, "missing": []})


def test_torch_config_environments(monkeypatch):
    monkeypatch.setattr(run, "find_library", lambda name: f"/lib/{name}")
    base = {"PATH": "/bin", "LD_PRELOAD": "/old.so", "MALLOC_TRIM_THRESHOLD_": "1"}
    assert run.torch_config_env("stock", base) == {"PATH": "/bin"}
    kept = run.torch_config_env("glibc-kept+channels_last", base)
    assert kept["MALLOC_MMAP_THRESHOLD_"] == "33554432" and "LD_PRELOAD" not in kept
    assert kept["MALLOC_TRIM_THRESHOLD_"] == "1073741824"
    tc = run.torch_config_env("tcmalloc+channels_last+compile", base)
    assert tc["LD_PRELOAD"] == "/lib/libtcmalloc_minimal.so.4"
    assert run.TORCH_CONFIGS["tcmalloc+channels_last+compile"][1] == ["--channels-last",
                                                                        "--compile"]
    monkeypatch.setattr(run, "find_library", lambda name: None)
    assert run.torch_config_env("jemalloc", base) is None


def test_size_free_architecture_resizes_and_fixed_ones_refuse():
    gap = archs.SIZE_FREE["gap_cnn"].resized(56, 16)
    assert (gap.input_shape, gap.train_batch, gap.infer_batch) == ((56, 56, 3), 16, 16)
    model = gap.build("kernelnet")
    assert model.compute_output_shape((2, 56, 56, 3)) == (2, 10)
    assert archs.ARCHS["mnist_cnn"].resized(batch=64).input_shape == (28, 28, 1)
    with pytest.raises(ValueError, match="fixed input size"):
        archs.ARCHS["mnist_cnn"].resized(56)


def test_profile_layers_walks_a_model_graph():
    # A graph with a residual Add (as ResNet50), not a chain: each node runs on its own inputs.
    import dataclasses

    import profile_layers

    from kernelnet import Input, Model, layers

    def residual():
        x = Input((8, 8, 3))
        h = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
        s = layers.Add()([layers.Conv2D(4, 3, padding="same")(h), h])
        return Model(x, layers.Dense(10)(layers.GlobalAveragePooling2D()(s)))

    arch = dataclasses.replace(archs.ARCHS["cifar10_cnn"], name="residual", input_shape=(8, 8, 3),
                               kernelnet=residual)
    rows = profile_layers.profile_kernelnet(arch, batch=2, repeats=1)
    types = [r["layer"].split(" (")[1].rstrip(")") for r in rows]
    assert types == ["Conv2D", "Conv2D", "Add", "GlobalAveragePooling2D", "Dense"]
    assert all(r["train_fwd_ms"] > 0 and r["infer_fwd_ms"] > 0 for r in rows)
