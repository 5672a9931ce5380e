"""Building a registered model from user-given options (the CLI, config files): the one place
that turns a builder's TypeError (an unknown or ill-typed option) into a ValueError naming the
model, so commands report it in one line."""


def build(name, **options):
    """`kcnn.models.get(name, **options)`, with the builder's TypeErrors raised as ValueErrors.

    Raises:
        ValueError: an unknown model name (with close matches), or an option the builder does not
            take or cannot use.
    """
    import kcnn.models

    spec = kcnn.models.spec(name)  # an unknown name raises ValueError with close matches
    try:
        return spec.builder(**options)
    except TypeError as error:  # an unknown builder option, or a value of the wrong type
        raise ValueError(f"{name}: {error}") from None
