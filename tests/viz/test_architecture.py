"""The block diagram: DenseNet-121 in 13 boxes whose numbers add up to kcnn.analysis' totals."""

import io

import pytest
from PIL import Image

import kcnn
from kcnn.viz import architecture


@pytest.fixture(scope="module")
def densenet121():
    return kcnn.models.densenet121()


@pytest.mark.parametrize("name, count, summaries", [
    ("densenet121", 13, {"conv2": "DenseBlock", "pool2": "TransitionBlock",
                         "conv1": "pad + Conv2D + BN + act", "avg_pool": "global avgpool"}),
    ("resnet20", 6, {"conv2": "3 x ResidualBlock", "conv1": "Conv2D + BN + act"}),
])
def test_stages_add_up(name, count, summaries, densenet121):
    model = densenet121 if name == "densenet121" else kcnn.models.get(name)
    stages = architecture.stages(model)
    totals = kcnn.analysis.profile(model).totals
    assert len(stages) == count
    assert sum(s.params for s in stages) == model.count_params()
    assert sum(s.macs for s in stages) == totals.macs
    assert {s.name: s.summary for s in stages if s.name in summaries} == summaries
    assert stages[-1].output_shape == (None, model.output_shape[-1])


def test_densenet121_picture_is_one_readable_page(densenet121):
    figure, _ = architecture.plot_architecture(densenet121)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    assert Image.open(buffer).size == (900, int(100 * (0.55 * 13 + 1.2)))
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert "conv4: DenseBlock  (145 layers)" in texts
    title = "densenet121: 13 stages, 8.06 M parameters, 2.83 G MACs"
    assert any(t.startswith(title) for t in texts)
