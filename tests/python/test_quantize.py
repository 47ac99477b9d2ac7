"""katana onnx quantize on inputs our exporter did not make: a naive torch.onnx.export of a small
MLP (Gemm and MatMul+Add forms), a bundle whose hand-edited manifest has no "precision" fields,
and the micro bundle, which must then load, track, and report its precision in katana doctor
and katana bench. Bad arguments fail with a message that names the problem."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("KAT_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
CLI = os.environ.get("KAT_CLI") or os.path.join(ROOT, "build", "bin", "katana")
DATA = os.environ.get("KAT_TEST_DATA") or os.path.join(ROOT, ".testdata")
BUNDLE = os.path.join(DATA, "bundles", "micro_efficienttam")
CLIP = os.path.join(DATA, "track", "clip")


def katana(*args, timeout=600):
    p = subprocess.run([CLI] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@unittest.skipUnless(os.path.isfile(CLI) and os.path.isdir(BUNDLE) and os.path.isdir(CLIP),
                     "needs the built CLI and .testdata (micro bundle, track clip)")
class QuantizeBundleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The default module list, as the CLI states it.
        _, helptext = katana("onnx", "--help")
        m = re.search(r"modules \(default: ([a-z_]+(?:,[a-z_]+)*)", helptext)
        cls.defaults = m.group(1).split(",") if m else []
        cls.tmp = tempfile.mkdtemp(prefix="kat_quant_")
        cls.out = os.path.join(cls.tmp, "int8")
        cls.rc, cls.log = katana("onnx", "quantize", BUNDLE, "-o", cls.out)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_manifest_records_precision(self):
        self.assertEqual(self.rc, 0, self.log)
        with open(os.path.join(self.out, "katana.json")) as f:
            man = json.load(f)
        mods = man["modules"]
        self.assertTrue(self.defaults, "katana onnx --help names no default modules")
        all_mods = ("image_encoder", "memory_attention", "mask_decoder", "memory_encoder")
        for name in self.defaults:
            self.assertIn(name, all_mods)
            self.assertEqual(mods[name]["precision"], "int8")
            q = mods[name]["quantization"]
            self.assertEqual(q["method"], "dynamic")
            self.assertIn(q["weight_bits"], (7, 8))
            self.assertEqual(q["reduce_range"], q["weight_bits"] == 7)
            self.assertEqual(q["reduce_range_choice"], "auto")
            self.assertEqual(mods[name]["sha256"], sha(os.path.join(self.out,
                                                                    mods[name]["file"])))
        for name in (n for n in all_mods if n not in self.defaults):
            self.assertEqual(mods[name]["precision"], "fp32")
            self.assertNotIn("quantization", mods[name])
            self.assertEqual(sha(os.path.join(self.out, mods[name]["file"])),
                             sha(os.path.join(BUNDLE, mods[name]["file"])))
        # The auto choice follows the CPU as katana doctor reports it.
        rc, doc = katana("doctor", "--model", self.out)
        m = re.search(r"int8:\s+reduce_range (on|off)", doc)
        self.assertIsNotNone(m, doc)
        self.assertEqual(mods[self.defaults[0]]["quantization"]["reduce_range"], m.group(1) == "on")
        for name in all_mods:
            self.assertIn(f"{name}={'int8(w' if name in self.defaults else 'fp32'}", doc)

    def test_tracks_and_bench_reports(self):
        self.assertEqual(self.rc, 0, self.log)
        out = os.path.join(self.tmp, "track")
        rc, log = katana("track", os.path.join(CLIP, "img"), "--model", self.out, "--box-file",
                         os.path.join(CLIP, "groundtruth.txt"), "--out", out, "--quiet")
        self.assertEqual(rc, 0, log)
        with open(os.path.join(out, "boxes.txt")) as f:
            boxes = [l for l in f.read().splitlines() if l.strip()]
        with open(os.path.join(CLIP, "groundtruth.txt")) as f:
            gt = [l for l in f.read().splitlines() if l.strip()]
        self.assertEqual(len(boxes), len(gt))
        rc, log = katana("bench", "--model", f"{BUNDLE},{self.out}", "--modes", "seq",
                         "--frames", "3", "--iterations", "1", "--warmup", "1", "--json",
                         os.path.join(self.tmp, "b.json"))
        self.assertEqual(rc, 0, log)
        self.assertIn(f"{self.defaults[0]}=int8(w", log)
        self.assertIn("precision: image_encoder=fp32 memory_attention=fp32", log)
        with open(os.path.join(self.tmp, "b.json")) as f:
            js = json.dumps(json.load(f))
        self.assertIn(f"{self.defaults[0]}=int8", js)

    def test_hand_edited_manifest_without_precision(self):
        src = os.path.join(self.tmp, "noprec")
        shutil.copytree(BUNDLE, src)
        path = os.path.join(src, "katana.json")
        with open(path) as f:
            text = f.read()
        stripped = re.sub(r'\s*"precision":\s*"fp32",', "", text)
        self.assertNotEqual(stripped, text)
        with open(path, "w") as f:
            f.write(stripped)
        out = os.path.join(self.tmp, "noprec8")
        rc, log = katana("onnx", "quantize", src, "-o", out, "--modules", "memory_attention",
                         "--reduce-range", "on")
        self.assertEqual(rc, 0, log)
        with open(os.path.join(out, "katana.json")) as f:
            man = json.load(f)
        self.assertEqual(man["modules"]["memory_attention"]["precision"], "int8")
        self.assertEqual(man["modules"]["memory_attention"]["quantization"]["weight_bits"], 7)
        self.assertEqual(man["modules"]["memory_attention"]["quantization"]["reduce_range_choice"],
                         "user")
        self.assertNotIn("precision", man["modules"]["image_encoder"])
        # Quantizing the INT8 bundle again converts nothing more.
        rc, log = katana("onnx", "quantize", out, "-o", os.path.join(self.tmp, "again"),
                         "--modules", "memory_attention")
        self.assertEqual(rc, 0, log)
        self.assertIn("already int8", log)

    def test_bad_arguments(self):
        rc, log = katana("onnx", "quantize", BUNDLE, "-o", os.path.join(self.tmp, "x"),
                         "--modules", "image_encodr")
        self.assertNotEqual(rc, 0)
        self.assertIn("unknown module 'image_encodr'", log)
        rc, log = katana("onnx", "quantize", BUNDLE, "-o", BUNDLE)
        self.assertNotEqual(rc, 0)
        self.assertIn("must not be the input bundle", log)
        rc, log = katana("onnx", "quantize", BUNDLE, "-o", os.path.join(self.tmp, "y"),
                         "--reduce-range", "maybe")
        self.assertEqual(rc, 2)
        self.assertIn("bad value for --reduce-range", log)
        rc, log = katana("onnx", "quantize", os.path.join(self.tmp, "missing"), "-o",
                         os.path.join(self.tmp, "z"))
        self.assertNotEqual(rc, 0)
        self.assertIn("is not a bundle folder", log)
        # A too-strict bar refuses the module and says so.
        rc, log = katana("onnx", "quantize", BUNDLE, "-o", os.path.join(self.tmp, "strict"),
                         "--tol", "1e-9")
        self.assertNotEqual(rc, 0)
        self.assertIn("failed its numeric check", log)


def have_torch():
    try:
        import torch  # noqa: F401
        import onnx  # noqa: F401
        return True
    except Exception:
        return False


@unittest.skipUnless(os.path.isfile(CLI), "needs the built CLI")
@unittest.skipUnless(have_torch(), "needs torch and onnx for /usr/bin/python3")
class NaiveExportTest(unittest.TestCase):
    def test_naive_mlp(self):
        import onnx
        import torch

        torch.manual_seed(0)

        class MLP(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.a = torch.nn.Linear(32, 64)
                self.b = torch.nn.Linear(64, 16)

            def forward(self, x2, x3):
                # 2-D input: Linear exports as Gemm(transB=1); 3-D: MatMul + Add.
                return self.b(torch.relu(self.a(x2))), self.b(torch.relu(self.a(x3)))

        m = MLP().eval()
        # Trained-like magnitudes: weights of a few different scales per output channel.
        with torch.no_grad():
            m.a.weight.mul_(torch.linspace(0.1, 3.0, 64)[:, None])
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "mlp.onnx"), os.path.join(d, "mlp8.onnx")
            torch.onnx.export(m, (torch.randn(4, 32), torch.randn(1, 5, 32)), src,
                              opset_version=13, input_names=["x2", "x3"])
            rc, log = katana("onnx", "rewrite", src, "-o", dst, "--pass", "int8")
            self.assertEqual(rc, 0, log)
            self.assertRegex(log, r"check max_abs [0-9.e+-]+ max_rel [0-9.e+-]+.*OK")
            ops = [n.op_type for n in onnx.load(dst).graph.node]
            self.assertEqual(ops.count("Gemm"), 0, ops)
            self.assertEqual(ops.count("MatMul"), 0, ops)
            self.assertEqual(ops.count("DynamicQuantizeMatMul"), 4, ops)
            rel = float(re.search(r"max_rel ([0-9.e+-]+)", log).group(1))
            self.assertLess(rel, 0.05, log)


if __name__ == "__main__":
    unittest.main()
