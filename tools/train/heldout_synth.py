"""python3 tools/train/heldout_synth.py --out DIR [--count N] [--frames F] [--size WxH] [--seed S]

The held-out clip generator of issue 17: clips that the default model is never trained on, to
measure whether it learned tracking or only its training generator. It shares no code and no
texture functions with the training generator (tools/train/katana_train/gen.py, which draws
Pillow shapes filled with value noise, stripes, checkers and dots on clutter, and moves them with
Pillow affine warps). This module uses numpy only (Pillow just writes the PNGs) and differs on
purpose in every part:
- textures are analytic: sums of random plane waves through a colour palette ("plasma"),
  Voronoi cells with per-cell colours and dark borders, hue rings and plaid weaves;
- the target is an implicit star-shaped blob (radius a random Fourier series of the angle) or a
  superellipse, rasterised by evaluating the implicit function per pixel, with a soft edge;
- the camera is a float crop of a world-sized canvas sampled with our own bilinear lookup, so pan
  and zoom move the background and the target together;
- each clip has camera pan plus one main event, cycling over the clip index: a jump (the target
  teleports), a zoom (in then out by up to 1.8x), a full occlusion (a textured pillar fixed in the
  world that the target passes behind, completely hidden for several frames) or a look-alike
  (the target's shape with a hue-shifted texture) crossing it, in front or behind;
- sensor noise and a global gamma drift.
Output: OUT/heldout-NNN/ with img/NNNNN.png, masks/NNNNN.png (0/255 visible target),
groundtruth.txt (x,y,w,h of the visible mask; 0,0,0,0 when not visible), full_occlusion.txt and
out_of_view.txt (comma-separated 0/1 per frame, LaSOT style), events.txt (the clip's event).
Deterministic by seed: same options, same bytes.
"""

import argparse
import os
import sys

import numpy as np
from PIL import Image

EVENTS = ("jump", "zoom", "occlusion", "lookalike", "lookalike_front")


def palette(rs, k=4):
    """[k,3] random colours; values along [0,1] are interpolated between them."""
    return rs.uniform(0, 255, (k, 3))


def through_palette(v, pal):
    """v [H,W] in [0,1] -> [H,W,3] colours by piecewise-linear interpolation in `pal`."""
    k = len(pal) - 1
    x = np.clip(v, 0, 1) * k
    i = np.minimum(x.astype(np.int64), k - 1)
    f = (x - i)[..., None]
    return pal[i] * (1 - f) + pal[i + 1] * f


def plasma(rs, h, w, waves=None):
    waves = waves or rs.randint(3, 9)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    acc = np.zeros((h, w))
    for _ in range(waves):
        th = rs.uniform(0, 2 * np.pi)
        lam = rs.uniform(8, max(9, 0.7 * max(h, w)))
        acc += np.sin((xx * np.cos(th) + yy * np.sin(th)) * 2 * np.pi / lam + rs.uniform(0, 7))
    acc = (acc - acc.min()) / max(1e-9, np.ptp(acc))
    return through_palette(acc, palette(rs, rs.randint(2, 6)))


def voronoi(rs, h, w, cells=None):
    cells = cells or rs.randint(6, 60)
    pts = np.stack([rs.uniform(0, h, cells), rs.uniform(0, w, cells)], 1)
    cols = rs.uniform(0, 255, (cells, 3))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    best = np.full((h, w), np.inf, np.float32)
    second = np.full((h, w), np.inf, np.float32)
    idx = np.zeros((h, w), np.int64)
    for i, (py, px) in enumerate(pts):
        d = (yy - py) ** 2 + (xx - px) ** 2
        closer = d < best
        second = np.where(closer, best, np.minimum(second, d))
        idx = np.where(closer, i, idx)
        best = np.where(closer, d, best)
    out = cols[idx]
    edge = (np.sqrt(second) - np.sqrt(best)) < rs.uniform(1.0, 3.0)
    out[edge] *= 0.25
    return out


def rings(rs, h, w):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cy, cx = rs.uniform(0, h), rs.uniform(0, w)
    r = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    v = 0.5 + 0.5 * np.cos(r * 2 * np.pi / rs.uniform(4, 30))
    return through_palette(v, palette(rs, 3))


def plaid(rs, h, w):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    a = 0.5 + 0.5 * np.sign(np.sin(xx * 2 * np.pi / rs.uniform(5, 40)))
    b = 0.5 + 0.5 * np.sign(np.sin(yy * 2 * np.pi / rs.uniform(5, 40)))
    return through_palette(0.5 * a + 0.5 * b, palette(rs, 3))


TEXTURES = (plasma, voronoi, rings, plaid)


def texture(rs, h, w):
    return TEXTURES[rs.randint(len(TEXTURES))](rs, h, w)


def blob_alpha(rs, n):
    """[n,n] f64 soft alpha of an implicit shape centred in the square."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    u, v = (xx - n / 2 + 0.5) / (n / 2), (yy - n / 2 + 0.5) / (n / 2)
    if rs.rand() < 0.6:
        th = np.arctan2(v, u)
        rad = np.full_like(th, 0.7)
        for k in range(1, 6):
            rad += rs.uniform(-0.25, 0.25) / k * np.cos(k * th + rs.uniform(0, 7))
        rad = np.clip(rad, 0.2, 0.98)
        f = np.sqrt(u * u + v * v) / rad
    else:
        p = rs.uniform(0.8, 5.0)
        f = (np.abs(u) / 0.95) ** p + (np.abs(v) / 0.95) ** p
        f = f ** (1 / p)
    return np.clip((1.0 - f) * n / 3.0 + 0.5, 0, 1)


def bilinear(img, ys, xs):
    """Samples img [H,W,C] at float coordinates ys, xs [h,w] (clamped at the border)."""
    H, W = img.shape[:2]
    ys = np.clip(ys, 0, H - 1.001)
    xs = np.clip(xs, 0, W - 1.001)
    y0, x0 = ys.astype(np.int64), xs.astype(np.int64)
    fy, fx = (ys - y0)[..., None], (xs - x0)[..., None]
    a = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    b = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return a * (1 - fy) + b * fy


def paste(frame, rgb, alpha, cx, cy, scale, aspect):
    """Composites a square sprite (rgb [n,n,3], alpha [n,n]) centred at frame pixel (cx, cy) with
    size n*scale (x stretched by aspect); returns the alpha it added as a full-frame [H,W]."""
    H, W = frame.shape[:2]
    n = alpha.shape[0]
    hw, hh = n * scale * aspect / 2, n * scale / 2
    x0, x1 = int(max(0, np.floor(cx - hw))), int(min(W, np.ceil(cx + hw)))
    y0, y1 = int(max(0, np.floor(cy - hh))), int(min(H, np.ceil(cy + hh)))
    full = np.zeros((H, W))
    if x1 <= x0 or y1 <= y0:
        return full
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    sy = (yy + 0.5 - cy) / scale + n / 2 - 0.5
    sx = (xx + 0.5 - cx) / (scale * aspect) + n / 2 - 0.5
    inside = (sy >= 0) & (sy <= n - 1) & (sx >= 0) & (sx <= n - 1)
    a = bilinear(alpha[..., None], sy, sx)[..., 0] * inside
    c = bilinear(rgb, sy, sx)
    region = frame[y0:y1, x0:x1]
    region[:] = region * (1 - a[..., None]) + c * a[..., None]
    full[y0:y1, x0:x1] = a
    return full


def make_clip(seed, index, frames, W, H, out_dir):
    rs = np.random.RandomState((seed * 7919 + index * 104729) % (2 ** 31))
    event = EVENTS[index % len(EVENTS)]
    world_w, world_h = int(W * 1.8), int(H * 1.8)
    world = texture(rs, world_h, world_w)
    if rs.rand() < 0.5:
        world = 0.55 * world + 0.45 * texture(rs, world_h, world_w)
    n = 128
    alpha = blob_alpha(rs, n)
    skin = texture(rs, n, n)
    # Target size: 3% to 20% of the frame area.
    area = rs.uniform(0.03, 0.2) * W * H
    aspect = float(np.exp(rs.uniform(-0.6, 0.6)))
    scale = np.sqrt(area / max(1.0, alpha.sum() * aspect))
    # World-space target path (pixels of the world canvas).
    pos = np.array([world_w / 2 + rs.uniform(-0.2, 0.2) * W, world_h / 2 + rs.uniform(-0.2, 0.2) * H])
    vel = rs.uniform(-1, 1, 2) * rs.uniform(2, 9)
    cam = np.array([world_w / 2, world_h / 2])
    cam_vel = rs.uniform(-1, 1, 2) * rs.uniform(1, 6)
    jump_t = rs.randint(frames // 3, 2 * frames // 3)
    occ_t = rs.randint(frames // 4, frames // 2)
    pillar = None
    if event == "occlusion":
        # A pillar in the world, placed where the target will be at occ_t, wide enough to hide it
        # for several frames; the target moves horizontally behind it.
        vel = np.array([np.sign(vel[0] or 1) * rs.uniform(3, 7), rs.uniform(-0.5, 0.5)])
        at = pos + vel * occ_t
        half = n * scale * aspect / 2
        pw = 2 * half + abs(vel[0]) * rs.randint(4, 9)
        pillar = (at[0] - pw / 2, at[0] + pw / 2, texture(rs, world_h, int(pw) + 2))
    look = None
    if event.startswith("lookalike"):
        hue = rs.permutation(3)
        lskin = skin[..., hue] * 0.8 + 0.2 * texture(rs, n, n)
        cross_t = rs.randint(frames // 4, 3 * frames // 4)
        lvel = -vel + rs.uniform(-2, 2, 2)
        look = (lskin, cross_t, lvel, event == "lookalike_front")
    gamma = 1 + np.cumsum(rs.normal(0, 0.01, frames))
    sigma = rs.uniform(0, 8)
    os.makedirs(os.path.join(out_dir, "img"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "masks"), exist_ok=True)
    gt, occ_flags, oov_flags = [], [], []
    path = []
    for t in range(frames):
        if event == "jump" and t == jump_t:
            pos = pos + np.array([rs.choice([-1, 1]) * rs.uniform(0.25, 0.4) * W,
                                  rs.choice([-1, 1]) * rs.uniform(0.15, 0.3) * H])
        path.append(pos.copy())
        pos = pos + vel
        if event == "occlusion":
            vel[1] *= 0.5  # steady horizontal motion, so the pillar hides it for a few frames
        else:
            vel = vel + rs.normal(0, 0.3, 2)
    path = np.array(path)
    for t in range(frames):
        zoom = 1.0
        if event == "zoom":
            zoom = 1 + 0.8 * np.sin(np.pi * t / max(1, frames - 1))
        cam = cam + cam_vel
        # Frame pixel (x, y) -> world (cam + (x - W/2) / zoom, ...).
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
        wy = cam[1] + (yy - H / 2) / zoom
        wx = cam[0] + (xx - W / 2) / zoom
        frame = bilinear(world, wy, wx)

        def to_frame(p):
            return (W / 2 + (p[0] - cam[0]) * zoom, H / 2 + (p[1] - cam[1]) * zoom)

        lk_alpha = None
        if look is not None:
            lskin, cross_t, lvel, front = look
            lp = path[cross_t] + lvel * (t - cross_t)
            lx, ly = to_frame(lp)
            if not front:
                paste(frame, lskin, alpha, lx, ly, scale * zoom, aspect)
        tx, ty = to_frame(path[t])
        vis = paste(frame, skin, alpha, tx, ty, scale * zoom, aspect)
        if look is not None and look[3]:
            a2 = paste(frame, look[0], alpha, lx, ly, scale * zoom, aspect)
            vis = vis * (1 - a2)
        if pillar is not None:
            x0w, x1w, ptex = pillar
            inside = (wx >= x0w) & (wx < x1w)
            px = np.clip(wx - x0w, 0, ptex.shape[1] - 1.001)
            col = bilinear(ptex, np.clip(wy, 0, world_h - 1.001), px)
            frame = np.where(inside[..., None], col, frame)
            vis = vis * (~inside)
        frame = 255.0 * (np.clip(frame, 0, 255) / 255.0) ** gamma[t]
        frame = frame + rs.normal(0, sigma, frame.shape)
        m = vis > 0.5
        Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8)).save(
            os.path.join(out_dir, "img", "%05d.png" % t))
        Image.fromarray(m.astype(np.uint8) * 255).save(
            os.path.join(out_dir, "masks", "%05d.png" % t))
        if m.any():
            ys, xs = np.nonzero(m)
            gt.append("%d,%d,%d,%d" % (xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                       ys.max() - ys.min() + 1))
            occ_flags.append(0)
            oov_flags.append(0)
        else:
            gt.append("0,0,0,0")
            in_view = 0 <= tx < W and 0 <= ty < H
            occ_flags.append(1 if in_view else 0)
            oov_flags.append(0 if in_view else 1)
    with open(os.path.join(out_dir, "groundtruth.txt"), "w") as f:
        f.write("\n".join(gt) + "\n")
    with open(os.path.join(out_dir, "full_occlusion.txt"), "w") as f:
        f.write(",".join(str(v) for v in occ_flags) + "\n")
    with open(os.path.join(out_dir, "out_of_view.txt"), "w") as f:
        f.write(",".join(str(v) for v in oov_flags) + "\n")
    with open(os.path.join(out_dir, "events.txt"), "w") as f:
        f.write(event + "\n")
    return event


def main(argv=None):
    ap = argparse.ArgumentParser(prog="heldout_synth")
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--size", default="854x480")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    try:
        W, H = (int(v) for v in a.size.lower().split("x"))
    except ValueError:
        print("heldout_synth: --size must be WxH, not '%s'" % a.size, file=sys.stderr)
        return 2
    if W < 64 or H < 64 or a.frames < 4 or a.count < 1:
        print("heldout_synth: need --size >= 64x64, --frames >= 4, --count >= 1", file=sys.stderr)
        return 2
    for i in range(a.count):
        d = os.path.join(a.out, "heldout-%03d" % i)
        ev = make_clip(a.seed, i, a.frames, W, H, d)
        print("heldout_synth: %s (%s)" % (d, ev), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
