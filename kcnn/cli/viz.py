"""`kcnn show filters|maps|cam|rf|arch MODEL_OR_RUN [IMAGE] [--layer NAME] --out FILE.png`."""

import sys

KINDS = ("filters", "maps", "cam", "rf", "arch")
NEEDS_IMAGE = ("maps", "cam")


def register(subparsers):
    """Add the `show` subcommand."""
    p = subparsers.add_parser(
        "show",
        help="pictures of a model: filters, feature maps, Grad-CAM, receptive fields, blocks",
        description=(
            "Draw a picture of a model and write it as a PNG. MODEL_OR_RUN is a `kcnn train` run "
            "directory, a .keras file, a registered model name (random weights) or NAME:WEIGHTS. "
            "filters: the first (or --layer) convolution's kernels; maps: the activations of "
            "--layer for IMAGE; cam: Grad-CAM for IMAGE (last spatial layer unless --layer); "
            "rf: the theoretical and effective receptive field of --layer (drawn on IMAGE if "
            "given); arch: one box per stage with shapes, parameters and MACs."
        ),
    )
    p.add_argument("kind", choices=KINDS, metavar="{" + ",".join(KINDS) + "}")
    p.add_argument("model", metavar="MODEL_OR_RUN")
    p.add_argument("image", nargs="?", metavar="IMAGE", help="an image file (maps, cam, rf)")
    p.add_argument("--layer", metavar="NAME", help="layer name, e.g. conv3_block2/2_conv")
    p.add_argument("--out", required=True, metavar="FILE.png", help="where to write the picture")
    p.add_argument("--class-index", type=int, metavar="N", help="cam: the class to explain "
                   "(default: the predicted one)")
    p.add_argument("--position", metavar="ROW,COL", help="rf: the output position (default: "
                   "the centre)")
    p.set_defaults(func=run_show)


def _position(text):
    try:
        row, col = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--position must be ROW,COL (two integers); received {text!r}") from None
    return row, col


def run_show(args):
    from kcnn.viz import architecture, cam, figures, filters, inputs, maps, receptive

    if args.kind in NEEDS_IMAGE and args.image is None:
        raise ValueError(f"`kcnn show {args.kind}` needs an IMAGE file")
    if args.kind in ("filters", "arch") and args.image is not None:
        raise ValueError(f"`kcnn show {args.kind}` takes no IMAGE; received {args.image!r}")
    figures.check_output(args.out)  # before any drawing: a .png in a folder that can be written
    image = inputs.read_image(args.image) if args.image is not None else None
    loaded = inputs.load(args.model)
    model = loaded.model
    title = f"{loaded.description}"
    if args.kind == "filters":
        figure, _ = filters.plot_filters(
            model, args.layer, title=f"{title}, {args.layer or 'first convolution'}"
        )
    elif args.kind == "arch":
        figure, _ = architecture.plot_architecture(model)
    elif args.kind == "maps":
        if args.layer is None:
            raise ValueError("`kcnn show maps` needs --layer NAME (`kcnn summary` lists them)")
        picture, batch = inputs.model_input(loaded, image)
        result = maps.feature_maps(model, batch, args.layer)
        figure = maps.plot_feature_maps(result, picture=picture, title=f"{args.layer} of {title}")
    elif args.kind == "cam":
        picture, batch = inputs.model_input(loaded, image)
        result = cam.grad_cam(model, batch, class_index=args.class_index, layer=args.layer)
        figure = cam.plot_cam(result, picture, class_names=loaded.class_names, title=title)
    else:
        layer = args.layer or _last_spatial(model)
        position = _position(args.position) if args.position else None
        box = receptive.theoretical_field(model, layer, position)
        effective = receptive.effective_field(model, layer, box.position)
        if image is None:
            picture = _grey_canvas(model)
        else:
            picture, _ = inputs.model_input(loaded, image)
        figure = receptive.plot_receptive_field(picture, box, effective,
                                                title=f"receptive field of {layer}, {title}")
    figures.save(figure, args.out)
    print(args.out)
    return 0


def _last_spatial(model):
    from kcnn.viz import walk

    return walk.last_spatial_layer(model)


def _grey_canvas(model):
    import numpy as np

    return np.full(model.input_shape[1:], 200.0, dtype="float32")


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the `kcnn` command")
