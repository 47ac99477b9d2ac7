"""Model configurations as data.

Each named config mirrors one official yaml (EfficientTAM: efficient_track_anything/configs/
efficienttam/*.yaml; SAM 2.1: sam2/configs/sam2.1/*.yaml and the SAMURAI fork's configs/samurai/)
plus the tracker flags the video predictor runs with (class defaults of SAM2Base /
EfficientTAMBase where a yaml omits a flag, and the video-predictor build overrides
dynamic_multimask_via_stability / binarize_mask_from_pts_for_mem_enc / fill_hole_area).

A config is a plain dict (JSON compatible):
  name, family ("efficienttam" | "sam2.1"), image_size, backbone_stride, scalp,
  trunk {type: "vit" | "hiera", ...}, neck {type: "vitdet" | "fpn", ...},
  memory_attention {...}, memory_encoder {...}, sam_heads {...},
  tracker {official flag name: value}, samurai {SAMURAI hyper-parameters} or null.
resolve_config() fills defaults and adds "derived" {feat_size, hidden_dim, mem_dim, ...}.
"""

import copy
import json
import os
from typing import Any, Dict, Union

ConfigLike = Union[str, Dict[str, Any]]

# Flags of SAM2Base / EfficientTAMBase (class defaults) + mask-decoder extra args.
TRACKER_DEFAULTS: Dict[str, Any] = {
    "num_maskmem": 7,
    "sigmoid_scale_for_mem_enc": 1.0,
    "sigmoid_bias_for_mem_enc": 0.0,
    "binarize_mask_from_pts_for_mem_enc": False,
    "use_mask_input_as_output_without_sam": False,
    "max_cond_frames_in_attn": -1,
    "directly_add_no_mem_embed": False,
    "use_high_res_features_in_sam": False,
    "multimask_output_in_sam": False,
    "multimask_min_pt_num": 1,
    "multimask_max_pt_num": 1,
    "multimask_output_for_tracking": False,
    "use_multimask_token_for_obj_ptr": False,
    "iou_prediction_use_sigmoid": False,
    "memory_temporal_stride_for_eval": 1,
    "non_overlap_masks_for_mem_enc": False,
    "use_obj_ptrs_in_encoder": False,
    "max_obj_ptrs_in_encoder": 16,
    "add_tpos_enc_to_obj_ptrs": True,
    "proj_tpos_enc_in_obj_ptrs": False,
    "use_signed_tpos_enc_to_obj_ptrs": False,
    "only_obj_ptrs_in_the_past_for_eval": False,
    "pred_obj_scores": False,
    "pred_obj_scores_mlp": False,
    "fixed_no_obj_ptr": False,
    "soft_no_obj_ptr": False,
    "use_mlp_for_obj_ptr_proj": False,
    "no_obj_embed_spatial": False,
    "dynamic_multimask_via_stability": False,
    "dynamic_multimask_stability_delta": 0.05,
    "dynamic_multimask_stability_thresh": 0.98,
    "fill_hole_area": 0,
}

# build_*_video_predictor(apply_postprocessing=True) overrides (same in sam2, samurai, EfficientTAM).
VIDEO_PREDICTOR_OVERRIDES: Dict[str, Any] = {
    "dynamic_multimask_via_stability": True,
    "dynamic_multimask_stability_delta": 0.05,
    "dynamic_multimask_stability_thresh": 0.98,
    "binarize_mask_from_pts_for_mem_enc": True,
    "fill_hole_area": 8,
}

# Flags set by every SAM 2.1 / EfficientTAM yaml we ship (identical across sizes).
_YAML_TRACKER_COMMON: Dict[str, Any] = {
    "num_maskmem": 7,
    "sigmoid_scale_for_mem_enc": 20.0,
    "sigmoid_bias_for_mem_enc": -10.0,
    "use_mask_input_as_output_without_sam": True,
    "directly_add_no_mem_embed": True,
    "multimask_output_in_sam": True,
    "iou_prediction_use_sigmoid": True,
    "use_obj_ptrs_in_encoder": True,
    "only_obj_ptrs_in_the_past_for_eval": True,
    "pred_obj_scores": True,
    "pred_obj_scores_mlp": True,
    "fixed_no_obj_ptr": True,
    "multimask_output_for_tracking": True,
    "use_multimask_token_for_obj_ptr": True,
    "multimask_min_pt_num": 0,
    "multimask_max_pt_num": 1,
    "use_mlp_for_obj_ptr_proj": True,
}

_ETAM_TRACKER: Dict[str, Any] = dict(
    _YAML_TRACKER_COMMON,
    use_high_res_features_in_sam=False,
    add_tpos_enc_to_obj_ptrs=False,
)

_SAM21_TRACKER: Dict[str, Any] = dict(
    _YAML_TRACKER_COMMON,
    no_obj_embed_spatial=True,
    use_high_res_features_in_sam=True,
    add_tpos_enc_to_obj_ptrs=True,
    proj_tpos_enc_in_obj_ptrs=True,
    use_signed_tpos_enc_to_obj_ptrs=True,
)

# SAMURAI block of sam2/sam2/configs/samurai/sam2.1_hiera_{t,s,b+}.yaml (l uses kf_score_weight 0.15).
_SAMURAI_TSB: Dict[str, Any] = {
    "samurai_mode": True,
    "stable_frames_threshold": 15,
    "stable_ious_threshold": 0.3,
    "min_obj_score_logits": -1.0,
    "kf_score_weight": 0.25,
    "memory_bank_iou_threshold": 0.5,
    "memory_bank_obj_score_threshold": 0.0,
    "memory_bank_kf_score_threshold": 0.0,
}

_MEMORY_ATTENTION: Dict[str, Any] = {
    "d_model": 256,
    "pos_enc_at_input": True,
    "num_layers": 4,
    "activation": "relu",
    "dim_feedforward": 2048,
    "dropout": 0.1,
    "pos_enc_at_attn": False,
    "pos_enc_at_cross_attn_keys": True,
    "pos_enc_at_cross_attn_queries": False,
    "num_heads": 1,
    "downsample_rate": 1,
    "rope_theta": 10000.0,
    "kv_in_dim": 64,
    "self_attention_type": "RoPEAttention",
    "cross_attention_type": "RoPEAttention",
}

_MEMORY_ENCODER: Dict[str, Any] = {
    "out_dim": 64,
    "in_dim": 256,
    "pos_num_feats": 64,
    "mask_downsampler": {"kernel_size": 3, "stride": 2, "padding": 1, "total_stride": 16},
    "fuser": {"num_layers": 2, "kernel_size": 7, "padding": 3, "layer_scale_init_value": 1e-6, "use_dwconv": True},
}

# Fixed by SAM2Base._build_sam_heads / EfficientTAMBase._build_sam_heads.
_SAM_HEADS: Dict[str, Any] = {
    "num_multimask_outputs": 3,
    "transformer_depth": 2,
    "transformer_mlp_dim": 2048,
    "transformer_num_heads": 8,
    "iou_head_depth": 3,
    "iou_head_hidden_dim": 256,
    "mask_in_chans": 16,
}


def _etam(name: str, embed_dim: int, num_heads: int, image_size: int, cross: str = "RoPEAttention") -> Dict[str, Any]:
    return {
        "name": name,
        "family": "efficienttam",
        "image_size": image_size,
        "backbone_stride": 16,
        "scalp": 0,
        "trunk": {
            "type": "vit",
            "patch_size": 16,
            "embed_dim": embed_dim,
            "depth": 12,
            "num_heads": num_heads,
            "mlp_ratio": 4.0,
            "qkv_bias": True,
            "window_size": 14,
            "window_block_indexes": [0, 1, 3, 4, 6, 7, 9, 10],
            "use_abs_pos": True,
            "pretrain_img_size": 224,
            "pretrain_use_cls_token": True,
        },
        "neck": {
            "type": "vitdet",
            "d_model": 256,
            "backbone_channel_list": [embed_dim],
            "neck_norm": "LN",
            "pos_num_feats": 256,
        },
        "memory_attention": dict(_MEMORY_ATTENTION, cross_attention_type=cross),
        "memory_encoder": copy.deepcopy(_MEMORY_ENCODER),
        "sam_heads": dict(_SAM_HEADS),
        "tracker": dict(_ETAM_TRACKER),
        # No official SAMURAI yaml exists for EfficientTAM: the sam2.1_hiera_{t,s,b+} values.
        "samurai": dict(_SAMURAI_TSB),
        "samurai_source": "sam2.1_hiera_t/s/b+ samurai yaml defaults (no EfficientTAM samurai yaml)",
    }


def _sam21(name: str, trunk: Dict[str, Any], channels, kf_score_weight: float = 0.25) -> Dict[str, Any]:
    base_trunk = {
        "type": "hiera",
        "q_pool": 3,
        "q_stride": [2, 2],
        "dim_mul": 2.0,
        "head_mul": 2.0,
        "window_pos_embed_bkg_spatial_size": [14, 14],
        "window_spec": [8, 4, 14, 7],
    }
    base_trunk.update(trunk)
    return {
        "name": name,
        "family": "sam2.1",
        "image_size": 1024,
        "backbone_stride": 16,
        "scalp": 1,
        "trunk": base_trunk,
        "neck": {
            "type": "fpn",
            "d_model": 256,
            "backbone_channel_list": list(channels),
            "fpn_top_down_levels": [2, 3],
            "fpn_interp_model": "nearest",
            "fuse_type": "sum",
            "pos_num_feats": 256,
        },
        "memory_attention": dict(_MEMORY_ATTENTION),
        "memory_encoder": copy.deepcopy(_MEMORY_ENCODER),
        "sam_heads": dict(_SAM_HEADS),
        "tracker": dict(_SAM21_TRACKER),
        "samurai": dict(_SAMURAI_TSB, kf_score_weight=kf_score_weight),
        "samurai_source": "sam2/sam2/configs/samurai/%s.yaml" % name,
    }


CONFIGS: Dict[str, Dict[str, Any]] = {}


def _register(cfg: Dict[str, Any]) -> None:
    CONFIGS[cfg["name"]] = cfg


_register(_etam("efficienttam_ti_512x512", 192, 3, 512))
_register(_etam("efficienttam_s_512x512", 384, 6, 512))
_register(_etam("efficienttam_ti", 192, 3, 1024))
_register(_etam("efficienttam_s", 384, 6, 1024))
_register(_etam("efficienttam_ti_1", 192, 3, 1024, "EfficientRoPEAttention1"))
_register(_etam("efficienttam_s_1", 384, 6, 1024, "EfficientRoPEAttention1"))
_register(_etam("efficienttam_ti_2", 192, 3, 1024, "EfficientRoPEAttention2"))
_register(_etam("efficienttam_s_2", 384, 6, 1024, "EfficientRoPEAttention2"))
_register(
    _sam21(
        "sam2.1_hiera_t",
        {"embed_dim": 96, "num_heads": 1, "stages": [1, 2, 7, 2], "global_att_blocks": [5, 7, 9],
         "window_pos_embed_bkg_spatial_size": [7, 7]},
        [768, 384, 192, 96],
    )
)
_register(
    _sam21(
        "sam2.1_hiera_s",
        {"embed_dim": 96, "num_heads": 1, "stages": [1, 2, 11, 2], "global_att_blocks": [7, 10, 13],
         "window_pos_embed_bkg_spatial_size": [7, 7]},
        [768, 384, 192, 96],
    )
)
_register(
    _sam21(
        "sam2.1_hiera_b+",
        {"embed_dim": 112, "num_heads": 2, "stages": [2, 3, 16, 3], "global_att_blocks": [12, 16, 20],
         "window_pos_embed_bkg_spatial_size": [14, 14]},
        [896, 448, 224, 112],
    )
)
_register(
    _sam21(
        "sam2.1_hiera_l",
        {"embed_dim": 144, "num_heads": 2, "stages": [2, 6, 36, 4], "global_att_blocks": [23, 33, 43],
         "window_pos_embed_bkg_spatial_size": [7, 7], "window_spec": [8, 4, 16, 8]},
        [1152, 576, 288, 144],
        kf_score_weight=0.15,
    )
)

# Micro configs: same module structure and parameter naming, tiny sizes, for fast tests.
_micro_etam = _etam("micro_efficienttam", 96, 2, 256)
_micro_etam["trunk"].update({"depth": 4, "window_size": 8, "window_block_indexes": [0, 2]})
_micro_etam["memory_attention"].update({"num_layers": 2, "dim_feedforward": 256})
_micro_etam["samurai_source"] = "test config"
_register(_micro_etam)

_micro_etam2 = copy.deepcopy(_micro_etam)
_micro_etam2["name"] = "micro_efficienttam_2"
_micro_etam2["memory_attention"]["cross_attention_type"] = "EfficientRoPEAttention2"
_micro_etam2["trunk"]["window_size"] = 6  # 16x16 grid -> padded windows
_register(_micro_etam2)

_micro_sam = _sam21(
    "micro_sam2.1",
    {"embed_dim": 16, "num_heads": 1, "stages": [1, 1, 3, 1], "global_att_blocks": [3],
     "window_pos_embed_bkg_spatial_size": [7, 7], "window_spec": [8, 4, 6, 2]},
    [128, 64, 32, 16],
)
_micro_sam["image_size"] = 256
_micro_sam["memory_attention"].update({"num_layers": 2, "dim_feedforward": 256})
_micro_sam["samurai_source"] = "test config"
_register(_micro_sam)

ALIASES: Dict[str, str] = {
    "efficienttam_ti_512": "efficienttam_ti_512x512",
    "efficienttam_s_512": "efficienttam_s_512x512",
    "efficienttam_ti_1024": "efficienttam_ti",
    "efficienttam_s_1024": "efficienttam_s",
    "sam2.1_hiera_tiny": "sam2.1_hiera_t",
    "sam2.1_hiera_small": "sam2.1_hiera_s",
    "sam2.1_hiera_base_plus": "sam2.1_hiera_b+",
    "sam2.1_hiera_large": "sam2.1_hiera_l",
    "micro_sam2": "micro_sam2.1",
}

# The official configs (the rest are test-only micro configs).
OFFICIAL_CONFIG_NAMES = [n for n in CONFIGS if not n.startswith("micro_")]


def list_configs():
    """Names of all built-in configs (official first, then micro test configs)."""
    return list(CONFIGS)


def _merge(base: Dict[str, Any], over: Dict[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(base)
    for key, val in over.items():
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], val)
        else:
            out[key] = copy.deepcopy(val)
    return out


def resolve_config(config: ConfigLike) -> Dict[str, Any]:
    """Name / alias / path of a JSON file / dict -> a complete config dict (a fresh copy).

    A JSON file or dict may set "base": "<config name>" and override only some fields
    (nested dicts are merged). Tracker flags missing from the config take the class defaults,
    then the video-predictor overrides (unless the config sets them).
    """
    if isinstance(config, str):
        if config in CONFIGS or config in ALIASES:
            cfg = copy.deepcopy(CONFIGS[ALIASES.get(config, config)])
        elif os.path.isfile(config):
            with open(config, "r", encoding="utf-8") as fh:
                cfg = json.load(fh)
            if not isinstance(cfg, dict):
                raise ValueError("config file %s does not hold a JSON object" % config)
        else:
            raise KeyError(
                "unknown model config %r (known: %s; or a path to a JSON file)"
                % (config, ", ".join(list(CONFIGS) + list(ALIASES)))
            )
    elif isinstance(config, dict):
        cfg = copy.deepcopy(config)
    else:
        raise TypeError("config must be a name, a JSON path or a dict")

    if "base" in cfg:
        base = resolve_config(cfg.pop("base"))
        base.pop("derived", None)
        cfg = _merge(base, cfg)

    for key in ("family", "image_size", "trunk", "neck", "memory_attention", "memory_encoder"):
        if key not in cfg:
            raise ValueError("model config lacks %r" % key)
    cfg.setdefault("name", "custom")
    cfg.setdefault("backbone_stride", 16)
    cfg.setdefault("scalp", 0)
    cfg["sam_heads"] = _merge(_SAM_HEADS, cfg.get("sam_heads") or {})
    cfg["memory_attention"] = _merge(_MEMORY_ATTENTION, cfg["memory_attention"])
    cfg["memory_encoder"] = _merge(_MEMORY_ENCODER, cfg["memory_encoder"])
    tracker = dict(TRACKER_DEFAULTS)
    tracker.update(VIDEO_PREDICTOR_OVERRIDES)
    tracker.update(cfg.get("tracker") or {})
    if cfg["family"] == "efficienttam":
        tracker["use_high_res_features_in_sam"] = False  # EfficientTAMBase forces this off
    unknown = sorted(set(tracker) - set(TRACKER_DEFAULTS))
    if unknown:
        raise ValueError("unknown tracker flag(s): %s" % ", ".join(unknown))
    cfg["tracker"] = tracker
    cfg.setdefault("samurai", None)
    if cfg["family"] not in ("efficienttam", "sam2.1"):
        raise ValueError("family must be 'efficienttam' or 'sam2.1', not %r" % (cfg["family"],))

    feat = cfg["image_size"] // cfg["backbone_stride"]
    cfg["derived"] = {
        "feat_size": [feat, feat],
        "hidden_dim": cfg["neck"]["d_model"],
        "mem_dim": cfg["memory_encoder"]["out_dim"],
        "low_res_mask_size": 4 * feat,
        "num_feature_levels": 3 if tracker["use_high_res_features_in_sam"] else 1,
    }
    return cfg


def save_config_json(config: ConfigLike, path: str) -> None:
    """Write a resolved config as JSON (loadable again by resolve_config / build_model)."""
    cfg = resolve_config(config)
    cfg.pop("derived", None)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(cfg, fh, indent=2, sort_keys=True)
