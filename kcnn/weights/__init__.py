"""Pretrained weights: reading and converting published weight files into kcnn models.

`kcnn.weights.torchvision` converts torchvision state dicts (`.pth`) into kcnn's
torchvision-layout networks.
"""
