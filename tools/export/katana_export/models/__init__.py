"""katana's own PyTorch implementation of the SAM 2.1 / EfficientTAM modules the tracker runs.

Public API:
  build_model(config, seed=None, init=True) -> TrackingModel (eval, float32)
  load_checkpoint(model, path_or_dict, strict=True) -> model (raises CheckpointError)
  resolve_config(config) -> dict;  CONFIGS, ALIASES, OFFICIAL_CONFIG_NAMES, list_configs()
  count_parameters(model) -> int
Submodules keep the official attribute names, forward signatures and return structures.
"""

from .build import NO_OBJ_SCORE, CheckpointError, TrackingModel, build_model, count_parameters, load_checkpoint
from .configs import (
    ALIASES,
    CONFIGS,
    OFFICIAL_CONFIG_NAMES,
    TRACKER_DEFAULTS,
    VIDEO_PREDICTOR_OVERRIDES,
    list_configs,
    resolve_config,
    save_config_json,
)

__all__ = [
    "ALIASES",
    "CONFIGS",
    "CheckpointError",
    "NO_OBJ_SCORE",
    "OFFICIAL_CONFIG_NAMES",
    "TRACKER_DEFAULTS",
    "TrackingModel",
    "VIDEO_PREDICTOR_OVERRIDES",
    "build_model",
    "count_parameters",
    "list_configs",
    "load_checkpoint",
    "resolve_config",
    "save_config_json",
]
