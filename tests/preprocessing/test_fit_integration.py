"""The data contract with Model.fit/evaluate/predict: iterators are Keras Sequences."""

import numpy as np
from PIL import Image

from kernelnet import layers, models
from kernelnet.preprocessing.image import ImageDataGenerator


def test_fit_evaluate_predict_on_directory_iterators(tmp_path, rng):
    for c in ("cats", "dogs"):
        (tmp_path / c).mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(
                tmp_path / c / f"{i}.jpg")
    gen = ImageDataGenerator(rescale=1 / 255, horizontal_flip=True, validation_split=0.5)
    train = gen.flow_from_directory(str(tmp_path), target_size=(6, 6), batch_size=4,
                                    class_mode="binary", subset="training", seed=0)
    val = gen.flow_from_directory(str(tmp_path), target_size=(6, 6), batch_size=4,
                                  class_mode="binary", subset="validation", shuffle=False)
    model = models.Sequential([layers.Input((6, 6, 3)), layers.Flatten(),
                               layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(train, epochs=2, steps_per_epoch=len(train), validation_data=val,
                        validation_steps=len(val), verbose=0)
    assert len(history.history["val_loss"]) == 2 and train.epoch == 2
    assert len(model.evaluate(val, verbose=0)) == 2
    rows = val.labelled_predictions(model.predict(val, verbose=0))
    assert [r[0] for r in rows] == val.filenames and {r[1] for r in rows} <= {"cats", "dogs"}
