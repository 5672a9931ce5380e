"""Hostile arguments to the `kcnn` commands: each ends in exit status 2 and exactly one line on
stderr that says what was wrong (or in exit status 0 where the command should work).

The table covers non-finite and out-of-range numbers; paths that are files, folders, missing,
unwritable, or that contain spaces and non-ASCII letters; and broken or mismatched model files
(empty, truncated, random bytes, a model copied from another run, code that safe mode refuses).
Every row calls `kcnn.cli.main` in this process, so the whole table runs in seconds.
"""

import json
import os
import shutil
import tempfile
import zipfile

import keras
import numpy as np
import pytest
from PIL import Image

import kcnn
from kcnn.cli import main
from kcnn.training import deploy

UNICODE = "ü space ü"  # a folder name with spaces and non-ASCII letters


def _run_dir(folder, *, classes=10, channels=1, class_count=None):
    """A run directory as `kcnn train` leaves it: LeNet-5 behind its Resizing layer, config.json
    and classes.json (with `class_count` names, default `classes`)."""
    os.makedirs(folder)
    network = kcnn.models.lenet5(num_classes=classes, input_shape=(32, 32, channels))
    deploy.with_preprocessing(network, image_size=(32, 32)).save(folder / "model.keras")
    (folder / "config.json").write_text(json.dumps(
        {"model": "lenet5", "dataset": "digits", "seed": 0, "validation_split": 0.1}))
    deploy.save_class_names(folder, [str(i) for i in range(class_count or classes)])
    return folder


def _copy_run(source, folder, **replace):
    """A copy of a run directory with some files replaced ({name: bytes, or None to make
    the name a folder})."""
    shutil.copytree(source, folder)
    for name, content in replace.items():
        name = name.replace("_", ".")
        os.remove(folder / name)
        if content is None:
            os.makedirs(folder / name)
        else:
            (folder / name).write_bytes(content)
    return folder


def _rewrite(model_file, out, changes):
    """A copy of a .keras archive with some members changed ({name: function of its bytes})."""
    with zipfile.ZipFile(model_file) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    for name, change in changes.items():
        files[name] = change(files[name])
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out


def _calls(module, name):
    """config.json bytes -> the same, with each Lambda layer's function set to `module.name`."""
    def change(data):
        config = json.loads(data)
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Lambda":
                layer["config"]["function"] = {"module": module, "class_name": "function",
                                               "config": name, "registered_name": "function"}
        return json.dumps(config).encode()
    return change


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Every file the table names, built once."""
    root = tmp_path_factory.mktemp("hostile")
    keras.utils.set_random_seed(0)
    run = _run_dir(root / "run")
    good = (run / "model.keras").read_bytes()
    _run_dir(root / "copied", classes=10, class_count=3)  # model.keras from a 10-class run
    _run_dir(root / "rgb", channels=3)  # a 3-channel model in a run on greyscale digits
    _copy_run(run, root / "truncated", model_keras=good[: len(good) // 2])
    _copy_run(run, root / "bad config", config_json=b"{not json")
    _copy_run(run, root / "unknown setting", config_json=b'{"model": "lenet5", "colour": 1}')
    _copy_run(run, root / "bad classes", classes_json=b'["0", "1"')
    _copy_run(run, root / "model folder", model_keras=None)
    _copy_run(run, root / "readonly")
    os.makedirs(root / "not a run")
    os.makedirs(root / "empty folder")
    os.makedirs(root / "folder.png")
    (root / "truncated.keras").write_bytes(good[: len(good) // 2])
    (root / "random.keras").write_bytes(np.random.default_rng(0).bytes(5000))
    (root / "empty.keras").write_bytes(b"")
    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)).save(root / "lambda.keras")
    _rewrite(root / "lambda.keras", root / "system.keras", {"config.json": _calls("os", "system")})
    _rewrite(run / "model.keras", root / "bad weights.keras",
             {"model.weights.h5": lambda data: data[: len(data) // 2]})
    _rewrite(run / "model.keras", root / "bad config.keras", {"config.json": lambda _: b"{oops"})
    Image.fromarray(np.arange(400, dtype=np.uint8).reshape(20, 20)).save(root / "digit.png")
    (root / "notes.png").write_text("not an image")
    os.makedirs(root / UNICODE)
    shutil.copytree(run, root / UNICODE / "rün 1")
    shutil.copy(root / "digit.png", root / UNICODE / "böse bild.png")
    return root


@pytest.fixture
def readonly(root, monkeypatch):
    """root/readonly made read-only. Root ignores file modes, so for root the folder's
    `tempfile.mkstemp` (kcnn's write check) and `os.makedirs` fail as they would for a user."""
    folder = str(root / "readonly")
    os.chmod(folder, 0o555)
    if os.geteuid() == 0:
        real_mkstemp, real_makedirs = tempfile.mkstemp, os.makedirs

        def refused(path):
            if os.path.abspath(path).startswith(folder):
                raise PermissionError(13, "Permission denied", path)

        def mkstemp(*args, dir=None, **kwargs):
            refused(os.path.join(dir or ".", "x"))
            return real_mkstemp(*args, dir=dir, **kwargs)

        def makedirs(path, *args, **kwargs):
            refused(path)
            return real_makedirs(path, *args, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        monkeypatch.setattr(os, "makedirs", makedirs)
    yield folder
    os.chmod(folder, 0o755)


def tf_only(*row):
    return pytest.param(*row, marks=pytest.mark.tf_only)


R = "{root}"
U = f"{R}/{UNICODE}"
# (argv, expected exit status, a fragment of the one stderr line (status 2) or of stdout (0))
ROWS = [
    # predict: the model
    (["predict", f"{R}/missing", f"{R}/digit.png"], 2, "missing does not exist"),
    (["predict", f"{R}/not a run", f"{R}/digit.png"], 2,
     "not a run is not a finished kcnn run (no model.keras)"),
    (["predict", f"{R}/notes.png", f"{R}/digit.png"], 2,
     "expected a run directory or a .keras model file"),
    (["predict", f"{R}/model folder", f"{R}/digit.png"], 2,
     "model.keras is a directory, not a .keras model file"),
    (["predict", f"{R}/truncated.keras", f"{R}/digit.png"], 2,
     "truncated.keras is not a valid .keras file (truncated?)"),
    (["predict", f"{R}/random.keras", f"{R}/digit.png"], 2,
     "random.keras is not a valid .keras file (truncated?)"),
    (["predict", f"{R}/empty.keras", f"{R}/digit.png"], 2,
     "empty.keras is not a valid .keras file (it is empty)"),
    (["predict", f"{R}/truncated", f"{R}/digit.png"], 2,
     "model.keras is not a valid .keras file (truncated?)"),
    (["predict", f"{R}/copied", f"{R}/digit.png"], 2, "model.keras has 10 outputs, classes.json "
     "lists 3"),
    (["predict", f"{R}/lambda.keras", f"{R}/digit.png"], 2,
     "refused by safe mode: it would run code (Python lambda layer)"),
    (["predict", f"{R}/system.keras", f"{R}/digit.png"], 2,
     "refused by safe mode: it would run code (module-function layer): layer 'lambda' calls "
     "os.system"),
    (["predict", f"{R}/bad classes", f"{R}/digit.png"], 2, "classes.json is not valid JSON"),
    (["predict", f"{R}/bad weights.keras", f"{R}/digit.png"], 2,
     "bad weights.keras is not a valid .keras file (its weights cannot be read"),
    (["predict", f"{R}/bad config", f"{R}/digit.png"], 0, "digit.png: "),  # needs no config
    # predict: the images and numbers
    (["predict", f"{R}/run", f"{R}/missing.png"], 2, "missing.png: no such file or folder"),
    (["predict", f"{R}/run", f"{R}/empty folder"], 2, "no JPEG, PNG, BMP or GIF files"),
    (["predict", f"{R}/run", f"{R}/notes.png"], 2, "notes.png: not a JPEG, PNG, BMP or GIF"),
    (["predict", f"{R}/run", f"{R}/digit.png", "--top", "0"], 2, "--top must be an integer >= 1"),
    (["predict", f"{R}/run", f"{R}/digit.png", "--top", "nan"], 2,
     "argument --top: invalid int value: 'nan'"),
    (["predict", f"{R}/run", f"{R}/digit.png", "--top", "-3"], 2, "--top must be an integer >= 1"),
    (["predict", f"{R}/run", f"{R}/digit.png", "--top", "1000000"], 0, "digit.png: "),
    (["predict", f"{U}/rün 1", f"{U}/böse bild.png"], 0, "böse bild.png: "),
    (["predict", f"{U}/rün 1/model.keras", f"{U}"], 0, "böse bild.png: "),
    # evaluate
    tf_only(["evaluate", f"{R}/missing"], 2, "missing does not exist"),
    tf_only(["evaluate", f"{R}/digit.png"], 2, "digit.png is a file, not a run directory"),
    tf_only(["evaluate", f"{R}/not a run"], 2, "is not a finished kcnn run (no config.json)"),
    tf_only(["evaluate", f"{R}/copied"], 2, "model.keras has 10 outputs, classes.json lists 3"),
    tf_only(["evaluate", f"{R}/rgb"], 2,
            "model.keras takes 3-channel images, but the run's data set digits has 1"),
    tf_only(["evaluate", f"{R}/truncated"], 2, "model.keras is not a valid .keras file"),
    tf_only(["evaluate", f"{R}/bad config"], 2, "config.json is not valid JSON (line 1"),
    tf_only(["evaluate", f"{R}/unknown setting"], 2, "unknown training setting(s) colour"),
    tf_only(["evaluate", f"{R}/run", "--batch-size", "0"], 2, "batch size must be >= 1, got 0"),
    tf_only(["evaluate", f"{R}/run", "--batch-size", "-5"], 2, "batch size must be >= 1, got -5"),
    tf_only(["evaluate", f"{R}/run", "--batch-size", "nan"], 2,
            "argument --batch-size: invalid int value: 'nan'"),
    tf_only(["evaluate", f"{R}/run", "--tta", "inf"], 2, "argument --tta: invalid choice"),
    tf_only(["evaluate", f"{R}/run", "--batch-size", "100000000"], 0,
            "digits test split, 360 images"),
    tf_only(["evaluate", f"{U}/rün 1"], 0, "rün 1"),
    # export (litert needs no extra package, so these rows run everywhere)
    (["export", f"{R}/missing", "--format", "litert"], 2, "missing does not exist"),
    (["export", f"{R}/digit.png", "--format", "litert"], 2,
     "expected a run directory or a .keras model file"),
    (["export", f"{R}/truncated", "--format", "litert"], 2, "is not a valid .keras file"),
    (["export", f"{R}/run", "--format", "litert", "--output", f"{R}/missing/dir/m.tflite"], 2,
     "the folder {root}/missing/dir does not exist (create it first)"),
    (["export", f"{R}/run", "--format", "litert", "--output", f"{R}/digit.png/m.tflite"], 2,
     "the folder {root}/digit.png is a file, not a folder"),
    (["export", f"{R}/run", "--format", "litert", "--output", f"{R}/folder.png"], 2,
     "--output {root}/folder.png is a folder; give a file name"),
    (["export", f"{R}/run", "--format", "litert", "--output", ""], 2, "--output is empty"),
    (["export", f"{R}/run", "--format", "tflite"], 2, "argument --format: invalid choice"),
    # show
    (["show", "filters", f"{R}/run", "--out", f"{R}/missing/dir/f.png"], 2,
     "--out {root}/missing/dir/f.png: the folder {root}/missing/dir does not exist "
     "(create it first)"),
    (["show", "filters", f"{R}/run", "--out", f"{R}/digit.png/f.png"], 2,
     "the folder {root}/digit.png is a file, not a folder"),
    (["show", "filters", f"{R}/run", "--out", f"{R}/folder.png"], 2,
     "--out {root}/folder.png is a folder; give a file name"),
    (["show", "filters", f"{R}/run", "--out", ""], 2, "--out must name a .png file"),
    (["show", "filters", f"{R}/truncated.keras", "--out", f"{R}/f.png"], 2,
     "truncated.keras is not a valid .keras file (truncated?)"),
    (["show", "filters", f"{R}/empty.keras", "--out", f"{R}/f.png"], 2,
     "empty.keras is not a valid .keras file (it is empty)"),
    (["show", "filters", f"{R}/copied", "--out", f"{R}/f.png"], 2,
     "model.keras has 10 outputs, classes.json lists 3"),
    (["show", "filters", f"{R}/model folder", "--out", f"{R}/f.png"], 2,
     "model.keras is a directory"),
    (["show", "filters", f"{R}/system.keras", "--out", f"{R}/f.png"], 2,
     "refused by safe mode: it would run code (module-function layer)"),
    (["show", "cam", f"{R}/run", f"{R}/notes.png", "--out", f"{R}/f.png"], 2, "notes.png"),
    (["show", "cam", f"{R}/run", f"{R}/empty folder", "--out", f"{R}/f.png"], 2, "empty folder"),
    (["show", "cam", f"{R}/run", f"{R}/digit.png", "--class-index", "nan", "--out",
      f"{R}/f.png"], 2, "argument --class-index: invalid int value: 'nan'"),
    (["show", "cam", f"{R}/run", f"{R}/digit.png", "--class-index", "99", "--out",
      f"{R}/f.png"], 2, "class index 99 is outside 0..9"),
    (["show", "cam", f"{R}/run", f"{R}/digit.png", "--class-index", "-1", "--out",
      f"{R}/f.png"], 2, "class index -1 is outside 0..9"),
    (["show", "rf", f"{R}/run", "--position", "9999,0", "--out", f"{R}/f.png"], 2,
     "position (9999, 0) is outside the 5x5 output"),
    (["show", "rf", f"{R}/run", "--position", "nan,1", "--out", f"{R}/f.png"], 2,
     "--position must be ROW,COL (two integers); received 'nan,1'"),
    (["show", "rf", f"{R}/run", "--layer", "nowhere", "--out", f"{R}/f.png"], 2,
     "no layer 'nowhere'"),
    (["show", "filters", f"{U}/rün 1", "--out", f"{U}/bild ö.png"], 0, "bild ö.png"),
    # summary and list
    (["summary", "resnet2"], 2, "Unknown model 'resnet2'"),
    (["summary", "lenet5", "--input-shape", "nan,nan,1"], 2,
     "--input-shape must be three positive integers"),
    (["summary", "lenet5", "--input-shape", "0,32,1"], 2,
     "--input-shape must be three positive integers"),
    (["summary", "lenet5", "--num-classes", "0"], 2, "num_classes"),
    (["summary", "lenet5", "--num-classes", "-3"], 2,
     "`num_classes` must be a positive integer; received -3"),
    (["summary", "lenet5", "--input-shape", "100000,100000,1"], 2,
     "needs an image exactly 32x32"),
    (["summary", "lenet5", "--num-classes", "nan"], 2,
     "argument --num-classes: invalid int value: 'nan'"),
    (["list", "--family", ""], 2, "no registered model matches"),
    (["list", "--family", UNICODE], 2, "no registered model matches"),
    (["list", "--pattern", "zz*"], 2, "no registered model matches"),
    (["list", "--pattern", "lenet*"], 0, "lenet5"),
    # train
    tf_only(["train", "--lr", "nan", "--epochs", "1", "--run-dir", f"{R}/t-nan"], 2,
            "lr must be a finite number >= 0, got nan"),
    tf_only(["train", "--lr", "inf", "--epochs", "1", "--run-dir", f"{R}/t-inf"], 2,
            "lr must be a finite number >= 0, got inf"),
    tf_only(["train", "--epochs", "1", "--run-dir", f"{R}/digit.png"], 2, "digit.png is a file"),
    tf_only(["train", "--dataset", f"{R}/no such data", "--epochs", "1", "--run-dir",
             f"{R}/t-data"], 2, "no such data"),
    # refused before anything is allocated (it would need tens of GiB)
    tf_only(["train", "--image-size", "20000", "--epochs", "1", "--run-dir", f"{R}/t-big"], 2,
            "--image-size"),
    tf_only(["train", "--lr", "-1", "--run-dir", f"{R}/t-neg"], 2,
            "lr must be a finite number >= 0, got -1.0"),
    tf_only(["train", "--epochs", "0", "--run-dir", f"{R}/t-0"], 2,
            "epochs must be an integer >= 1"),
    tf_only(["train", "--batch-size", "nan", "--run-dir", f"{R}/t-b"], 2,
            "argument --batch-size: invalid int value: 'nan'"),
    tf_only(["train", "--init", f"{R}/truncated", "--epochs", "1", "--run-dir",
             f"{R}/t-init"], 2, "model.keras is not a valid .keras file"),
]


def _id(row):
    argv = row.values[0] if hasattr(row, "values") else row[0]
    return " ".join(a.replace(R + "/", "").replace(R, "ROOT") for a in argv)[:70]


def call(argv, capsys):
    """(exit status, stdout, stderr) of `kcnn ARGV`."""
    try:
        status = main(argv)
    except SystemExit as exit:  # argparse's own errors
        status = exit.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("argv, status, message", ROWS, ids=[_id(r) for r in ROWS])
def test_hostile_argument(root, capsys, argv, status, message):
    argv = [a.replace(R, str(root)) for a in argv]
    message = message.replace(R, str(root))
    got, out, err = call(argv, capsys)
    assert got == status, err or out
    if status == 2:
        assert err.count("\n") == 1, err
        assert err.startswith(f"kcnn {argv[0]}: error: "), err
        assert message in err, err
    else:
        assert err == "", err
        assert message in out, out


@pytest.mark.parametrize("argv, message", [
    (["export", f"{R}/readonly", "--format", "litert"], "readonly/export"),
    (["export", f"{R}/run", "--format", "litert", "--output", f"{R}/readonly/m.tflite"],
     "cannot write in {root}/readonly"),
    (["show", "filters", f"{R}/run", "--out", f"{R}/readonly/f.png"],
     "cannot write in {root}/readonly"),
])
def test_unwritable_folder(root, readonly, capsys, argv, message):
    argv = [a.replace(R, str(root)) for a in argv]
    status, out, err = call(argv, capsys)
    assert status == 2 and err.count("\n") == 1, err
    assert message.replace(R, str(root)) in err and "ermission denied" in err, err
    assert os.listdir(readonly) == os.listdir(root / "run")  # nothing written


@pytest.mark.parametrize("name, message", [
    ("run", "run is a directory, not a .keras model file"),
    ("missing.keras", "missing.keras does not exist"),
    ("truncated.keras", "truncated.keras is not a valid .keras file (truncated?)"),
    ("random.keras", "random.keras is not a valid .keras file (truncated?)"),
    ("empty.keras", "empty.keras is not a valid .keras file (it is empty)"),
    ("lambda.keras", "lambda.keras refused by safe mode: it would run code (Python lambda "
     "layer): layer 'lambda' holds a lambda's bytecode"),
    ("system.keras", "system.keras refused by safe mode: it would run code (module-function "
     "layer): layer 'lambda' calls os.system"),
    ("bad weights.keras", "bad weights.keras is not a valid .keras file (its weights cannot be "
     "read: Unable to synchronously open file (truncated file"),
    ("bad config.keras", "bad config.keras is not a valid .keras file (its config.json does not "
     "parse: Expecting property name enclosed in double quotes, line 1)"),
])
def test_load_model_names_what_is_wrong_with_the_file(root, name, message):
    with pytest.raises(ValueError) as error:
        kcnn.load_model(root / name)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_load_model_without_safe_mode_still_names_the_unknown_function(root):
    with pytest.raises(ValueError, match=r"layer 'lambda' calls os\.system, which nothing "
                                         r"registered"):
        kcnn.load_model(root / "system.keras", safe_mode=False)


def test_a_run_reads_back_with_its_class_names_and_settings(root, tmp_path):
    from kcnn import runs

    saved = runs.load(root / "run", require_config=True)
    assert saved.class_names == tuple("0123456789") and saved.config["dataset"] == "digits"
    assert saved.file == str(root / "run" / "model.keras")
    assert runs.output_classes(saved.model) == 10
    assert runs.network_of(saved.model).name == "lenet5"
    shutil.copy(root / "run" / "model.keras", tmp_path)
    assert runs.load(tmp_path).config is None
    with pytest.raises(ValueError, match="not a finished kcnn run \\(no config.json\\)"):
        runs.load(tmp_path, require_config=True)
