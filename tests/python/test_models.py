"""Tests for katana_export.models (our PyTorch SAM 2.1 / EfficientTAM modules).

Run: cd tests/python && PYTHONPATH=../../tools/export /usr/bin/python3 -m unittest -v test_models
"""

import json
import math
import os
import sys
import tempfile
import unittest
import warnings

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "export"))

from katana_export.models import (  # noqa: E402
    ALIASES,
    CONFIGS,
    OFFICIAL_CONFIG_NAMES,
    TRACKER_DEFAULTS,
    CheckpointError,
    build_model,
    count_parameters,
    load_checkpoint,
    resolve_config,
    save_config_json,
)
from katana_export.models.common import attention_math, window_partition, window_unpartition  # noqa: E402
from katana_export.models.memory import EfficientRoPEAttention2, RoPEAttention  # noqa: E402
from katana_export.models.position import axial_rope_cos_sin, rope_rotate, rope_tables_for_keys  # noqa: E402

# Parameter counts of the official SAM2Base / EfficientTAMBase built from the official yamls
# (measured by instantiating the reference classes with the same configs).
OFFICIAL_PARAM_COUNTS = {
    "efficienttam_ti_512x512": 17866018,
    "efficienttam_s_512x512": 34055842,
    "efficienttam_ti": 17866018,
    "efficienttam_s": 34055842,
    "efficienttam_ti_1": 17866018,
    "efficienttam_s_1": 34055842,
    "efficienttam_ti_2": 17866018,
    "efficienttam_s_2": 34055842,
    "sam2.1_hiera_t": 38962498,
    "sam2.1_hiera_s": 46060354,
    "sam2.1_hiera_b+": 80850178,
    "sam2.1_hiera_l": 224446642,
}
FULL_INIT = ("efficienttam_ti_512x512", "sam2.1_hiera_t")
MICRO = ("micro_efficienttam", "micro_efficienttam_2", "micro_sam2.1")

torch.set_num_threads(1)  # tiny tensors: threading only adds overhead on a shared machine


# ---------------------------------------------------------------------------------------------
# Straightforward reference implementations (complex numbers, 6-D reshapes)


def ref_freqs_cis(dim, end_x, end_y, theta=10000.0):
    fx = 1.0 / (theta ** (torch.arange(0, dim, 4)[: dim // 4].double() / dim))
    t = torch.arange(end_x * end_y, dtype=torch.float64)
    tx, ty = t % end_x, torch.floor(t / end_x)
    ang = torch.cat([torch.outer(tx, fx), torch.outer(ty, fx)], dim=-1)
    return torch.polar(torch.ones_like(ang), ang)  # complex128 [N, dim/2]


def ref_rotate(x, freqs):
    xc = torch.view_as_complex(x.double().reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(xc * freqs).flatten(-2).float()


def ref_window_partition(x, ws):
    b, h, w, c = x.shape
    ph, pw = (ws - h % ws) % ws, (ws - w % ws) % ws
    x = torch.nn.functional.pad(x, (0, 0, 0, pw, 0, ph))
    hp, wp = h + ph, w + pw
    x = x.view(b, hp // ws, ws, wp // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws, ws, c)
    return x, (hp, wp)


def ref_attention(q, k, v):
    w = torch.softmax(q.double() @ k.double().transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return (w @ v.double()).float()


class ConfigTests(unittest.TestCase):
    def test_official_names_and_aliases(self):
        expected = {
            "efficienttam_ti_512x512", "efficienttam_s_512x512", "efficienttam_ti", "efficienttam_s",
            "efficienttam_ti_2", "efficienttam_s_2", "sam2.1_hiera_t", "sam2.1_hiera_s", "sam2.1_hiera_b+", "sam2.1_hiera_l",
        }
        self.assertTrue(expected.issubset(set(OFFICIAL_CONFIG_NAMES)))
        self.assertEqual(resolve_config("efficienttam_ti_512")["name"], "efficienttam_ti_512x512")
        self.assertEqual(resolve_config("efficienttam_s_512")["name"], "efficienttam_s_512x512")
        for alias, target in ALIASES.items():
            self.assertIn(target, CONFIGS, alias)
        with self.assertRaises(KeyError):
            resolve_config("no_such_model")

    def test_tracker_flags(self):
        for name in OFFICIAL_CONFIG_NAMES:
            cfg = resolve_config(name)
            self.assertEqual(set(cfg["tracker"]), set(TRACKER_DEFAULTS), name)
            t = cfg["tracker"]
            self.assertEqual(t["num_maskmem"], 7)
            self.assertEqual(t["sigmoid_scale_for_mem_enc"], 20.0)
            self.assertEqual(t["sigmoid_bias_for_mem_enc"], -10.0)
            self.assertTrue(t["dynamic_multimask_via_stability"])
            self.assertTrue(t["binarize_mask_from_pts_for_mem_enc"])
            self.assertEqual(t["max_obj_ptrs_in_encoder"], 16)
            if name.startswith("sam2.1"):
                self.assertEqual(cfg["image_size"], 1024)
                self.assertTrue(t["use_high_res_features_in_sam"] and t["no_obj_embed_spatial"])
                self.assertTrue(t["proj_tpos_enc_in_obj_ptrs"] and t["use_signed_tpos_enc_to_obj_ptrs"])
                self.assertEqual(cfg["samurai"]["kf_score_weight"], 0.15 if name.endswith("_l") else 0.25)
                self.assertEqual(cfg["samurai"]["stable_frames_threshold"], 15)
            else:
                self.assertFalse(t["use_high_res_features_in_sam"] or t["no_obj_embed_spatial"])
                self.assertFalse(t["add_tpos_enc_to_obj_ptrs"])
                self.assertEqual(cfg["image_size"], 512 if "512" in name else 1024)
            self.assertEqual(cfg["derived"]["feat_size"], [cfg["image_size"] // 16] * 2)
        self.assertEqual(resolve_config("efficienttam_ti_2")["memory_attention"]["cross_attention_type"], "EfficientRoPEAttention2")

    def test_json_config_and_overrides(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "cfg.json")
            save_config_json("micro_sam2.1", path)
            a = build_model(path, seed=5)
            b = build_model("micro_sam2.1", seed=5)
            self.assertEqual(a.config["tracker"], b.config["tracker"])
            for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
                self.assertEqual(ka, kb)
                self.assertTrue(torch.equal(va, vb), ka)
            over = os.path.join(tmp, "over.json")
            with open(over, "w") as fh:
                json.dump({"base": "micro_efficienttam", "tracker": {"num_maskmem": 3}, "memory_attention": {"num_layers": 1}}, fh)
            c = build_model(over, seed=0)
            self.assertEqual(c.num_maskmem, 3)
            self.assertEqual(tuple(c.maskmem_tpos_enc.shape), (3, 1, 1, 64))
            self.assertEqual(len(c.memory_attention.layers), 1)
            with open(over, "w") as fh:
                json.dump({"base": "micro_efficienttam", "tracker": {"not_a_flag": 1}}, fh)
            with self.assertRaises(ValueError):
                resolve_config(over)


class BuildTests(unittest.TestCase):
    def test_every_config_builds_with_official_param_count(self):
        for name in list(CONFIGS):
            model = build_model(name, seed=0, init=(name in FULL_INIT or name in MICRO))
            self.assertFalse(model.training)
            n = count_parameters(model)
            if name in OFFICIAL_PARAM_COUNTS:
                self.assertEqual(n, OFFICIAL_PARAM_COUNTS[name], name)
            for p in model.parameters():
                self.assertEqual(p.dtype, torch.float32)
            if name in FULL_INIT or name in MICRO:
                for key, val in model.state_dict().items():
                    self.assertTrue(torch.isfinite(val).all(), key)
            del model

    def test_state_dict_keys_like_official(self):
        m = build_model("micro_sam2.1", seed=0)
        keys = set(m.state_dict())
        for key in (
            "maskmem_tpos_enc", "no_mem_embed", "no_mem_pos_enc", "no_obj_ptr", "no_obj_embed_spatial",
            "mask_downsample.weight", "obj_ptr_proj.layers.2.weight", "obj_ptr_tpos_proj.weight",
            "image_encoder.trunk.pos_embed_window", "image_encoder.neck.convs.0.conv.weight",
            "sam_mask_decoder.conv_s0.weight", "sam_mask_decoder.pred_obj_score_head.layers.2.bias",
            "sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix",
            "memory_attention.layers.0.cross_attn_image.k_proj.weight", "memory_encoder.fuser.layers.1.gamma",
            "memory_encoder.mask_downsampler.encoder.12.weight",
        ):
            self.assertIn(key, keys)
        self.assertFalse([k for k in keys if "rope" in k or "freqs" in k])
        e = build_model("micro_efficienttam", seed=0)
        ekeys = set(e.state_dict())
        self.assertIn("image_encoder.neck.convs.0.conv_1x1.weight", ekeys)
        self.assertIn("image_encoder.trunk.pos_embed", ekeys)
        self.assertNotIn("no_obj_embed_spatial", ekeys)
        self.assertIsNone(e.no_obj_embed_spatial)
        self.assertNotIn("obj_ptr_tpos_proj.weight", ekeys)

    def test_seeded_init_is_deterministic(self):
        state = torch.random.get_rng_state()
        a = build_model("micro_efficienttam", seed=11).state_dict()
        b = build_model("micro_efficienttam", seed=11).state_dict()
        c = build_model("micro_efficienttam", seed=12).state_dict()
        self.assertTrue(torch.equal(state, torch.random.get_rng_state()))
        self.assertTrue(all(torch.equal(a[k], b[k]) for k in a))
        self.assertFalse(torch.equal(a["no_mem_embed"], c["no_mem_embed"]))
        self.assertGreater(a["no_mem_embed"].abs().sum().item(), 0.0)


class CheckpointTests(unittest.TestCase):
    def test_roundtrip_strict(self):
        src = build_model("micro_sam2.1", seed=1)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "ckpt.pt")
            torch.save({"model": src.state_dict()}, path)
            dst = build_model("micro_sam2.1", seed=2)
            self.assertFalse(torch.equal(dst.no_mem_embed, src.no_mem_embed))
            load_checkpoint(dst, path)
        ref = src.state_dict()
        for key, val in dst.state_dict().items():
            self.assertTrue(torch.equal(val, ref[key]), key)

    def test_half_precision_is_cast(self):
        src = build_model("micro_efficienttam", seed=1)
        half = {k: v.to(torch.bfloat16) for k, v in src.state_dict().items()}
        dst = build_model("micro_efficienttam", seed=2)
        load_checkpoint(dst, {"model": half})
        for key, val in dst.state_dict().items():
            self.assertEqual(val.dtype, torch.float32)
            self.assertTrue(torch.equal(val, half[key].float()), key)

    def test_missing_key_named(self):
        sd = build_model("micro_efficienttam", seed=1).state_dict()
        del sd["sam_mask_decoder.iou_token.weight"]
        with self.assertRaises(CheckpointError) as ctx:
            load_checkpoint(build_model("micro_efficienttam", seed=2), {"model": sd})
        self.assertIn("sam_mask_decoder.iou_token.weight", str(ctx.exception))
        self.assertIn("missing", str(ctx.exception))

    def test_misnamed_key_named(self):
        sd = build_model("micro_efficienttam", seed=1).state_dict()
        sd["memory_encoder.pix_feat_projection.weight"] = sd.pop("memory_encoder.pix_feat_proj.weight")
        with self.assertRaises(CheckpointError) as ctx:
            load_checkpoint(build_model("micro_efficienttam", seed=2), {"model": sd})
        msg = str(ctx.exception)
        self.assertIn("memory_encoder.pix_feat_projection.weight", msg)
        self.assertIn("memory_encoder.pix_feat_proj.weight", msg)

    def test_wrong_shape_named(self):
        sd = build_model("micro_efficienttam", seed=1).state_dict()
        sd["no_obj_ptr"] = torch.zeros(1, 128)
        with self.assertRaises(CheckpointError) as ctx:
            load_checkpoint(build_model("micro_efficienttam", seed=2), sd)
        self.assertIn("no_obj_ptr", str(ctx.exception))


class ForwardShapeTests(unittest.TestCase):
    @torch.no_grad()
    def test_micro_forward_every_submodule(self):
        g = torch.Generator().manual_seed(0)
        for name in MICRO:
            m = build_model(name, seed=0)
            s = m.image_size
            h = s // 16
            c, cm = m.hidden_dim, m.mem_dim
            self.assertEqual((c, cm), (256, 64))
            img = torch.randn(1, 3, s, s, generator=g)
            out = m.image_encoder(img)
            self.assertEqual(set(out), {"vision_features", "vision_pos_enc", "backbone_fpn"})
            self.assertEqual(tuple(out["vision_features"].shape), (1, c, h, h))
            levels = 3 if m.use_high_res_features_in_sam else 1
            self.assertEqual(len(out["backbone_fpn"]), levels)
            self.assertEqual(len(out["vision_pos_enc"]), levels)
            for i, (f, p) in enumerate(zip(out["backbone_fpn"], out["vision_pos_enc"])):
                side = h * 2 ** (levels - 1 - i)
                self.assertEqual(tuple(f.shape), (1, c, side, side))
                self.assertEqual(tuple(p.shape), (1, c, side, side))
            fi = m.forward_image(img)
            hr = None
            if m.use_high_res_features_in_sam:
                self.assertEqual(tuple(fi["backbone_fpn"][0].shape), (1, c // 8, 4 * h, 4 * h))
                self.assertEqual(tuple(fi["backbone_fpn"][1].shape), (1, c // 4, 2 * h, 2 * h))
                hr = fi["backbone_fpn"][:2]
            feats = out["vision_features"]

            curr = feats.flatten(2).permute(2, 0, 1)
            curr_pos = out["vision_pos_enc"][-1].flatten(2).permute(2, 0, 1)
            for frames, ptr in ((1, 0), (2, 8)):
                mem = torch.randn(frames * h * h + ptr, 1, cm, generator=g)
                pos = torch.randn(frames * h * h + ptr, 1, cm, generator=g)
                y = m.memory_attention(curr=[curr], curr_pos=[curr_pos], memory=mem, memory_pos=pos, num_obj_ptr_tokens=ptr)
                self.assertEqual(tuple(y.shape), (h * h, 1, c))
                self.assertTrue(torch.isfinite(y).all())

            for skip in (False, True):
                enc = m.memory_encoder(feats, torch.randn(1, 1, s, s, generator=g), skip_mask_sigmoid=skip)
                self.assertEqual(tuple(enc["vision_features"].shape), (1, cm, h, h))
                self.assertEqual(len(enc["vision_pos_enc"]), 1)
                self.assertEqual(tuple(enc["vision_pos_enc"][0].shape), (1, cm, h, h))

            pts = torch.rand(1, 2, 2, generator=g) * s
            lbl = torch.tensor([[2, 3]], dtype=torch.int32)
            sparse, dense = m.sam_prompt_encoder(points=(pts, lbl), boxes=None, masks=None)
            self.assertEqual(tuple(sparse.shape), (1, 3, c))  # 2 points + padding point
            self.assertEqual(tuple(dense.shape), (1, c, h, h))
            sb, _ = m.sam_prompt_encoder(points=None, boxes=torch.tensor([[1.0, 2.0, 50.0, 60.0]]), masks=None)
            self.assertEqual(tuple(sb.shape), (1, 2, c))
            _, dm = m.sam_prompt_encoder(points=None, boxes=None, masks=torch.randn(1, 1, 4 * h, 4 * h, generator=g))
            self.assertEqual(tuple(dm.shape), (1, c, h, h))
            pe = m.sam_prompt_encoder.get_dense_pe()
            self.assertEqual(tuple(pe.shape), (1, c, h, h))
            for multimask, k in ((True, 3), (False, 1)):
                masks, iou, toks, obj = m.sam_mask_decoder(
                    image_embeddings=feats, image_pe=pe, sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                    multimask_output=multimask, repeat_image=False, high_res_features=hr,
                )
                self.assertEqual(tuple(masks.shape), (1, k, 4 * h, 4 * h))
                self.assertEqual(tuple(iou.shape), (1, k))
                self.assertEqual(tuple(toks.shape), (1, k, c))
                self.assertEqual(tuple(obj.shape), (1, 1))
                self.assertTrue(((iou >= 0) & (iou <= 1)).all())  # iou_prediction_use_sigmoid
            all_masks, all_iou, all_tok, _ = m.sam_mask_decoder.predict_masks(feats, pe, sparse, dense, False, hr)
            self.assertEqual(tuple(all_masks.shape), (1, 4, 4 * h, 4 * h))
            self.assertGreater(all_masks.std().item(), 0.0)
            ptr = m.obj_ptr_proj(all_tok)
            self.assertEqual(tuple(ptr.shape), (1, 4, c))
            tpos = m.obj_ptr_tpos_proj(torch.randn(3, c, generator=g))
            self.assertEqual(tuple(tpos.shape), (3, cm if m.tracker_flags["proj_tpos_enc_in_obj_ptrs"] else c))
            self.assertEqual(tuple(m.mask_downsample(torch.randn(1, 1, s, s, generator=g)).shape), (1, 1, s // 4, s // 4))
            self.assertEqual(tuple(m.maskmem_tpos_enc.shape), (7, 1, 1, cm))
            self.assertEqual(tuple(m.no_mem_embed.shape), (1, 1, c))
            self.assertEqual(tuple(m.no_obj_ptr.shape), (1, c))

    @torch.no_grad()
    def test_dynamic_multimask_selects_like_definition(self):
        m = build_model("micro_efficienttam", seed=0)
        dec = m.sam_mask_decoder
        g = torch.Generator().manual_seed(7)
        logits = torch.randn(2, 4, 8, 8, generator=g)
        logits[0, 0] = 5.0  # perfectly stable single mask -> kept
        logits[1, 0] = torch.rand(8, 8, generator=g) * 0.08 - 0.04  # all within +-delta: unstable
        iou = torch.rand(2, 4, generator=g)
        out_m, out_i = dec._dynamic_multimask_via_stability(logits, iou)
        self.assertTrue(torch.equal(out_m[0, 0], logits[0, 0]))
        best = int(torch.argmax(iou[1, 1:])) + 1
        self.assertTrue(torch.equal(out_m[1, 0], logits[1, best]))
        self.assertEqual(out_i[1, 0].item(), iou[1, best].item())


class HelperReferenceTests(unittest.TestCase):
    def test_rope_rotate_matches_complex(self):
        g = torch.Generator().manual_seed(1)
        dim, side = 32, 6
        cos, sin = axial_rope_cos_sin(dim, side, side)
        freqs = ref_freqs_cis(dim, side, side)
        x = torch.randn(2, 3, side * side, dim, generator=g)
        got = rope_rotate(x, cos, sin)
        self.assertLess((got - ref_rotate(x, freqs)).abs().max().item(), 1e-6)

    def test_rope_keys_repeat_and_exclusion_match_complex(self):
        g = torch.Generator().manual_seed(2)
        dim, side, frames, excl = 16, 4, 3, 5
        n = side * side
        cos, sin = axial_rope_cos_sin(dim, side, side)
        k = torch.randn(1, 2, frames * n + excl, dim, generator=g)
        cos_k, sin_k = rope_tables_for_keys(cos, sin, k.shape[-2], frames * n)
        got = rope_rotate(k, cos_k, sin_k)
        freqs = ref_freqs_cis(dim, side, side).repeat(frames, 1)
        want = torch.cat([ref_rotate(k[:, :, : frames * n], freqs), k[:, :, frames * n:]], dim=2)
        self.assertLess((got - want).abs().max().item(), 1e-6)
        self.assertTrue(torch.equal(got[:, :, frames * n:], k[:, :, frames * n:]))  # exactly unchanged

    @torch.no_grad()
    def test_rope_attention_matches_complex_reference(self):
        torch.manual_seed(3)
        side, c, kv = 4, 32, 16
        n = side * side
        att = RoPEAttention(c, 2, rope_k_repeat=True, kv_in_dim=kv, feat_sizes=(side, side)).eval()
        q_in = torch.randn(1, n, c)
        k_in = torch.randn(1, 2 * n + 4, kv)
        v_in = torch.randn(1, 2 * n + 4, kv)
        got = att(q_in, k_in, v_in, num_k_exclude_rope=4)
        q = att._separate_heads(att.q_proj(q_in), 2)
        k = att._separate_heads(att.k_proj(k_in), 2)
        v = att._separate_heads(att.v_proj(v_in), 2)
        freqs = ref_freqs_cis(c // 2, side, side)
        q = ref_rotate(q, freqs)
        k = torch.cat([ref_rotate(k[:, :, : 2 * n], freqs.repeat(2, 1)), k[:, :, 2 * n:]], dim=2)
        want = att.out_proj(att._recombine_heads(ref_attention(q, k, v)))
        self.assertLess((got - want).abs().max().item(), 1e-5)

    @torch.no_grad()
    def test_efficient_attention_single_frame_is_plain(self):
        torch.manual_seed(4)
        side, c, kv = 4, 32, 16
        n = side * side
        plain = RoPEAttention(c, 1, rope_k_repeat=True, kv_in_dim=kv, feat_sizes=(side, side)).eval()
        eff = EfficientRoPEAttention2(c, 1, rope_k_repeat=True, kv_in_dim=kv, feat_sizes=(side, side)).eval()
        eff.load_state_dict(plain.state_dict())
        q, k1, k3 = torch.randn(1, n, c), torch.randn(1, n + 4, kv), torch.randn(1, 3 * n + 4, kv)
        self.assertTrue(torch.equal(plain(q, k1, k1, 4), eff(q, k1, k1, 4)))
        self.assertGreater((plain(q, k3, k3, 4) - eff(q, k3, k3, 4)).abs().max().item(), 1e-4)  # pooled landmarks

    def test_attention_math_matches_reference(self):
        g = torch.Generator().manual_seed(5)
        q, k, v = torch.randn(2, 3, 7, 8, generator=g), torch.randn(2, 3, 11, 8, generator=g), torch.randn(2, 3, 11, 5, generator=g)
        self.assertLess((attention_math(q, k, v) - ref_attention(q, k, v)).abs().max().item(), 1e-6)
        sdpa = getattr(torch.nn.functional, "scaled_dot_product_attention", None)
        if sdpa is not None:
            self.assertLess((attention_math(q, k, v) - sdpa(q, k, v)).abs().max().item(), 1e-6)

    def test_window_partition_matches_6d_reference(self):
        g = torch.Generator().manual_seed(6)
        for h, w, ws in ((16, 16, 8), (32, 32, 14), (9, 13, 4)):
            x = torch.randn(2, h, w, 5, generator=g)
            got, pad = window_partition(x, ws)
            want, pad_ref = ref_window_partition(x, ws)
            self.assertEqual(pad, pad_ref)
            self.assertTrue(torch.equal(got, want))
            self.assertTrue(torch.equal(window_unpartition(got, ws, pad, (h, w)), x))


class ExportRuleTests(unittest.TestCase):
    """Traced graphs of the export-relevant modules follow the ONNX export rules."""

    FORBIDDEN = ("aten::index_put", "aten::index_put_", "aten::copy_", "aten::view_as_complex", "aten::view_as_real",
                 "aten::polar", "aten::scaled_dot_product_attention", "aten::masked_scatter", "aten::masked_fill_")

    def _check_graph(self, graph, tag):
        """Assert the rules; returns how many reshapes had a known rank (so the check is not vacuous)."""
        ranked = 0
        for node in graph.nodes():
            kind = node.kind()
            self.assertNotIn(kind, self.FORBIDDEN, tag)
            for out in node.outputs():
                typ = out.type()
                if not isinstance(typ, torch._C.TensorType):
                    continue
                rank = typ.dim()
                if kind in ("aten::reshape", "aten::view") and rank is not None:
                    self.assertLessEqual(rank, 5, "%s: rank-%d reshape" % (tag, rank))
                    ranked += 1
                dtype = typ.scalarType()
                if dtype is not None:
                    self.assertNotIn("Complex", dtype, tag)
        return ranked

    @torch.no_grad()
    def test_traced_modules_follow_export_rules(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._trace_and_check()

    def _trace_and_check(self):
        checked_reshapes = 0
        for name in ("micro_efficienttam_2", "micro_sam2.1"):
            m = build_model(name, seed=0)
            s, h = m.image_size, m.image_size // 16

            class Img(torch.nn.Module):
                def __init__(self, mm):
                    super().__init__()
                    self.mm = mm

                def forward(self, x):
                    o = self.mm.forward_image(x)
                    return tuple(o["backbone_fpn"])

            class Mem(torch.nn.Module):
                def __init__(self, mm):
                    super().__init__()
                    self.mm = mm

                def forward(self, curr, pos, mem, mem_pos):
                    return self.mm.memory_attention(curr=curr, curr_pos=pos, memory=mem, memory_pos=mem_pos, num_obj_ptr_tokens=8)

            img = torch.jit.trace(Img(m), (torch.randn(1, 3, s, s),), check_trace=False)
            checked_reshapes += self._check_graph(img.inlined_graph, name + " image_encoder")
            mem = torch.jit.trace(
                Mem(m),
                (torch.randn(h * h, 1, 256), torch.randn(h * h, 1, 256), torch.randn(2 * h * h + 8, 1, 64), torch.randn(2 * h * h + 8, 1, 64)),
                check_trace=False,
            )
            checked_reshapes += self._check_graph(mem.inlined_graph, name + " memory_attention")
        self.assertGreater(checked_reshapes, 20)


if __name__ == "__main__":
    unittest.main()
