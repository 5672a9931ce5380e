"""torchvision's model definitions for the equivalence tests, importable with the CPU build of torch.

The test extras pin torch 2.13.0 (CPU) and torchvision 0.28.0. That torchvision wheel is built
against the CUDA build of torch: its `__init__` loads compiled operators (`torchvision::nms`, ...)
that the CPU torch lacks, so `import torchvision` fails with "operator torchvision::nms does not
exist". The model definitions in `torchvision.models` are plain Python on top of `torch.nn`, and
the few compiled operators they could reach (detection heads, deformable convolutions) are not on
the classification paths the tests use. `import_torchvision_models()` therefore registers an empty
`torchvision` package whose search path is the installed directory, skipping only its `__init__`,
then imports `torchvision.models` normally from the installed files. Nothing is copied or patched.
"""

import importlib
import importlib.util
import sys
import types


def import_torchvision_models():
    """Return the installed `torchvision.models` module, importable without torchvision's ops.

    If `torchvision` imports normally (a matching torch build), that import is used as is.
    Otherwise a bare package module named `torchvision`, whose `__path__` is the installed package
    directory, is placed in `sys.modules` (its `__init__` is not run) before `torchvision.models`
    is imported.

    Raises:
        ImportError: torchvision is not installed.
    """
    if "torchvision.models" in sys.modules:
        return sys.modules["torchvision.models"]
    try:
        return importlib.import_module("torchvision.models")
    except (ImportError, RuntimeError):
        # The failed import may have left a half-initialised package behind.
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('torchvision is not installed; pip install "kcnn[test]"')
    package = types.ModuleType("torchvision")
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    package.__spec__ = spec
    sys.modules["torchvision"] = package
    return importlib.import_module("torchvision.models")


def random_reference(builder, seed=0, **kwargs):
    """torchvision's `builder(weights=None, **kwargs)` in eval mode, with random BatchNorm state.

    torchvision initialises every BatchNorm to the identity (gamma 1, beta 0, mean 0, variance 1),
    under which a wrong epsilon or a swapped mean and variance would go unnoticed; here each
    BatchNorm gets random running statistics and affine parameters, as a trained network has.
    """
    import torch

    torch.manual_seed(seed)
    net = getattr(import_torchvision_models(), builder)(weights=None, **kwargs)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return net.eval()


def torchvision_outputs(net, images):
    """Run `net` on NHWC `images` (NumPy) in inference mode; NumPy outputs."""
    import numpy as np
    import torch

    with torch.no_grad():
        out = net(torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))))
    return out.numpy()
