"""The exporter's view of the model package (katana_export.models, written separately):
config lookup and model construction (checkpoint or seeded random init)."""

import torch


def _models():
    from . import models  # imported lazily so ort.py / bundle.py work without torch models
    return models


def config_entry(name):
    """The resolved config dict of a config name or alias."""
    from .models.configs import resolve_config
    return resolve_config(name)


def family_of(name, cfg=None):
    cfg = cfg or config_entry(name)
    return cfg["family"]


def load_model(name, checkpoint=None, seed=None):
    """(model in eval mode, canonical config name). Exactly one of checkpoint / seed."""
    m = _models()
    cfg = config_entry(name)
    canonical = cfg.get("name", name)
    if checkpoint is not None:
        model = m.build_model(name, seed=0, init=False)
        m.load_checkpoint(model, checkpoint)
    else:
        if seed is None:
            raise ValueError("load_model needs a checkpoint or a seed")
        model = m.build_model(name, seed=seed)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    torch.set_grad_enabled(False)
    return model, canonical
