"""Your own images end to end: train on an image folder (mixed formats, sizes and modes, one
broken file), the saved model on raw images in a fresh process, `kcnn predict`, `kcnn evaluate`
with top-5, per-class scores and TTA, and `kcnn export` loaded back by each runtime. One trained
run (LeNet-5 at 32x32, two epochs) serves every test."""

import contextlib
import io
import json
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from _scripts import make_photos  # tests/ is on pytest's pythonpath

import kcnn
import kcnn.training
from kcnn import cli
from kcnn.training import deploy, evaluation, export

pytestmark = pytest.mark.tf_only


@pytest.fixture(scope="session")
def photo_run(tmp_path_factory):
    """(RunResult, printed output, folder): LeNet-5 trained on 2 x 10 photo crops plus a
    truncated JPEG."""
    root = tmp_path_factory.mktemp("images") / "photos"
    make_photos(root, per_class=10, max_size=80)
    good = (root / "china" / "china_000.jpg").read_bytes()
    (root / "china" / "broken.jpg").write_bytes(good[: len(good) // 3])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = kcnn.training.train(
            model="lenet5", dataset=str(root), epochs=2, batch_size=8, seed=0, verbose=2,
            run_dir=str(root.parent / "run"), precision="float32",  # tight tolerances below
        )
    return result, out.getvalue(), root


def test_trains_on_a_folder_and_reports_the_broken_file(photo_run):
    result, printed, root = photo_run
    run = pathlib.Path(result.run_dir)
    assert f"skipped 1 unreadable file(s) in {root}: {root / 'china' / 'broken.jpg'}" in printed
    assert json.loads((run / "classes.json").read_text()) == ["china", "flower"]
    metrics = result.metrics
    assert metrics["test_examples"] == 4 and metrics["input_shape"] == [32, 32, 3]
    assert metrics["starting_weights"] == "random" and metrics["stages"][0]["name"] == "all"
    assert metrics["test_top5_accuracy"] == 1.0  # two classes: always in the top 5
    assert set(metrics["test_per_class"]) >= {"china", "flower", "macro avg"}
    assert metrics["test_per_class"]["china"]["support"] == 2
    assert len(result.test_files) == 4 and all(str(root) in f for f in result.test_files)
    model = kcnn.load_model(run / "model.keras", compile=False)
    assert model.input_shape == (None, None, None, 3)  # raw images of any size
    assert [layer.name for layer in model.layers[:3]] == ["image", "resize", "normalize"]


def test_reloaded_model_on_raw_files_equals_the_trainers_test_predictions(photo_run):
    """A fresh process with Keras and Pillow only: decode each test file, predict, compare."""
    result, _, _ = photo_run
    code = textwrap.dedent("""
        import json, sys
        import numpy as np
        import keras
        from PIL import Image
        model = keras.saving.load_model(sys.argv[1])
        out = []
        for path in sys.argv[2:]:
            image = np.asarray(Image.open(path).convert("RGB"))  # raw uint8, own size
            out.append(model.predict(image[None], verbose=0)[0].tolist())
        print(json.dumps(out))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(pathlib.Path(result.run_dir) / "model.keras"),
         *result.test_files],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    fresh = np.array(json.loads(proc.stdout.splitlines()[-1]))
    trainer = result.test_probabilities
    np.testing.assert_array_equal(fresh.argmax(-1), trainer.argmax(-1))
    np.testing.assert_allclose(fresh, trainer, atol=1e-5, rtol=0)


def test_predict_command_on_files_and_folders(photo_run, capsys):
    result, _, root = photo_run
    assert cli.main(["predict", result.run_dir, *result.test_files, "--top", "2", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["path"] for line in lines] == list(result.test_files)
    for line, probs in zip(lines, result.test_probabilities):
        names = [p["class"] for p in line["predictions"]]
        assert names[0] == ("china", "flower")[int(probs.argmax())] and len(names) == 2
        assert abs(line["predictions"][0]["probability"] - float(probs.max())) < 1e-5
    model_file = str(pathlib.Path(result.run_dir) / "model.keras")
    assert cli.main(["predict", model_file, str(root / "flower"), "--top", "1"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 10  # every image of the folder, one line each, its top class
    assert all(ln.startswith(str(root / "flower")) and ln.count("%") == 1 for ln in table)


@pytest.mark.parametrize("args, message", [
    (["predict", "{run}", "{root}/missing.jpg"], "missing.jpg: no such file"),
    (["predict", "{run}", "{root}/china/broken.jpg"], "broken.jpg: unreadable image"),
    (["predict", "{root}/not-a-run", "{root}/china/china_000.jpg"], "not-a-run does not exist"),
    (["predict", "{run}", "{root}/china/china_000.jpg", "--top", "0"], "--top must be"),
    (["evaluate", "{run}", "--tta", "sideways"], "invalid choice: 'sideways'"),
    (["evaluate", "{root}"], "is not a finished kcnn run"),
    (["export", "{run}", "--format", "caffe"], "invalid choice: 'caffe'"),
    (["export", "{root}/not-a-run", "--format", "onnx"], "not-a-run does not exist"),
])
def test_bad_input_is_one_line_and_exit_status_2(photo_run, capsys, args, message):
    result, _, root = photo_run
    try:
        status = cli.main([a.format(run=result.run_dir, root=root) for a in args])
    except SystemExit as exit:  # argparse's own errors
        status = exit.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_evaluate_scores_and_test_time_augmentation(photo_run):
    result, _, _ = photo_run
    plain = evaluation.evaluate(result.run_dir)
    member = plain["members"][0]
    assert member["accuracy"] == result.metrics["test_accuracy"]
    assert member["per_class"] == result.metrics["test_per_class"]

    model = kcnn.load_model(pathlib.Path(result.run_dir) / "model.keras", compile=False)
    test, _ = evaluation.load_test(result.config, (32, 32, 3), 8)
    images = np.concatenate([x for x, _ in test.as_numpy_iterator()])
    flipped = evaluation.evaluate(result.run_dir, tta="flip")["ensemble"]
    expected = (model.predict(images, verbose=0) + model.predict(images[:, :, ::-1], verbose=0)) / 2
    accuracy, loss = evaluation.score(expected, np.array([0, 0, 1, 1]))
    assert flipped["accuracy"] == accuracy and abs(flipped["loss"] - loss) < 1e-5

    big, _ = evaluation.load_test(result.config, (32, 32, 3), 8, image_size=(37, 37))
    probs, labels = evaluation.predict(model, big, tta="ten-crop", crop_size=(32, 32))
    large = np.concatenate([x for x, _ in big.as_numpy_iterator()])
    crops = [large[:, t:t + 32, s:s + 32] for t, s in ((0, 0), (0, 5), (5, 0), (5, 5), (2, 2))]
    views = crops + [c[:, :, ::-1] for c in crops]
    np.testing.assert_allclose(
        probs, np.mean([model.predict(v, verbose=0) for v in views], 0), atol=1e-6)
    assert labels.tolist() == [0, 0, 1, 1]
    assert evaluation.evaluate(result.run_dir, tta="ten-crop")["tta"] == "ten-crop"


def test_top5_and_per_class_scores_with_many_classes():
    rng = np.random.RandomState(0)
    probs = rng.dirichlet(np.ones(8), size=50).astype("float32")
    labels = rng.randint(0, 8, 50)
    scores = evaluation.scores(probs, labels, [f"c{i}" for i in range(8)])
    top5 = np.mean([label in np.argsort(-p)[:5] for p, label in zip(probs, labels)])
    assert scores["top5_accuracy"] == pytest.approx(top5)
    predicted = probs.argmax(-1)
    hits = (predicted == 3) & (labels == 3)
    assert scores["per_class"]["c3"]["recall"] == pytest.approx(hits.sum() / (labels == 3).sum(),
                                                                abs=1e-6)
    assert scores["per_class"]["c3"]["precision"] == pytest.approx(
        hits.sum() / max(1, (predicted == 3).sum()), abs=1e-6)


@pytest.mark.parametrize("format", ["savedmodel", "onnx", "litert"])
def test_export_loads_back_with_its_runtime_and_matches_keras(photo_run, tmp_path, format):
    result, _, _ = photo_run
    suffix = export.SUFFIX[format]
    out = export.export(result.run_dir, format, path=str(tmp_path / f"model{suffix}"))
    assert out["max_abs_difference"] < 1e-5 and out["input_shape"] == [32, 32, 3]
    assert pathlib.Path(out["path"]).exists()


def test_a_bfloat16_model_exports_computing_in_float32(tmp_path):
    """ONNX Runtime and LiteRT have no bfloat16 convolutions: a run trained with
    --precision mixed_bfloat16 (auto on CPUs with AMX-BF16 or AVX512_BF16) exports in float32."""
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        network = kcnn.models.lenet5(input_shape=(32, 32, 3), num_classes=2)
    finally:
        keras.config.set_dtype_policy("float32")
    model = deploy.with_preprocessing(network, image_size=(32, 32))
    model.save(tmp_path / "model.keras")
    copy = export.in_float32(model)
    assert {layer.dtype_policy.compute_dtype for layer in export._every_layer(copy)} == {"float32"}
    for mine, theirs in zip(copy.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    images = np.random.RandomState(1).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(copy.predict(images, verbose=0), model.predict(images, verbose=0),
                               atol=2e-2)  # bfloat16 keeps 8 bits of mantissa
    for format, suffix in (("onnx", ".onnx"), ("litert", ".tflite")):
        out = export.export(str(tmp_path / "model.keras"), format, path=str(tmp_path / f"m{suffix}"))
        assert out["max_abs_difference"] < 1e-5


def test_export_names_the_package_to_install_when_a_converter_is_missing(photo_run, monkeypatch):
    result, _, _ = photo_run
    real = export.importlib.util.find_spec
    monkeypatch.setattr(export.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    with pytest.raises(ValueError, match=r"needs the package\(s\) tf2onnx: pip install tf2onnx"):
        export.export(result.run_dir, "onnx")
