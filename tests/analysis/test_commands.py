"""`kcnn summary` and `kcnn list`."""

from kcnn.cli import main


def test_summary_prints_the_profile(capsys):
    assert main(["summary", "resnet20", "--num-classes", "10"]) == 0
    out = capsys.readouterr().out
    assert 'Profile: "resnet20"' in out and "MACs per image (conv + dense)" in out
    assert "/1_conv (Conv2D)" in out  # rows inside the residual blocks


def test_summary_with_input_shape(capsys):
    assert main(["summary", "resnet20", "--input-shape", "64,64,3"]) == 0
    assert "(None, 64, 64, 16)" in capsys.readouterr().out


def test_bad_name_or_shape_is_a_one_line_error(capsys):
    assert main(["summary", "resnet2O"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Unknown model" in err and "resnet20" in err
    assert main(["summary", "resnet20", "--input-shape", "32x32"]) == 2
    assert "H,W,C" in capsys.readouterr().err
    assert main(["summary", "resnet20", "--variant", "nope"]) == 2


def test_list(capsys):
    assert main(["list", "--pattern", "resnet2*"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["model", "family"] and out[1].startswith("resnet20 ")
    assert main(["list", "--pattern", "resnet2*", "--markdown"]) == 0
    md = capsys.readouterr().out.splitlines()
    assert md[0].startswith("| model |") and md[2].startswith("| `resnet20` |")
    assert main(["list", "--pattern", "nothing*"]) == 2
