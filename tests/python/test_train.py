"""Training tools: FP16 weight storage is exact, and one segmentation step and one tracking step
of tools/train run, produce finite losses and change the weights."""

import os
import random
import sys
import tempfile
import unittest

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("KAT_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "export"))
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))

from katana_export import ort  # noqa: E402
from katana_export.export import make_wrappers  # noqa: E402
from katana_export.halfstore import half_state_dict, round_weights, store_half  # noqa: E402
from katana_export.models import build_model, load_checkpoint  # noqa: E402
from katana_train.data import Clip, jitter_box  # noqa: E402
from katana_train.loop import seg_batch, track_clip  # noqa: E402


class HalfStoreTest(unittest.TestCase):
    def test_store_half_is_exact_and_keeps_non_half_values(self):
        rng = np.random.RandomState(0)
        w_half = rng.standard_normal((32, 16)).astype(np.float16).astype(np.float32)
        w_full = (rng.standard_normal((32, 16)) * 1e-3 + 1.0 / 3.0).astype(np.float32)
        small = np.float32([[0.1, 0.2]])  # below min_elems: stays FP32
        nodes = [helper.make_node("MatMul", ["x", "wh"], ["a"]),
                 helper.make_node("MatMul", ["x", "wf"], ["b"]),
                 helper.make_node("Add", ["a", "b"], ["c"]),
                 helper.make_node("ReduceSum", ["c"], ["y"], keepdims=1)]
        g = helper.make_graph(
            nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 32])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])],
            [numpy_helper.from_array(w_half, "wh"), numpy_helper.from_array(w_full, "wf"),
             numpy_helper.from_array(small, "s")])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        ref = onnx.ModelProto()
        ref.CopyFrom(m)
        self.assertEqual(store_half(m, min_elems=64), 1)
        onnx.checker.check_model(m)
        types = {i.name: i.data_type for i in m.graph.initializer}
        self.assertEqual(types["wh__fp16"], TensorProto.FLOAT16)
        self.assertEqual(types["wf"], TensorProto.FLOAT)
        self.assertEqual(types["s"], TensorProto.FLOAT)
        self.assertNotIn("wh", types)
        self.assertEqual(m.graph.node[0].op_type, "Cast")
        x = rng.standard_normal((4, 32)).astype(np.float32)
        outs = []
        with tempfile.TemporaryDirectory() as tmp:
            for i, model in enumerate((ref, m)):
                p = os.path.join(tmp, "%d.onnx" % i)
                onnx.save(model, p)
                s = ort.Session(p)
                outs.append(s.run({"x": x})["y"])
                s.close()
        np.testing.assert_array_equal(outs[0], outs[1])

    def test_round_weights_and_half_state_dict_round_trip(self):
        model = build_model("micro_efficienttam", seed=3)
        round_weights(model)
        state = half_state_dict(model.state_dict())
        self.assertTrue(all(v.dtype == torch.float16 for v in state.values()
                            if v.is_floating_point()))
        other = build_model("micro_efficienttam", seed=4)
        load_checkpoint(other, {"model": state})
        for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
            self.assertTrue(torch.equal(a, b), k)


def _write_clip(root, frames=4, size=96):
    """A tiny clip: a bright square moving on a dark textured background."""
    rng = np.random.RandomState(0)
    os.makedirs(os.path.join(root, "img"))
    os.makedirs(os.path.join(root, "masks"))
    lines = []
    for t in range(frames):
        img = (rng.rand(size, size, 3) * 60).astype(np.uint8)
        x, y = 20 + 5 * t, 30
        img[y:y + 24, x:x + 24] = (220, 60, 40)
        mask = np.zeros((size, size), np.uint8)
        mask[y:y + 24, x:x + 24] = 255
        Image.fromarray(img).save(os.path.join(root, "img", "%05d.png" % t))
        Image.fromarray(mask).save(os.path.join(root, "masks", "%05d.png" % t))
        lines.append("%d,%d,24,24" % (x, y))
    with open(os.path.join(root, "groundtruth.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


class TrainStepTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        torch.set_num_threads(1)
        cls.tmp = tempfile.TemporaryDirectory()
        _write_clip(os.path.join(cls.tmp.name, "clip"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def _setup(self):
        model = build_model("micro_efficienttam", seed=0)
        mods, consts = make_wrappers(model)
        wr = (mods["image_encoder"], mods["memory_attention"], mods["mask_decoder"],
              mods["memory_encoder"])
        model.train()
        clip = Clip(os.path.join(self.tmp.name, "clip"), int(model.image_size))
        return model, wr, consts, clip

    def _changed(self, model, before):
        return sum(int(not torch.equal(before[k], v)) for k, v in model.state_dict().items())

    def test_seg_step(self):
        model, wr, _, clip = self._setup()
        before = {k: v.clone() for k, v in model.state_dict().items()}
        images = torch.cat([clip.image(0), clip.image(1)])
        boxes = [clip.box_at_model_size(0), clip.box_at_model_size(1)]
        loss, ious = seg_batch(wr, model, images, boxes, [clip.mask(0), clip.mask(1)])
        self.assertTrue(torch.isfinite(loss))
        self.assertEqual(len(ious), 2)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        loss.backward()
        opt.step()
        # The image encoder, prompt encoder and decoder learn; memory modules get no gradient.
        self.assertGreater(self._changed(model, before), 50)
        self.assertTrue(torch.equal(before["memory_attention.layers.0.self_attn.q_proj.weight"],
                                    model.state_dict()["memory_attention.layers.0.self_attn.q_proj.weight"]))

    def test_track_step_reaches_every_module(self):
        model, wr, consts, clip = self._setup()
        box = jitter_box(clip.box_at_model_size(0), random.Random(0), 0.1)
        loss, ious = track_clip(wr, consts, model, clip, 0, 4, box=box)
        self.assertTrue(torch.isfinite(loss))
        self.assertEqual(len(ious), 4)
        loss.backward()
        for prefix in ("image_encoder.", "memory_attention.", "sam_mask_decoder.",
                       "memory_encoder.", "maskmem_tpos_enc"):
            grads = [p.grad for n, p in model.named_parameters() if n.startswith(prefix)]
            self.assertTrue(any(g is not None and float(g.abs().sum()) > 0 for g in grads), prefix)


if __name__ == "__main__":
    unittest.main()
