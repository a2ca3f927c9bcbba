"""Every script in examples/ runs in its short (--quick) mode and writes its pictures.

Scripts are loaded from their files and their `main(argv)` is called in-process, which is
faster than a subprocess per script and still exercises the script as users run it.
"""

import importlib.util
import pathlib

import pytest

pytest.importorskip("matplotlib")

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def run_example(name, *argv):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(list(argv))


def pngs(folder):
    return {p.name for p in folder.rglob("*.png") if p.stat().st_size > 500}


def test_conv_by_hand_matches_loop_and_draws_edges(tmp_path):
    magnitude = run_example("conv_by_hand", "--quick", "--out", str(tmp_path))
    assert magnitude.shape == (26, 26) and magnitude.max() > 1
    assert pngs(tmp_path) == {"sobel.png"}


def test_output_sizes_table(tmp_path):
    rows = run_example("output_sizes", "--quick", "--out", str(tmp_path))
    assert ("conv", 3, 2, "same", 14) in rows and ("max-pool", 3, 2, "valid", 13) in rows
    assert "output_sizes.png" in pngs(tmp_path)
    assert "| conv | 5 | 1 | valid | 24x24 |" in (tmp_path / "output_sizes.md").read_text()


def test_im2col_demo(tmp_path):
    naive_s, im2col_s = run_example("im2col_demo", "--quick", "--out", str(tmp_path))
    assert naive_s > 0 and im2col_s > 0
    assert pngs(tmp_path) == {"im2col.png"}


def test_lenet(tmp_path):
    accuracy = run_example("lenet", "--quick", "--out", str(tmp_path))
    assert accuracy > 0.3                         # 1 epoch on 1,000 digits; chance is 0.1
    assert pngs(tmp_path) == {"lenet_history.png", "lenet_confusion.png",
                              "lenet_kernels_c1.png"}


def test_cifar10_cnn(tmp_path):
    run_example("cifar10_cnn", "--quick", "--out", str(tmp_path))
    assert pngs(tmp_path) == {"augmented.png", "cifar10_history.png", "predictions.png"}
    assert (tmp_path / "cifar10_cnn.kn").is_file()


def test_folder_classifier(tmp_path):
    run_example("folder_classifier", "--quick", "--out", str(tmp_path))
    assert {p.name for p in (tmp_path / "photos").iterdir()} == {"circle", "square", "triangle"}
    assert {"augmented_batch.png", "history.png", "predictions.png"} <= pngs(tmp_path)


def test_visualize(tmp_path):
    heat = run_example("visualize", "--quick", "--out", str(tmp_path))
    assert heat.shape == (10, 10) and heat.min() >= 0   # LeNet-5: c3 is 10x10 and heat.max() <= 1
    assert pngs(tmp_path) == {"kernels.png", "feature_maps.png", "grad_cam.png"}


def test_mnist_cnn(tmp_path):
    accuracy = run_example("mnist_cnn", "--quick", "--verbose", "0", "--out", str(tmp_path))
    assert 0.5 <= accuracy <= 1
    assert {"mnist_cnn.kn", "history.json", "history.png"} <= {p.name for p in tmp_path.iterdir()}


def test_resnet_transfer(tmp_path, capsys):
    assert run_example("resnet_transfer", "--quick", "--out", str(tmp_path)) == 0
    assert (tmp_path / "resnet_transfer.kn").is_file()
    assert "Epoch 1/1" in capsys.readouterr().out          # progress, not two silent minutes


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.py")))
def test_every_example_has_out_and_a_whole_help_description(name, capsys):
    with pytest.raises(SystemExit):
        run_example(name, "--help")
    text = capsys.readouterr().out
    assert "--out" in text
    description = " ".join(text.split("\n\n")[1].split())
    assert description.endswith("."), description            # not cut mid-sentence
