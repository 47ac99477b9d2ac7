"""Tiny deterministic synthetic clip for tests: a textured ellipse moving on a textured
background, a distractor of similar texture, and an occluding bar the target passes behind.
No randomness beyond a fixed-seed numpy generator; pure numpy, writes PNGs."""

import os

import numpy as np


def _texture(rng, h, w, base, amp):
    """Smooth-ish colour texture: low-res noise upsampled by repetition plus fine noise."""
    lo = rng.integers(-amp, amp + 1, size=(h // 8 + 1, w // 8 + 1, 3))
    lo = np.repeat(np.repeat(lo, 8, axis=0), 8, axis=1)[:h, :w]
    fine = rng.integers(-amp // 3, amp // 3 + 1, size=(h, w, 3))
    return np.clip(np.asarray(base)[None, None] + lo + fine, 0, 255).astype(np.uint8)


def make_clip(n_frames=30, width=320, height=240, seed=0):
    """Returns (frames [N,H,W,3] uint8, boxes [N,4] int x,y,w,h of the visible target or None
    while fully occluded). Target: ellipse 56x40 moving right and slightly down; occluder: a
    vertical bar at x 170..200 covering it around frames 12..16; distractor: a similar ellipse
    moving left along the bottom."""
    rng = np.random.default_rng(seed)
    bg = _texture(rng, height, width, (90, 110, 80), 30)
    tgt_tex = _texture(rng, height, width, (200, 60, 50), 40)
    dis_tex = _texture(rng, height, width, (190, 80, 60), 40)
    occ_tex = _texture(rng, height, width, (60, 60, 160), 20)
    yy, xx = np.mgrid[0:height, 0:width]
    frames, boxes = [], []
    for t in range(n_frames):
        img = bg.copy()
        cx, cy = 40 + 8.0 * t, 80 + 1.5 * t
        dx, dy = width - 40 - 5.0 * t, height - 50
        dis = ((xx - dx) / 26.0) ** 2 + ((yy - dy) / 18.0) ** 2 <= 1.0
        img[dis] = dis_tex[dis]
        tgt = ((xx - cx) / 28.0) ** 2 + ((yy - cy) / 20.0) ** 2 <= 1.0
        img[tgt] = tgt_tex[tgt]
        occ = (xx >= 170) & (xx < 230)
        img[occ] = occ_tex[occ]
        vis = tgt & ~occ
        if vis.any():
            ys, xs = np.nonzero(vis)
            boxes.append([int(xs.min()), int(ys.min()), int(xs.max() - xs.min()),
                          int(ys.max() - ys.min())])
        else:
            boxes.append(None)
        frames.append(img)
    return np.stack(frames), boxes


def write_clip(folder, n_frames=30, width=320, height=240, seed=0, ext="png"):
    """Writes frames as 00000.<ext> ... and groundtruth.txt (x,y,w,h; 0,0,0,0 when hidden)."""
    from PIL import Image
    os.makedirs(folder, exist_ok=True)
    frames, boxes = make_clip(n_frames, width, height, seed)
    for i, f in enumerate(frames):
        kw = {"quality": 95} if ext == "jpg" else {}
        Image.fromarray(f).save(os.path.join(folder, "%05d.%s" % (i, ext)), **kw)
    with open(os.path.join(folder, "groundtruth.txt"), "w") as fh:
        for b in boxes:
            fh.write("%d,%d,%d,%d\n" % tuple(b if b is not None else (0, 0, 0, 0)))
    return frames, boxes
