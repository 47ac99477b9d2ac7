"""Top-level model (same submodules / state-dict keys as SAM2Base / EfficientTAMBase), builder and
checkpoint loader."""

import contextlib
import difflib
import os
from typing import Any, Dict, Optional

import torch
from torch import nn

from .backbones import FpnNeck, Hiera, ImageEncoder, ViT, ViTDetNeck
from .common import MLP
from .configs import ConfigLike, resolve_config
from .memory import (
    ROPE_ATTENTION_CLASSES,
    CXBlock,
    Fuser,
    MaskDownSampler,
    MemoryAttention,
    MemoryAttentionLayer,
    MemoryEncoder,
)
from .position import PositionEmbeddingSine
from .sam_heads import MaskDecoder, PromptEncoder, TwoWayTransformer

NO_OBJ_SCORE = -1024.0

# Flags whose attribute name on the model holds something else (a parameter).
_FLAG_ATTR_SKIP = {"no_obj_embed_spatial"}


class TrackingModel(nn.Module):
    """Holds exactly the submodules and parameters of SAM2Base / EfficientTAMBase.

    Submodules: image_encoder, mask_downsample, memory_attention, memory_encoder,
    sam_prompt_encoder, sam_mask_decoder, obj_ptr_proj, obj_ptr_tpos_proj.
    Parameters: maskmem_tpos_enc [num_maskmem,1,1,Cm], no_mem_embed [1,1,C], no_mem_pos_enc [1,1,C],
    no_obj_ptr [1,C], no_obj_embed_spatial [1,Cm] (SAM 2.1 only, else None).
    Every tracker flag and SAMURAI hyper-parameter of the config is also an attribute
    (model.<flag>), and model.config is the resolved config dict. There is no tracking loop here.
    """

    def __init__(self, image_encoder: nn.Module, memory_attention: nn.Module, memory_encoder: nn.Module, config: Dict[str, Any]) -> None:
        super().__init__()
        tracker = config["tracker"]
        self.config = config
        self.family = config["family"]
        self.tracker_flags = dict(tracker)
        for key, val in tracker.items():
            if key not in _FLAG_ATTR_SKIP:
                setattr(self, key, val)
        # SAMURAI hyper-parameters as attributes too, as the SAMURAI fork's SAM2Base holds them.
        for key, val in (config.get("samurai") or {}).items():
            setattr(self, key, val)
        self.image_size = config["image_size"]
        self.backbone_stride = config["backbone_stride"]

        self.image_encoder = image_encoder
        self.use_high_res_features_in_sam = bool(tracker["use_high_res_features_in_sam"])
        self.num_feature_levels = 3 if self.use_high_res_features_in_sam else 1
        self.use_obj_ptrs_in_encoder = tracker["use_obj_ptrs_in_encoder"]
        self.max_obj_ptrs_in_encoder = tracker["max_obj_ptrs_in_encoder"]
        if self.use_obj_ptrs_in_encoder:
            self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
        if tracker["proj_tpos_enc_in_obj_ptrs"] and not tracker["add_tpos_enc_to_obj_ptrs"]:
            raise ValueError("proj_tpos_enc_in_obj_ptrs requires add_tpos_enc_to_obj_ptrs")
        self.memory_attention = memory_attention
        self.hidden_dim = image_encoder.neck.d_model
        self.memory_encoder = memory_encoder
        self.mem_dim = self.hidden_dim
        out_proj = getattr(memory_encoder, "out_proj", None)
        if out_proj is not None and hasattr(out_proj, "weight"):
            self.mem_dim = out_proj.weight.shape[0]
        self.num_maskmem = tracker["num_maskmem"]
        self.maskmem_tpos_enc = nn.Parameter(torch.zeros(self.num_maskmem, 1, 1, self.mem_dim))
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, self.hidden_dim))
        self.no_mem_pos_enc = nn.Parameter(torch.zeros(1, 1, self.hidden_dim))
        if tracker["fixed_no_obj_ptr"] and not (tracker["pred_obj_scores"] and self.use_obj_ptrs_in_encoder):
            raise ValueError("fixed_no_obj_ptr requires pred_obj_scores and use_obj_ptrs_in_encoder")
        if tracker["pred_obj_scores"] and self.use_obj_ptrs_in_encoder:
            self.no_obj_ptr = nn.Parameter(torch.zeros(1, self.hidden_dim))
        self.no_obj_embed_spatial = None
        if tracker["no_obj_embed_spatial"]:
            self.no_obj_embed_spatial = nn.Parameter(torch.zeros(1, self.mem_dim))
        self._build_sam_heads()

    def _build_sam_heads(self) -> None:
        heads = self.config["sam_heads"]
        tracker = self.config["tracker"]
        self.sam_prompt_embed_dim = self.hidden_dim
        self.sam_image_embedding_size = self.image_size // self.backbone_stride
        self.sam_prompt_encoder = PromptEncoder(
            embed_dim=self.sam_prompt_embed_dim,
            image_embedding_size=(self.sam_image_embedding_size, self.sam_image_embedding_size),
            input_image_size=(self.image_size, self.image_size),
            mask_in_chans=heads["mask_in_chans"],
        )
        self.sam_mask_decoder = MaskDecoder(
            num_multimask_outputs=heads["num_multimask_outputs"],
            transformer=TwoWayTransformer(
                depth=heads["transformer_depth"],
                embedding_dim=self.sam_prompt_embed_dim,
                mlp_dim=heads["transformer_mlp_dim"],
                num_heads=heads["transformer_num_heads"],
            ),
            transformer_dim=self.sam_prompt_embed_dim,
            iou_head_depth=heads["iou_head_depth"],
            iou_head_hidden_dim=heads["iou_head_hidden_dim"],
            use_high_res_features=self.use_high_res_features_in_sam,
            iou_prediction_use_sigmoid=tracker["iou_prediction_use_sigmoid"],
            pred_obj_scores=tracker["pred_obj_scores"],
            pred_obj_scores_mlp=tracker["pred_obj_scores_mlp"],
            use_multimask_token_for_obj_ptr=tracker["use_multimask_token_for_obj_ptr"],
            dynamic_multimask_via_stability=tracker["dynamic_multimask_via_stability"],
            dynamic_multimask_stability_delta=tracker["dynamic_multimask_stability_delta"],
            dynamic_multimask_stability_thresh=tracker["dynamic_multimask_stability_thresh"],
        )
        if self.use_obj_ptrs_in_encoder:
            if tracker["use_mlp_for_obj_ptr_proj"]:
                self.obj_ptr_proj = MLP(self.hidden_dim, self.hidden_dim, self.hidden_dim, 3)
            else:
                self.obj_ptr_proj = nn.Linear(self.hidden_dim, self.hidden_dim)
        else:
            self.obj_ptr_proj = nn.Identity()
        if tracker["proj_tpos_enc_in_obj_ptrs"]:
            self.obj_ptr_tpos_proj = nn.Linear(self.hidden_dim, self.mem_dim)
        else:
            self.obj_ptr_tpos_proj = nn.Identity()

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, *args, **kwargs):
        raise NotImplementedError("katana models expose submodules only; the tracker drives them")

    def forward_image(self, img_batch: torch.Tensor) -> Dict[str, Any]:
        """image_encoder(img) with the SAM 2.1 high-res levels projected by conv_s0 / conv_s1
        (as SAM2Base.forward_image): backbone_fpn[0] [B,32,4h,4w], [1] [B,64,2h,2w]."""
        out = self.image_encoder(img_batch)
        if self.use_high_res_features_in_sam:
            fpn = list(out["backbone_fpn"])
            fpn[0] = self.sam_mask_decoder.conv_s0(fpn[0])
            fpn[1] = self.sam_mask_decoder.conv_s1(fpn[1])
            out["backbone_fpn"] = fpn
        return out


# ----------------------------------------------------------------------------------------------
# Builders


def _build_image_encoder(cfg: Dict[str, Any]) -> ImageEncoder:
    trunk_cfg = dict(cfg["trunk"])
    neck_cfg = dict(cfg["neck"])
    kind = trunk_cfg.pop("type")
    if kind == "vit":
        trunk = ViT(img_size=cfg["image_size"], **trunk_cfg)
    elif kind == "hiera":
        trunk = Hiera(**trunk_cfg)
    else:
        raise ValueError("unknown trunk type %r" % (kind,))
    neck_kind = neck_cfg.pop("type")
    pos = PositionEmbeddingSine(num_pos_feats=neck_cfg.pop("pos_num_feats", neck_cfg["d_model"]), normalize=True, temperature=10000)
    if neck_kind == "vitdet":
        neck = ViTDetNeck(position_encoding=pos, **neck_cfg)
    elif neck_kind == "fpn":
        neck = FpnNeck(position_encoding=pos, **neck_cfg)
    else:
        raise ValueError("unknown neck type %r" % (neck_kind,))
    return ImageEncoder(trunk=trunk, neck=neck, scalp=cfg["scalp"])


def _build_memory_attention(cfg: Dict[str, Any]) -> MemoryAttention:
    ma = cfg["memory_attention"]
    feat = cfg["derived"]["feat_size"]
    common = dict(
        embedding_dim=ma["d_model"],
        num_heads=ma["num_heads"],
        downsample_rate=ma["downsample_rate"],
        dropout=ma["dropout"],
        rope_theta=ma["rope_theta"],
        feat_sizes=feat,
    )
    self_cls = ROPE_ATTENTION_CLASSES[ma["self_attention_type"]]
    cross_cls = ROPE_ATTENTION_CLASSES[ma["cross_attention_type"]]
    layer = MemoryAttentionLayer(
        activation=ma["activation"],
        cross_attention=cross_cls(rope_k_repeat=True, kv_in_dim=ma["kv_in_dim"], **common),
        d_model=ma["d_model"],
        dim_feedforward=ma["dim_feedforward"],
        dropout=ma["dropout"],
        pos_enc_at_attn=ma["pos_enc_at_attn"],
        pos_enc_at_cross_attn_keys=ma["pos_enc_at_cross_attn_keys"],
        pos_enc_at_cross_attn_queries=ma["pos_enc_at_cross_attn_queries"],
        self_attention=self_cls(**common),
    )
    return MemoryAttention(d_model=ma["d_model"], pos_enc_at_input=ma["pos_enc_at_input"], layer=layer, num_layers=ma["num_layers"])


def _build_memory_encoder(cfg: Dict[str, Any]) -> MemoryEncoder:
    me = cfg["memory_encoder"]
    ds = me["mask_downsampler"]
    fu = me["fuser"]
    return MemoryEncoder(
        out_dim=me["out_dim"],
        in_dim=me["in_dim"],
        position_encoding=PositionEmbeddingSine(num_pos_feats=me["pos_num_feats"], normalize=True, temperature=10000),
        mask_downsampler=MaskDownSampler(
            embed_dim=me["in_dim"],
            kernel_size=ds["kernel_size"],
            stride=ds["stride"],
            padding=ds["padding"],
            total_stride=ds["total_stride"],
        ),
        fuser=Fuser(
            CXBlock(
                dim=me["in_dim"],
                kernel_size=fu["kernel_size"],
                padding=fu["padding"],
                layer_scale_init_value=fu["layer_scale_init_value"],
                use_dwconv=fu["use_dwconv"],
            ),
            num_layers=fu["num_layers"],
        ),
    )


_INIT_FUNCS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_")


@contextlib.contextmanager
def _skip_parameter_init():
    """Make torch.nn.init no-ops (parameters keep their uninitialised storage)."""
    saved = {name: getattr(nn.init, name) for name in _INIT_FUNCS if hasattr(nn.init, name)}
    try:
        for name in saved:
            setattr(nn.init, name, lambda tensor, *a, **k: tensor)
        yield
    finally:
        for name, fn in saved.items():
            setattr(nn.init, name, fn)


_SMALL_NORMAL_SUFFIXES = (
    "pos_embed",
    "pos_embed_window",
    "maskmem_tpos_enc",
    "no_mem_embed",
    "no_mem_pos_enc",
    "no_obj_ptr",
    "no_obj_embed_spatial",
)


@torch.no_grad()
def _random_init_extras(model: nn.Module) -> None:
    """Non-trivial values for parameters the default init leaves constant (zeros / 1e-6)."""
    for name, param in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in _SMALL_NORMAL_SUFFIXES:
            param.normal_(0.0, 0.02)
        elif leaf == "gamma":  # layer scale (1e-6 in the reference init): make the fuser matter
            param.uniform_(0.05, 0.2)
    # Wider IoU / object-score heads so random models produce varied scores (both signs of the
    # object logit, IoUs away from 0.5) and the tracker's selection/occlusion paths get exercised.
    decoder = getattr(model, "sam_mask_decoder", None)
    if decoder is not None:
        heads = [decoder.iou_prediction_head]
        if getattr(decoder, "pred_obj_scores", False):
            heads.append(decoder.pred_obj_score_head)
        for head in heads:
            last = head.layers[-1] if isinstance(head, MLP) else head
            last.weight.normal_(0.0, 0.2)
            last.bias.normal_(0.0, 0.5)


def build_model(config: ConfigLike, seed: Optional[int] = None, init: bool = True) -> TrackingModel:
    """Build a model from a config name / alias / JSON path / dict.

    Returns a float32 TrackingModel in eval mode. With `seed`, the random initialisation is
    deterministic (the global RNG state is left untouched). init=False skips parameter
    initialisation (values are garbage; only for structure checks / counting / loading weights).
    """
    cfg = resolve_config(config)
    rng = torch.random.fork_rng(devices=[]) if seed is not None else contextlib.nullcontext()
    with rng:
        if seed is not None:
            torch.manual_seed(int(seed))
        skip = _skip_parameter_init() if not init else contextlib.nullcontext()
        with skip:
            model = TrackingModel(
                image_encoder=_build_image_encoder(cfg),
                memory_attention=_build_memory_attention(cfg),
                memory_encoder=_build_memory_encoder(cfg),
                config=cfg,
            )
        if init:
            _random_init_extras(model)
    model.float()
    model.eval()
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of parameter elements (buffers not included)."""
    return sum(p.numel() for p in model.parameters())


class CheckpointError(RuntimeError):
    """A checkpoint does not match the model (missing, unexpected or mis-shaped keys)."""


def _describe(keys, limit: int = 20):
    keys = sorted(keys)
    text = ", ".join(keys[:limit])
    if len(keys) > limit:
        text += ", ... (%d more)" % (len(keys) - limit)
    return text


def load_checkpoint(model: nn.Module, path_or_dict, strict: bool = True) -> nn.Module:
    """Load an official checkpoint (a dict with the state dict under "model", or a bare state dict).

    Floating tensors of any dtype are cast to float32. With strict=True (default) any missing,
    unexpected or mis-shaped key raises CheckpointError naming the key(s).
    """
    obj = path_or_dict
    if isinstance(obj, (str, os.PathLike)):
        obj = torch.load(os.fspath(obj), map_location="cpu")
    if not isinstance(obj, dict):
        raise CheckpointError("checkpoint is not a dict (got %s)" % type(obj).__name__)
    state = obj["model"] if isinstance(obj.get("model"), dict) else obj
    converted = {}
    for key, val in state.items():
        if torch.is_tensor(val) and val.is_floating_point():
            val = val.to(torch.float32)
        converted[key] = val
    expected = model.state_dict()
    missing = set(expected) - set(converted)
    unexpected = set(converted) - set(expected)
    problems = []
    if missing:
        problems.append("missing key(s): " + _describe(missing))
    if unexpected:
        hints = []
        for key in sorted(unexpected)[:5]:
            close = difflib.get_close_matches(key, list(missing) or list(expected), n=1)
            if close:
                hints.append("%s (did you mean %s?)" % (key, close[0]))
        problems.append("unexpected key(s): " + _describe(unexpected) + ("; " + "; ".join(hints) if hints else ""))
    mis_shaped = [
        "%s: checkpoint %s vs model %s" % (k, tuple(converted[k].shape), tuple(expected[k].shape))
        for k in sorted(set(converted) & set(expected))
        if torch.is_tensor(converted[k]) and tuple(converted[k].shape) != tuple(expected[k].shape)
    ]
    if mis_shaped:
        problems.append("shape mismatch: " + "; ".join(mis_shaped[:20]))
    if problems and (strict or mis_shaped):
        raise CheckpointError("checkpoint does not match the model: " + " | ".join(problems))
    model.load_state_dict(converted, strict=strict)
    return model
