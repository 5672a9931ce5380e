"""Train a CIFAR ResNet on CIFAR-10 with He et al.'s recipe, through kcnn.

    python examples/train_cifar.py                          # resnet20, the full 164-epoch recipe
    python examples/train_cifar.py --model resnet56 --epochs 30
    python examples/train_cifar.py --smoke                  # a few steps on synthetic data

Recipe (He et al. 2016, section 4.2): SGD with momentum 0.9, lr 0.1 divided by 10 at 50% and 75%
of training, weight decay 1e-4 as L2 through the momentum (as torch.optim.SGD), batch 128,
4-pixel pad + 32x32 crop + horizontal flip, 45k/5k train/validation split. The paper reports
8.75% test error (91.25% accuracy) for ResNet-20; that is the paper's figure, not a kcnn
measurement: no kcnn run on CIFAR-10 has been recorded yet.
On a GPU kcnn turns on mixed precision (compute capability >= 7.0) and XLA by itself.

CIFAR-10 comes from tensorflow-datasets (downloaded on first use, about 160 MB). Offline and
without it, the script stops with the data layer's one-line error and exit status 2.
Every artifact (model.keras, metrics.json, curves.png, confusion_matrix.png, TensorBoard logs)
lands in the run directory; start the same command with --run-dir again to resume a killed run.
"""

import argparse
import sys

import kcnn.training

RECIPE = {"dataset": "cifar10", "recipe": "he-cifar", "validation_split": 0.1}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="resnet20", help="any kcnn model (kcnn list)")
    parser.add_argument("--epochs", type=int, help="default: the recipe's 164")
    parser.add_argument("--run-dir", help="default runs/MODEL-cifar10-TIMESTAMP")
    parser.add_argument("--smoke", action="store_true",
                        help="one short epoch on synthetic CIFAR-shaped data (no download)")
    args = parser.parse_args(argv)

    settings = dict(RECIPE, model=args.model, epochs=args.epochs, run_dir=args.run_dir)
    if args.smoke:
        settings.update(dataset="synthetic", epochs=1, steps_per_epoch=4, batch_size=32)
    try:
        result = kcnn.training.train(**settings)
    except ValueError as error:  # unknown model, data set not available offline, ...
        print(f"train_cifar.py: error: {error}", file=sys.stderr)
        return 2
    print(f"test accuracy {result.test_accuracy:.4f}; run directory {result.run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
