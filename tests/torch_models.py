"""Torch models the tests share: torchvision's required classification models with weights=None, a seeded
initialisation and BatchNorm statistics moved away from their defaults (so BatchNorm matters), in float64."""

from optional import require


def randomise_batchnorm(model, seed=0):
    """Running statistics and affine parameters away from their defaults, so BatchNorm matters."""
    torch = require("torch")
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            channels = module.num_features
            module.running_mean.copy_(torch.randn(channels, generator=generator))
            module.running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
            if module.affine:
                module.weight.data.copy_(torch.randn(channels, generator=generator))
                module.bias.data.copy_(torch.randn(channels, generator=generator))
    return model


def torchvision_model(name: str):
    """``torchvision.models.<name>(weights=None)``, seeded, BatchNorm randomised, float64, in evaluation mode."""
    torch, torchvision = require("torch"), require("torchvision")
    torch.manual_seed(0)
    return randomise_batchnorm(getattr(torchvision.models, name)(weights=None)).double().eval()


def imported_models(shape, keep_one: bool = False):
    """``get(name) -> (torch model, its lrpref graph from from_torch(model, shape))``, each built once;
    ``keep_one=True`` keeps only the last one built (the memory of one large model at a time)."""
    from lrpref.io import from_torch

    built = {}

    def get(name):
        if name not in built:
            if keep_one:
                built.clear()
            model = torchvision_model(name)
            built[name] = model, from_torch(model, shape)
        return built[name]

    return get
