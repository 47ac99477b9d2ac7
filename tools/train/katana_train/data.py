"""Synthetic clips written by `katana synth` (img/NNNNN.png, masks/NNNNN.png, groundtruth.txt),
resized to the model input as the reference preprocessing does (Pillow bicubic to S x S, /255,
ImageNet mean/std). Frames are cached as uint8 [S,S,3] (S*S*3 bytes each) and normalised on use."""

import os

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


def normalise(rgb_u8):
    """[S,S,3] u8 -> [1,3,S,S] f32 with ImageNet mean/std."""
    a = (rgb_u8.astype(np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(a.transpose(2, 0, 1).copy()).unsqueeze(0)


class Clip:
    """One clip, loaded lazily and cached at model size."""

    def __init__(self, clip_dir, size):
        self.dir = clip_dir
        self.size = size
        self.frames = _frames_of(clip_dir)
        self.boxes = read_boxes(os.path.join(clip_dir, "groundtruth.txt"))
        self.n = min(len(self.frames), len(self.boxes))
        with Image.open(self.frames[0]) as im:
            w, h = im.size
        self.src_w, self.src_h = w, h
        self._img = {}
        self._mask = {}

    def image_u8(self, t):
        """[S,S,3] u8 frame t resized with Pillow's default bicubic."""
        if t not in self._img:
            with Image.open(self.frames[t]) as src:
                im = src.convert("RGB").resize((self.size, self.size), Image.BICUBIC)
            self._img[t] = np.asarray(im, dtype=np.uint8).copy()
        return self._img[t]

    def image(self, t):
        """[1,3,S,S] f32 normalised frame t."""
        return normalise(self.image_u8(t))

    def mask(self, t):
        """[S,S] f32 ground-truth mask in {0,1} (bilinear resize of the 0/255 PNG, > 127)."""
        if t not in self._mask:
            p = os.path.join(self.dir, "masks", f"{t:05d}.png")
            if os.path.exists(p):
                with Image.open(p) as src:
                    m = src.convert("L").resize((self.size, self.size), Image.BILINEAR)
                self._mask[t] = (np.asarray(m) > 127).astype(np.uint8)
            else:
                self._mask[t] = np.zeros((self.size, self.size), np.uint8)
        return torch.from_numpy(self._mask[t].astype(np.float32))

    def box_at_model_size(self, t):
        """x0, y0, x1, y1 of the gt box in S x S pixels, or None if absent."""
        x, y, w, h = self.boxes[t]
        if w <= 0 or h <= 0 or not np.isfinite([x, y, w, h]).all():
            return None
        sx, sy = self.size / self.src_w, self.size / self.src_h
        return [x * sx, y * sy, (x + w) * sx, (y + h) * sy]


def jitter_box(box, rng, ratio):
    """Box prompt noise as in the SAM 2 training recipe: each corner moves by a normal offset with
    std `ratio` times the box side (clamped to 20 px at model size)."""
    if ratio <= 0:
        return box
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    dx = min(ratio * bw, 20.0)
    dy = min(ratio * bh, 20.0)
    out = [x0 + rng.gauss(0, dx), y0 + rng.gauss(0, dy), x1 + rng.gauss(0, dx), y1 + rng.gauss(0, dy)]
    if out[2] - out[0] < 2 or out[3] - out[1] < 2:
        return box
    return out


def sample_window(clip, length, rng):
    """Start index of a window of `length` frames whose first frame shows the target."""
    starts = [t for t in range(0, clip.n - length + 1) if clip.box_at_model_size(t) is not None]
    if not starts:
        return None
    return rng.choice(starts)
