"""`kcnn list` and `kcnn summary` show each model's weight sets."""

from kcnn.cli import main


def test_list_has_a_weights_column(capsys):
    assert main(["list", "--pattern", "resnet[12]?", "--markdown"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert "| weights |" in rows[0]
    by_name = {row.split("|")[1].strip(" `"): row for row in rows[2:]}
    assert "| torchvision |" in by_name["resnet18"]
    assert "| - |" in by_name["resnet20"]


def test_summary_names_the_weights(capsys):
    assert main(["summary", "resnet18"]) == 0
    out = capsys.readouterr().out
    assert "Weights \"imagenet\" = 'torchvision': ImageNet top-1 69.8% / top-5 89.1%" in out
    assert "resize 256, centre crop 224, RGB/255, ImageNet mean/std" in out
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in out
    assert main(["summary", "resnet18", "--variant", "cifar"]) == 0
    assert "none published for this variant (all: torchvision)" in capsys.readouterr().out
