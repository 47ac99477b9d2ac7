"""Bundle exporter tests: manifest vs files, ORT-vs-PyTorch verify, export lint, ort.py errors.

Uses $KAT_TEST_DATA/bundles/<config> when scripts/testdata/10-bundles made them, otherwise exports
the micro bundles into a temporary folder."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("KAT_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "export"))

from katana_export import bundle as B  # noqa: E402
from katana_export import export as E  # noqa: E402
from katana_export import ort  # noqa: E402
from katana_export import verify as V  # noqa: E402
from katana_export.modelsrc import load_model  # noqa: E402

MICRO = ["micro_efficienttam", "micro_sam2.1"]
SEED = 1
_TMP = None


def bundle_dir(cfg):
    """A bundle of `cfg` exported from seed SEED (shared test data, or exported once here)."""
    global _TMP
    data = os.environ.get("KAT_TEST_DATA")
    if data:
        d = os.path.join(data, "bundles", cfg)
        if os.path.isfile(os.path.join(d, "katana.json")):
            return d
    if _TMP is None:
        _TMP = tempfile.mkdtemp(prefix="kat_export_test_")
    d = os.path.join(_TMP, cfg)
    if not os.path.isfile(os.path.join(d, "katana.json")):
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tools", "export"))
        subprocess.run([sys.executable, "-m", "katana_export", "--model", cfg, "--random-init",
                        "--seed", str(SEED), "--out", d, "--no-verify"], check=True, env=env)
    return d


def tearDownModule():
    if _TMP:
        shutil.rmtree(_TMP, ignore_errors=True)


def tiny_model(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "t", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


class TestManifest(unittest.TestCase):
    def test_manifest_matches_files(self):
        for cfg in MICRO:
            with self.subTest(cfg=cfg):
                d = bundle_dir(cfg)
                man = B.load_manifest(d)
                self.assertEqual(man["config"], cfg)
                self.assertIn(man["family"], ("efficienttam", "sam2.1"))
                self.assertEqual(V.check_manifest(d, man), [])
                S = man["image_size"]
                fh, fw = man["feat_size"]
                self.assertEqual((fh, fw), (S // 16, S // 16))
                self.assertEqual(man["low_res_mask_size"], S // 4)
                mods = man["modules"]
                for name in ("image_encoder", "memory_attention", "mask_decoder", "memory_encoder"):
                    ent = mods[name]
                    path = os.path.join(d, ent["file"])
                    self.assertEqual(B.sha256_file(path), ent["sha256"])
                    # names, dtypes and shapes straight from the ONNX graph
                    g = onnx.load(path).graph
                    inits = {t.name for t in g.initializer}
                    for kind, vis in (("inputs", [v for v in g.input if v.name not in inits]),
                                      ("outputs", list(g.output))):
                        got = []
                        for v in vis:
                            tt = v.type.tensor_type
                            shape = [x.dim_param if x.dim_param else x.dim_value
                                     for x in tt.shape.dim]
                            got.append({"name": v.name,
                                        "dtype": onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[tt.elem_type].name,
                                        "shape": shape})
                        self.assertEqual(got, ent[kind], "%s %s %s" % (cfg, name, kind))
                ma = mods["memory_attention"]
                self.assertEqual(ma["inputs"][1], {"name": "memory", "dtype": "float32",
                                                   "shape": [1, "M", man["mem_dim"]]})
                self.assertEqual(ma["inputs"][3]["dtype"], "int64")
                md = mods["mask_decoder"]
                self.assertEqual(md["outputs"][0]["shape"], [1, 4, S // 4, S // 4])
                self.assertEqual([t["name"] for t in md["outputs"]],
                                 ["masks", "iou_pred", "obj_score_logits", "obj_ptr"])
                hr = man["use_high_res_features"]
                self.assertEqual(hr, cfg.startswith("micro_sam"))
                self.assertEqual(len(mods["image_encoder"]["outputs"]), 3 if hr else 1)
                # constants: contiguous, sized as declared, with the required names
                const = B.load_constants(d, man)
                for n in ("vision_pos", "maskmem_pos_enc", "maskmem_tpos_enc", "no_mem_embed",
                          "no_obj_ptr"):
                    self.assertIn(n, const)
                self.assertEqual(list(const["maskmem_tpos_enc"].shape),
                                 [man["num_maskmem"], 1, 1, man["mem_dim"]])
                if cfg == "micro_sam2.1":
                    self.assertIn("no_obj_embed_spatial", const)
                    self.assertIn("obj_ptr_tpos_proj.weight", const)
                    self.assertTrue(man["tracker"]["proj_tpos_enc_in_obj_ptrs"])
                else:
                    self.assertFalse(man["tracker"]["add_tpos_enc_to_obj_ptrs"])
                self.assertEqual(man["samurai"]["stable_frames_threshold"], 15)

    def test_tampered_file_is_detected(self):
        d = bundle_dir(MICRO[0])
        tmp = tempfile.mkdtemp(prefix="kat_tamper_")
        try:
            t = os.path.join(tmp, "b")
            shutil.copytree(d, t)
            with open(os.path.join(t, "constants.bin"), "r+b") as f:
                f.seek(0)
                b = f.read(1)
                f.seek(0)
                f.write(bytes([b[0] ^ 1]))
            probs = V.check_manifest(t)
            self.assertTrue(any("sha256" in p for p in probs), probs)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class TestVerify(unittest.TestCase):
    def test_verify_micro_bundles(self):
        for cfg in MICRO:
            with self.subTest(cfg=cfg):
                d = bundle_dir(cfg)
                model, _ = load_model(cfg, None, SEED)
                res = V.verify_bundle(d, model, seed=3, log=lambda *a: None)
                self.assertTrue(res["ok"])
                for name, r in res["modules"].items():
                    self.assertLessEqual(r["max_abs"], V.TOL_FP32, name)
                    # the check really ran on every output
                    self.assertTrue(r["outputs"])
                    self.assertTrue(r["cases"])
                self.assertGreaterEqual(len(res["modules"]["memory_attention"]["cases"]), 2)

    def test_verify_detects_other_weights(self):
        d = bundle_dir(MICRO[0])
        # other seed: constants.bin no longer matches the model
        model, _ = load_model(MICRO[0], None, SEED + 1)
        with self.assertRaises(V.VerifyError):
            V.verify_bundle(d, model, seed=3, log=lambda *a: None)
        # same seed but one memory-encoder weight nudged: the ORT-vs-PyTorch check must fail
        model, _ = load_model(MICRO[0], None, SEED)
        w = model.memory_encoder.pix_feat_proj.weight
        w.data[0, 0] += 0.05
        with self.assertRaises(V.VerifyError) as cm:
            V.verify_bundle(d, model, seed=3, log=lambda *a: None, modules=["memory_encoder"])
        self.assertIn("memory_encoder", str(cm.exception))


class TestFormat2(unittest.TestCase):
    """Bundle format 2 (the mask decoder's mask input) and the format 1 fixture."""

    def test_contract_and_constants(self):
        d = bundle_dir(MICRO[0])
        man = B.load_manifest(d)
        self.assertEqual(man["format_version"], 2)
        ins = man["modules"]["mask_decoder"]["inputs"]
        self.assertEqual([t["name"] for t in ins[-4:]],
                         ["point_coords", "point_labels", "mask_input", "has_mask_input"])
        low = man["image_size"] // 4
        self.assertEqual(ins[-2]["shape"], [1, 1, low, low])
        self.assertEqual(ins[-1], {"name": "has_mask_input", "dtype": "float32", "shape": [1]})
        s = ort.Session(os.path.join(d, "mask_decoder.onnx"))
        self.assertEqual([i.name for i in s.inputs][-2:], ["mask_input", "has_mask_input"])
        ops = {n.op_type for n in onnx.load(os.path.join(d, "mask_decoder.onnx")).graph.node}
        self.assertIn("Where", ops)
        s.close()
        c = B.load_constants(d, man)
        model, _ = load_model(MICRO[0], None, SEED)
        np.testing.assert_array_equal(c["mask_downsample.weight"],
                                      model.mask_downsample.weight.detach().numpy())
        np.testing.assert_array_equal(c["mask_downsample.bias"],
                                      model.mask_downsample.bias.detach().numpy())
        self.assertEqual(c["mask_downsample.weight"].shape, (1, 1, 4, 4))

    def test_wrapper_is_bit_exact_with_prompt_encoder(self):
        """The in-graph Where gives exactly the prompt encoder's dense embedding (mask or
        no-mask) in PyTorch, with trained-like magnitudes of the mask input."""
        from katana_export import wrappers as W
        model, _ = load_model(MICRO[0], None, SEED)
        md = W.MaskDecoderW(model).eval()
        pe = model.sam_prompt_encoder
        low = int(model.image_size) // 4
        g = torch.Generator().manual_seed(0)
        mask = 30.0 * torch.randn(1, 1, low, low, generator=g)
        with torch.no_grad():
            got1 = md.dense_embed(mask, torch.ones(1))
            got0 = md.dense_embed(mask, torch.zeros(1))
            want1 = pe(points=None, boxes=None, masks=mask)[1]
            want0 = pe(points=None, boxes=None, masks=None)[1]
        self.assertTrue(torch.equal(got1, want1))
        self.assertTrue(torch.equal(got0, want0))
        self.assertFalse(torch.equal(got0, got1))

    def test_format1_fixture(self):
        data = os.environ.get("KAT_TEST_DATA")
        d = os.path.join(data, "bundles", "micro_efficienttam_v1") if data else None
        if d is None or not os.path.isfile(os.path.join(d, "katana.json")):
            self.skipTest("bundles/micro_efficienttam_v1 is made by scripts/testdata/10-bundles")
        man = B.load_manifest(d)
        self.assertEqual(man["format_version"], 1)
        self.assertNotIn("mask_input", [t["name"] for t in man["modules"]["mask_decoder"]["inputs"]])
        self.assertNotIn("mask_downsample.weight", [e["name"] for e in man["constants"]["entries"]])
        model, _ = load_model(MICRO[0], None, SEED)
        res = V.verify_bundle(d, model, seed=3, log=lambda *a: None, modules=["mask_decoder"])
        self.assertTrue(res["ok"])
        self.assertEqual(res["modules"]["mask_decoder"]["cases"], ["box", "none", "points"])

    def test_verify_cases_cover_mask_flag(self):
        d = bundle_dir(MICRO[0])
        model, _ = load_model(MICRO[0], None, SEED)
        res = V.verify_bundle(d, model, seed=3, log=lambda *a: None, modules=["mask_decoder"])
        cases = res["modules"]["mask_decoder"]["cases"]
        self.assertIn("box,mask=1", cases)
        self.assertIn("none,mask=0", cases)
        self.assertEqual(len(cases), 6)

    def test_refusals_are_one_line(self):
        d = bundle_dir(MICRO[0])
        # other weights than the bundle's: refused with one line and exit status 1
        r = _cli(["verify", d, "--random-init", "--seed", str(SEED + 1)], timeout=600)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("katana_export verify: error: constants.bin differs"),
                        lines[0])
        # a hand-edited manifest: format 1 lists under "format_version": 2
        tmp = tempfile.mkdtemp(prefix="kat_fv_")
        try:
            b = os.path.join(tmp, "b")
            shutil.copytree(d, b)
            man_path = os.path.join(b, "katana.json")
            with open(man_path) as f:
                text = f.read()
            with open(man_path, "w") as f:
                f.write(text.replace('"format_version": 2', '"format_version": 7'))
            r = _cli(["verify", b, "--random-init", "--seed", str(SEED)], timeout=600)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertNotIn("Traceback", r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn("not a katana bundle of format 1 or 2", r.stderr)
            man = json.loads(text)
            man["format_version"] = 1  # the v2 files claimed as format 1
            with open(man_path, "w") as f:
                json.dump(man, f)
            r = _cli(["verify", b, "--random-init", "--seed", str(SEED)], timeout=600)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertNotIn("Traceback", r.stderr)
            self.assertIn("mask_decoder inputs", r.stderr)
            self.assertIn("are not those of bundle format 1", r.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _cli(args, **kw):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tools", "export"))
    return subprocess.run([sys.executable, "-m", "katana_export"] + args, env=env,
                          capture_output=True, text=True, **kw)


class TestTrainedMagnitudes(unittest.TestCase):
    """Issue 12: an official-format checkpoint whose heads have trained-like magnitudes must export
    and verify (float32 noise on outputs of tens of units is not a mismatch), and a broken bundle
    must still be refused with the output named and both figures given."""

    CFG = "micro_efficienttam"
    HEADS = ("sam_mask_decoder.iou_prediction_head.", "sam_mask_decoder.pred_obj_score_head.",
             "sam_mask_decoder.output_hypernetworks_mlps.")
    HEAD_SCALE = 50.0  # final layer of each head MLP
    QK_SCALE = 10.0  # every attention q/k projection weight: logits x100, sharper softmax

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kat_export_trained_")
        cls.ckpt = os.path.join(cls.tmp, "trained_like.pt")
        cls.out = os.path.join(cls.tmp, "bundle")
        cls.report = os.path.join(cls.tmp, "report.json")
        # The checkpoint is written here in the official layout ({"model": state_dict} with the
        # official parameter names, as torch.save writes it), starting from seeded weights.
        model, _ = load_model(cls.CFG, None, 7)
        sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
        cls.scaled = []
        for k, v in sd.items():
            if not v.is_floating_point():
                continue
            if k.startswith(cls.HEADS) and ".layers.2." in k:
                v.mul_(cls.HEAD_SCALE)
            elif (k.endswith("q_proj.weight") or k.endswith("k_proj.weight")) and (
                    k.startswith("memory_attention.") or k.startswith("sam_mask_decoder.")):
                v.mul_(cls.QK_SCALE)
            else:
                continue
            cls.scaled.append(k)
        torch.save({"model": sd}, cls.ckpt)
        cls.export = _cli(["--model", cls.CFG, "--checkpoint", cls.ckpt, "--out", cls.out,
                           "--report", cls.report, "--threads", "2"], timeout=900)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def _report(self):
        self.assertEqual(self.export.returncode, 0, self.export.stdout + self.export.stderr)
        with open(self.report) as f:
            return json.load(f)["verify"]

    def test_checkpoint_is_official_format(self):
        obj = torch.load(self.ckpt, map_location="cpu")
        self.assertEqual(list(obj), ["model"])
        for k in ("sam_mask_decoder.pred_obj_score_head.layers.2.weight",
                  "sam_mask_decoder.iou_prediction_head.layers.2.weight",
                  "sam_mask_decoder.output_hypernetworks_mlps.3.layers.2.weight",
                  "memory_attention.layers.0.cross_attn_image.k_proj.weight"):
            self.assertIn(k, obj["model"])
            self.assertIn(k, self.scaled)
        # 3 heads x (4 hypernetworks + 2) final layers x (weight, bias) + q/k of every attention
        self.assertGreaterEqual(len(self.scaled), 12 + 8)

    def test_trained_like_checkpoint_exports_and_verifies(self):
        v = self._report()
        self.assertTrue(v["ok"])
        self.assertEqual(v["tolerance"]["atol"], V.ATOL_FP32)
        self.assertEqual(v["tolerance"]["rtol"], V.RTOL_FP32)
        dec = v["modules"]["mask_decoder"]["outputs"]
        # the heads really have trained-like magnitudes, otherwise this proves nothing
        self.assertGreater(dec["obj_score_logits"]["ref_max"], 10.0)
        self.assertGreater(dec["masks"]["ref_max"], 10.0)
        worst = 0.0
        lines = []
        for mod, r in v["modules"].items():
            self.assertTrue(r["pass"], mod)
            for n, o in r["outputs"].items():
                self.assertTrue(o["pass"], "%s/%s %s" % (mod, n, o))
                w = o["worst"]
                self.assertLessEqual(w["max_abs"], V.bound(w["ref_max"]))
                for key in ("max_abs", "ref_max", "rel"):
                    self.assertIn(key, o)
                worst = max(worst, o["max_abs"])
                lines.append("%s/%s max_abs %.3g max|ref| %.3g rel %.3g"
                             % (mod, n, o["max_abs"], o["ref_max"], o["rel"]))
        # the log carries both figures per output
        self.assertIn("obj_score_logits", self.export.stdout)
        self.assertIn("max|ref|", self.export.stdout)
        self.assertIn("rel", self.export.stdout)
        print("\ntrained-like %s: %s" % (self.CFG, "; ".join(lines)), file=sys.stderr)
        # The old fixed bound (max_abs <= 1e-4 on every output) refuses this faithful export
        # on the CPUs we measured (3e-4 on obj_score_logits, 2e-3 on masks): the bug of issue 12.
        self.assertGreater(worst, 1e-4, "float32 noise stayed under the old fixed 1e-4 on this "
                           "CPU; the scaled heads no longer reproduce the issue")

    def _broken_copy(self, name, mutate):
        """A copy of the exported bundle whose module `name` is rewritten by mutate(onnx model),
        with the manifest hash updated so that only the numbers can tell."""
        self.assertEqual(self.export.returncode, 0, self.export.stderr)
        d = tempfile.mkdtemp(prefix="broken_", dir=self.tmp)
        b = os.path.join(d, "b")
        shutil.copytree(self.out, b)
        path = os.path.join(b, name + ".onnx")
        m = onnx.load(path)
        mutate(m)
        onnx.save(m, path)
        man_path = os.path.join(b, "katana.json")
        with open(man_path) as f:
            man = json.load(f)
        man["modules"][name]["sha256"] = B.sha256_file(path)
        with open(man_path, "w") as f:
            json.dump(man, f, indent=2)
        self.assertEqual(V.check_manifest(b), [])
        return b

    def test_weight_off_by_one_percent_is_refused(self):
        def mutate(m):
            hit = [t for t in m.graph.initializer
                   if t.name.endswith("pred_obj_score_head.layers.2.weight")]
            self.assertEqual(len(hit), 1, [t.name for t in m.graph.initializer][:20])
            a = numpy_helper.to_array(hit[0]) * np.float32(1.01)
            hit[0].CopyFrom(numpy_helper.from_array(a.astype(np.float32), hit[0].name))
        b = self._broken_copy("mask_decoder", mutate)
        r = _cli(["verify", b, "--checkpoint", self.ckpt], timeout=900)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        err = r.stderr
        print("\n1%% weight change, verify rc %d: %s" % (r.returncode, err.strip().splitlines()[-2:]),
              file=sys.stderr)
        self.assertIn("mask_decoder/obj_score_logits", err)
        self.assertRegex(err, r"max_abs [0-9.e+-]+ > bound [0-9.e+-]+ = atol 0\.0001 \+ rtol "
                              r"0\.001 \* max\|ref\| [0-9.e+-]+; rel [0-9.e+-]+")
        self.assertIn("FAIL", r.stdout)

    def test_swapped_module_is_refused(self):
        # the mask decoder of a bundle exported from other weights (the unscaled seed-SEED ones)
        other = os.path.join(bundle_dir(self.CFG), "mask_decoder.onnx")

        def mutate(m):
            m.CopyFrom(onnx.load(other))
        b = self._broken_copy("mask_decoder", mutate)
        model, _ = load_model(self.CFG, self.ckpt)
        with self.assertRaises(V.VerifyError) as cm:
            V.verify_bundle(b, model, seed=0, log=lambda *a: None, modules=["mask_decoder"])
        msg = str(cm.exception)
        print("\nswapped module: %s" % msg, file=sys.stderr)
        for n in ("masks", "obj_score_logits"):
            self.assertIn("mask_decoder/%s" % n, msg)
        self.assertIn("rel", msg)


class TestLint(unittest.TestCase):
    def test_last_axis_scalar_gather_rejected(self):
        idx = helper.make_tensor("i", TensorProto.INT64, [], [1])
        m = tiny_model([helper.make_node("Gather", ["x", "i"], ["y"], axis=2)],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [idx])
        probs = E.lint(m)
        self.assertTrue(any("last axis" in p for p in probs), probs)
        m2 = tiny_model([helper.make_node("Gather", ["x", "i"], ["y"], axis=-1)],
                        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [idx])
        self.assertTrue(E.lint(m2))

    def test_other_gathers_pass(self):
        idx = helper.make_tensor("i", TensorProto.INT64, [], [1])
        m = tiny_model([helper.make_node("Gather", ["x", "i"], ["y"], axis=1)],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [idx])
        self.assertEqual(E.lint(m), [])
        idx1 = helper.make_tensor("j", TensorProto.INT64, [1], [1])
        m = tiny_model([helper.make_node("Gather", ["x", "j"], ["y"], axis=2)],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 1])], [idx1])
        self.assertEqual(E.lint(m), [])

    def test_scatternd_rejected(self):
        ind = helper.make_tensor("ind", TensorProto.INT64, [1, 1], [0])
        upd = helper.make_tensor("upd", TensorProto.FLOAT, [1, 3], [1, 2, 3])
        m = tiny_model([helper.make_node("ScatterND", ["x", "ind", "upd"], ["y"])],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [ind, upd])
        self.assertTrue(any("ScatterND" in p for p in E.lint(m)))

    def test_rank6_reshape_rejected(self):
        shp = helper.make_tensor("s", TensorProto.INT64, [6], [1, 1, 1, 1, 2, 3])
        m = tiny_model([helper.make_node("Reshape", ["x", "s"], ["y"])],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 1, 2, 3])],
                       [shp])
        self.assertTrue(any("rank 6" in p for p in E.lint(m)))

    def test_exported_bundles_are_clean(self):
        for cfg in MICRO:
            d = bundle_dir(cfg)
            man = B.load_manifest(d)
            hw = man["feat_size"][0] * man["feat_size"][1]
            for name, ent in man["modules"].items():
                m = onnx.load(os.path.join(d, ent["file"]))
                # feeds let lint measure ranks shape inference leaves unknown (dynamic N / M)
                self.assertEqual(E.lint(m, E.probe_feeds(ent, hw)), [], "%s/%s" % (cfg, name))
                ops = E.op_histogram(m)
                self.assertNotIn("ScatterND", ops)
                self.assertGreater(len(ops), 5)


class TestOrt(unittest.TestCase):
    def test_missing_file_clear_error(self):
        with self.assertRaises(FileNotFoundError) as cm:
            ort.Session("/nonexistent/dir/model.onnx")
        self.assertIn("/nonexistent/dir/model.onnx", str(cm.exception))

    def test_corrupt_file_reports_ort_message(self):
        with tempfile.NamedTemporaryFile(suffix=".onnx", delete=False) as f:
            f.write(b"not a model")
            p = f.name
        try:
            with self.assertRaises(ort.OrtError) as cm:
                ort.Session(p)
            self.assertIn(p, str(cm.exception))
        finally:
            os.unlink(p)

    def test_run_and_metadata(self):
        m = tiny_model([helper.make_node("Add", ["a", "b"], ["c"])],
                       [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 3]),
                        helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 3])],
                       [helper.make_tensor_value_info("c", TensorProto.FLOAT, ["N", 3])])
        with tempfile.TemporaryDirectory() as t:
            p = os.path.join(t, "add.onnx")
            onnx.save(m, p)
            s = ort.Session(p)
            self.assertEqual([(i.name, i.dtype, i.shape) for i in s.inputs],
                             [("a", "float32", ["N", 3]), ("b", "float32", [1, 3])])
            a = np.arange(6, dtype=np.float32).reshape(2, 3)
            b = np.array([[10, 20, 30]], dtype=np.float32)
            out = s.run({"a": a, "b": b})
            np.testing.assert_array_equal(out["c"], a + b)
            with self.assertRaises(ort.OrtError):
                s.run({"a": a})  # missing input
            with self.assertRaises(ort.OrtError):
                s.run({"a": np.zeros((2, 4), np.float32), "b": b})  # bad shape, ORT's message
            s.close()

    def test_bad_library_env(self):
        env = dict(os.environ, KAT_ORT_LIB="/nonexistent/libonnxruntime.so",
                   PYTHONPATH=os.path.join(ROOT, "tools", "export"))
        r = subprocess.run([sys.executable, "-c", "from katana_export import ort; ort.version()"],
                           env=env, capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent/libonnxruntime.so", r.stderr)


if __name__ == "__main__":
    unittest.main()
