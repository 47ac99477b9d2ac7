"""Synthetic clips written by `katana synth` (frames, masks/NNNNN.png, groundtruth.txt), loaded
and resized to the model's input exactly as the reference preprocessing does (Pillow bicubic to
S x S, /255, ImageNet mean/std)."""

import os
import random

import numpy as np
import torch
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def _frames_of(clip_dir):
    for sub in ("img", "frames", "."):
        d = os.path.join(clip_dir, sub)
        if not os.path.isdir(d):
            continue
        files = sorted(f for f in os.listdir(d) if f.lower().endswith((".png", ".jpg", ".jpeg")))
        if files:
            return [os.path.join(d, f) for f in files]
    raise FileNotFoundError(f"no frames in {clip_dir}")


def list_clips(root):
    """Clip folders under `root` (each with groundtruth.txt), sorted."""
    out = []
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        if os.path.isfile(os.path.join(d, "groundtruth.txt")):
            out.append(d)
    if not out:
        raise FileNotFoundError(f"no clips (folders with groundtruth.txt) under {root}")
    return out


def read_boxes(path):
    boxes = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            v = [float(x) for x in line.replace("\t", ",").replace(" ", ",").split(",") if x]
            boxes.append(v[:4])
    return np.array(boxes, dtype=np.float32)


class Clip:
    """One clip, preprocessed lazily and cached: image tensors [1,3,S,S] f32 and masks [S,S] f32."""

    def __init__(self, clip_dir, size):
        self.dir = clip_dir
        self.size = size
        self.frames = _frames_of(clip_dir)
        self.boxes = read_boxes(os.path.join(clip_dir, "groundtruth.txt"))
        self.n = min(len(self.frames), len(self.boxes))
        w, h = Image.open(self.frames[0]).size
        self.src_w, self.src_h = w, h
        self._img = {}
        self._mask = {}

    def image(self, t):
        if t not in self._img:
            im = Image.open(self.frames[t]).convert("RGB").resize((self.size, self.size))
            a = (np.asarray(im, dtype=np.float32) / 255.0 - MEAN) / STD
            self._img[t] = torch.from_numpy(a.transpose(2, 0, 1).copy()).unsqueeze(0)
        return self._img[t]

    def mask(self, t):
        """Ground-truth mask at S x S (bilinear resize of the 0/255 mask, > 0.5)."""
        if t not in self._mask:
            p = os.path.join(self.dir, "masks", f"{t:05d}.png")
            if os.path.exists(p):
                m = Image.open(p).convert("L").resize((self.size, self.size), Image.BILINEAR)
                self._mask[t] = torch.from_numpy((np.asarray(m) > 127).astype(np.float32))
            else:
                self._mask[t] = torch.zeros(self.size, self.size)
        return self._mask[t]

    def box_at_model_size(self, t):
        """x0, y0, x1, y1 of the gt box in S x S pixels, or None if absent."""
        x, y, w, h = self.boxes[t]
        if w <= 0 or h <= 0 or not np.isfinite([x, y, w, h]).all():
            return None
        sx, sy = self.size / self.src_w, self.size / self.src_h
        return [x * sx, y * sy, (x + w) * sx, (y + h) * sy]


def sample_window(clip, length, rng: random.Random):
    """Start index of a window of `length` frames whose first frame shows the target."""
    starts = [t for t in range(0, clip.n - length + 1) if clip.box_at_model_size(t) is not None]
    if not starts:
        return None
    return rng.choice(starts)
