"""On-the-fly training clips for the default model (issue 17), deterministic by (seed, index).

A clip is rendered at its own frame size (aspect 4:3 to 21:9, 288 to 576 pixels wide) and then
resized to the model input as the tracker's preprocessing does (Pillow bicubic to S x S), so the
model sees targets squeezed as it will at inference. What varies, per clip:
- the target: value-noise, stripe, checker or dot textures, flat colours, linear or radial
  gradients; ellipses, boxes, polygons, stars, rings (holes), crosses and thin-armed shapes,
  any aspect ratio, 2% to 40% of the frame;
- the background: multi-octave value noise, gradients, stripes, checkers, clutter of random
  shapes, mixed at several scales, on a canvas larger than the frame;
- the camera: pan, shake and zoom (an affine crop of the canvas), motion blur, sensor noise,
  JPEG artefacts and brightness ramps;
- events: jumps, leaving and re-entering the frame, occluders in front (some covering the target
  fully for several frames) and behind, look-alikes (the target's sprite recoloured) that cross
  the target.
The ground-truth mask is the visible part of the target; a frame whose visible area is under 16
source pixels counts as absent (box None, empty mask). Everything uses numpy and Pillow, so it
runs wherever the trainer runs (CPU or the host CPU of a CUDA machine).
"""

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .data import normalise

MIN_VISIBLE_PX = 16


# ---- textures --------------------------------------------------------------------------------

def _value_noise(rng, h, w, octaves=None):
    """[h,w] f32 in [0,1]: sum of bilinearly upsampled random grids at several scales."""
    octaves = octaves or int(rng.integers(1, 5))
    out = np.zeros((h, w), np.float32)
    amp, tot = 1.0, 0.0
    cells = int(rng.integers(2, 9))
    for _ in range(octaves):
        g = rng.random((cells + 1, cells + 1)).astype(np.float32)
        im = Image.fromarray((g * 255).astype(np.uint8)).resize((w, h), Image.BILINEAR)
        out += amp * np.asarray(im, np.float32) / 255.0
        tot += amp
        amp *= float(rng.uniform(0.35, 0.7))
        cells = min(cells * 2 + int(rng.integers(0, 3)), max(h, w) // 2)
    return out / tot


def _colour(rng):
    return rng.integers(0, 256, 3).astype(np.float32)


def _texture(rng, h, w):
    """[h,w,3] f32 in [0,255] of a random kind."""
    kind = rng.choice(["noise", "noise", "flat", "lgrad", "rgrad", "stripes", "checker", "dots",
                       "noise2"])
    c0, c1 = _colour(rng), _colour(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "flat":
        t = np.zeros((h, w), np.float32) + float(rng.uniform(0, 0.15))
    elif kind == "lgrad":
        a = rng.uniform(0, np.pi)
        t = (np.cos(a) * xx + np.sin(a) * yy)
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    elif kind == "rgrad":
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        t = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        t = t / max(1e-6, float(t.max()))
    elif kind == "stripes":
        a = rng.uniform(0, np.pi)
        period = rng.uniform(3, max(4, min(h, w) / 2))
        t = 0.5 + 0.5 * np.sin(2 * np.pi * (np.cos(a) * xx + np.sin(a) * yy) / period)
        if rng.random() < 0.5:
            t = (t > 0.5).astype(np.float32)
    elif kind == "checker":
        p = rng.uniform(3, max(4, min(h, w) / 3))
        t = ((np.floor(xx / p) + np.floor(yy / p)) % 2).astype(np.float32)
    elif kind == "dots":
        p = rng.uniform(4, max(5, min(h, w) / 3))
        t = ((((xx % p) - p / 2) ** 2 + ((yy % p) - p / 2) ** 2) < (p * 0.3) ** 2)
        t = t.astype(np.float32)
    elif kind == "noise2":
        t = _value_noise(rng, h, w)
        t = (t > np.median(t)).astype(np.float32) * 0.7 + 0.3 * _value_noise(rng, h, w)
    else:
        t = _value_noise(rng, h, w)
    out = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    if rng.random() < 0.3:  # a second, finer layer
        out = 0.7 * out + 0.3 * _value_noise(rng, h, w, 3)[..., None] * _colour(rng)[None, None]
    return out.astype(np.float32)


def _shape_mask(rng, n):
    """[n,n] u8 0/255 alpha of a random shape filling most of the square."""
    im = Image.new("L", (n, n), 0)
    d = ImageDraw.Draw(im)
    m = n * 0.05
    kind = rng.choice(["ellipse", "rect", "poly", "star", "ring", "cross", "thin", "blob", "rrect"])
    if kind == "ellipse":
        d.ellipse([m, m, n - m, n - m], fill=255)
    elif kind == "rect":
        d.rectangle([m, m, n - m, n - m], fill=255)
    elif kind == "rrect":
        d.rounded_rectangle([m, m, n - m, n - m], radius=int(n * rng.uniform(0.05, 0.3)), fill=255)
    elif kind in ("poly", "star", "blob"):
        k = int(rng.integers(3, 9)) if kind == "poly" else int(rng.integers(4, 12))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k)) if kind != "star" else \
            np.linspace(0, 2 * np.pi, 2 * k, endpoint=False)
        if kind == "star":
            r = np.where(np.arange(2 * k) % 2 == 0, 0.47, rng.uniform(0.15, 0.35)) * n
        elif kind == "blob":
            r = rng.uniform(0.25, 0.47, len(ang)) * n
        else:
            r = np.full(len(ang), 0.47 * n)
        pts = [(n / 2 + float(ri * np.cos(a)), n / 2 + float(ri * np.sin(a)))
               for ri, a in zip(r, ang)]
        d.polygon(pts, fill=255)
    elif kind == "ring":
        d.ellipse([m, m, n - m, n - m], fill=255)
        h = n * rng.uniform(0.2, 0.38)
        d.ellipse([n / 2 - h, n / 2 - h, n / 2 + h, n / 2 + h], fill=0)
        if rng.random() < 0.5:  # a second hole
            d.rectangle([n * 0.1, n * 0.45, n * 0.25, n * 0.55], fill=0)
    elif kind == "cross":
        w = n * rng.uniform(0.12, 0.3)
        d.rectangle([n / 2 - w / 2, m, n / 2 + w / 2, n - m], fill=255)
        d.rectangle([m, n / 2 - w / 2, n - m, n / 2 + w / 2], fill=255)
    else:  # a body with thin arms
        d.ellipse([n * 0.3, n * 0.3, n * 0.7, n * 0.7], fill=255)
        for _ in range(int(rng.integers(2, 5))):
            a = rng.uniform(0, 2 * np.pi)
            d.line([(n / 2, n / 2), (n / 2 + 0.47 * n * np.cos(a), n / 2 + 0.47 * n * np.sin(a))],
                   fill=255, width=max(2, int(n * rng.uniform(0.02, 0.06))))
    return np.asarray(im, np.uint8)


def _background(rng, h, w):
    """[h,w,3] f32 canvas: a base texture, then clutter shapes at several scales."""
    bg = _texture(rng, h, w)
    if rng.random() < 0.5:
        bg = 0.6 * bg + 0.4 * _texture(rng, h, w)
    n_clutter = int(rng.integers(0, 25))
    for _ in range(n_clutter):
        s = int(rng.uniform(0.03, 0.3) * min(h, w)) + 4
        sh = _shape_mask(rng, s).astype(np.float32)[..., None] / 255.0
        tex = _texture(rng, s, s)
        y, x = int(rng.integers(0, h - s)), int(rng.integers(0, w - s))
        bg[y:y + s, x:x + s] = bg[y:y + s, x:x + s] * (1 - sh) + tex * sh
    return bg


# ---- sprites and motion ----------------------------------------------------------------------

class _Sprite:
    """A textured shape: rgb [n,n,3] u8 and alpha [n,n] u8, placed per frame by an affine map."""

    def __init__(self, rgb, alpha):
        self.rgb = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
        self.alpha = Image.fromarray(alpha)
        self.n = alpha.shape[0]

    def render(self, W, H, cx, cy, sx, sy, rot):
        """(rgb [H,W,3] f32, alpha [H,W] f32 in [0,1]) with the sprite centred at (cx, cy),
        sprite pixel scale (sx, sy) and rotation rot (radians)."""
        c, s = np.cos(rot), np.sin(rot)
        # Output pixel (x, y) -> sprite pixel: inverse of translate * rotate * scale.
        dx, dy = 0.5, 0.5
        a = c / sx
        b = s / sx
        d_ = -s / sy
        e = c / sy
        n2 = self.n / 2
        ox, oy = -cx + dx, -cy + dy
        data = (a, b, a * ox + b * oy + n2, d_, e, d_ * ox + e * oy + n2)
        rgb = self.rgb.transform((W, H), Image.AFFINE, data, resample=Image.BILINEAR)
        al = self.alpha.transform((W, H), Image.AFFINE, data, resample=Image.BILINEAR)
        return np.asarray(rgb, np.float32), np.asarray(al, np.float32) / 255.0


def _path(rng, T, W, H, speed, jumps=0, leave=False):
    """[T,2] centre positions: smooth random acceleration, bounces, optional jumps and an
    optional excursion out of the frame and back."""
    p = np.array([rng.uniform(0.2, 0.8) * W, rng.uniform(0.2, 0.8) * H])
    v = rng.normal(0, speed, 2)
    out = np.zeros((T, 2))
    jump_at = set(rng.integers(2, max(3, T), jumps).tolist()) if jumps else set()
    leave_at = int(rng.integers(1, max(2, T // 2))) if leave else -1
    leave_len = int(rng.integers(2, max(3, T // 3))) if leave else 0
    for t in range(T):
        if t in jump_at:
            p = np.array([rng.uniform(0.15, 0.85) * W, rng.uniform(0.15, 0.85) * H])
        if leave and leave_at <= t < leave_at + leave_len:
            side = leave_at % 4
            tgt = [(-0.4 * W, p[1]), (1.4 * W, p[1]), (p[0], -0.4 * H), (p[0], 1.4 * H)][side]
            p = p + (np.array(tgt) - p) * 0.45
        else:
            v = 0.85 * v + rng.normal(0, speed * 0.5, 2)
            p = p + v
            for i, lim in ((0, W), (1, H)):
                if p[i] < 0.05 * lim or p[i] > 0.95 * lim:
                    v[i] = -v[i]
                    p[i] = np.clip(p[i], 0.05 * lim, 0.95 * lim)
        out[t] = p
    return out


class SynthClip:
    """One generated clip with the interface of data.Clip (n, size, image, image_u8, mask,
    box_at_model_size); all frames are rendered at construction (about 5 ms a frame)."""

    def __init__(self, seed, index, size, frames):
        rng = np.random.default_rng([int(seed), int(index)])
        self.size, self.n = size, frames
        aspect = float(rng.uniform(4 / 3, 21 / 9))
        W = int(rng.integers(288, 577))
        H = max(96, int(round(W / aspect)))
        self.src_w, self.src_h = W, H
        # Background canvas, larger than the frame for pan and zoom.
        pad = 1.6
        CW, CH = int(W * pad), int(H * pad)
        canvas = Image.fromarray(np.clip(_background(rng, CH, CW), 0, 255).astype(np.uint8))
        # Target sprite.
        n = 96
        alpha = _shape_mask(rng, n)
        tgt = _Sprite(_texture(rng, n, n), alpha)
        area = float(np.exp(rng.uniform(np.log(0.02), np.log(0.4)))) * W * H
        fill = max(0.2, float((alpha > 127).mean()))
        ar = float(np.exp(rng.uniform(np.log(0.33), np.log(3.0))))
        side = np.sqrt(area / fill)
        sx0, sy0 = side * np.sqrt(ar) / n, side / np.sqrt(ar) / n
        speed = float(rng.uniform(0.002, 0.03)) * W
        jumps = int(rng.random() < 0.25)
        leave = bool(rng.random() < 0.25)
        path = _path(rng, frames, W, H, speed, jumps, leave)
        rot0 = rng.uniform(0, 2 * np.pi)
        rot_v = rng.normal(0, 0.05)
        scale_path = np.exp(np.cumsum(rng.normal(0, 0.03, frames)))
        scale_path = np.clip(scale_path, 0.5, 2.0)
        # Look-alikes: the same shape with a perturbed colour, some in front of the target.
        looks = []
        for _ in range(int(rng.choice([0, 0, 1, 1, 2]))):
            rgb = np.asarray(tgt.rgb, np.float32)
            if rng.random() < 0.5:
                rgb = rgb * rng.uniform(0.7, 1.3, 3)[None, None]
            else:
                rgb = rgb + rng.normal(0, 25, 3)[None, None]
            looks.append((_Sprite(rgb, alpha if rng.random() < 0.7 else _shape_mask(rng, n)),
                          _cross_path(rng, path, frames, W, H), rng.uniform(0.7, 1.3),
                          bool(rng.random() < 0.4)))
        # Occluders in front (one may hide the target fully) and behind.
        occ = []
        for _ in range(int(rng.choice([0, 1, 1, 2, 3]))):
            s = 64
            sp = _Sprite(_texture(rng, s, s), _shape_mask(rng, s) if rng.random() < 0.5 else
                         np.full((s, s), 255, np.uint8))
            front = bool(rng.random() < 0.7)
            full = front and rng.random() < 0.6
            if full:  # parked on the target's path for a while, big enough to cover it
                k0 = int(rng.integers(1, max(2, frames - 3)))
                k1 = min(frames, k0 + int(rng.integers(2, max(3, frames // 3))))
                cpath = _park_path(rng, path, frames, k0, k1, W, H)
                big = 1.6 * max(sx0, sy0) * n * scale_path.max() / s
                occ.append((sp, cpath, big, big * rng.uniform(0.8, 1.4), True))
            else:
                sz = rng.uniform(0.1, 0.5) * min(W, H) / s
                occ.append((sp, _cross_path(rng, path, frames, W, H), sz,
                            sz * rng.uniform(0.4, 2.5), front))
        # Camera: pan and shake (canvas offset) and zoom.
        cam = np.cumsum(rng.normal(0, rng.uniform(0, 0.01) * W, (frames, 2)), 0)
        cam += rng.normal(0, rng.uniform(0, 0.004) * W, (frames, 2)) * (rng.random() < 0.4)
        zoom = np.exp(np.cumsum(rng.normal(0, rng.uniform(0, 0.02), frames)))
        zoom = np.clip(zoom, 0.7, 1.4)
        blur = rng.random() < 0.3
        noise = float(rng.uniform(0, 12)) if rng.random() < 0.5 else 0.0
        jpeg = int(rng.integers(15, 80)) if rng.random() < 0.4 else 0
        bright = 1 + np.cumsum(rng.normal(0, 0.02, frames)) * (rng.random() < 0.4)
        self._img, self._mask, self._box = [], [], []
        for t in range(frames):
            z = zoom[t]
            ox = (CW - W / z) / 2 + cam[t, 0]
            oy = (CH - H / z) / 2 + cam[t, 1]
            ox = float(np.clip(ox, 0, CW - W / z))
            oy = float(np.clip(oy, 0, CH - H / z))
            frame = np.asarray(canvas.transform((W, H), Image.AFFINE,
                                                (1 / z, 0, ox, 0, 1 / z, oy),
                                                resample=Image.BILINEAR), np.float32).copy()

            # Object positions are in frame coordinates around the frame centre, zoomed.
            def place(pt):
                return (W / 2 + (pt[0] - W / 2) * z, H / 2 + (pt[1] - H / 2) * z)

            for sp, pth, ssx, ssy, front in occ:
                if not front:
                    cx, cy = place(pth[t])
                    rgb, al = sp.render(W, H, cx, cy, ssx * z, ssy * z, 0.0)
                    frame = frame * (1 - al[..., None]) + rgb * al[..., None]
            for sp, pth, sc, front in looks:
                if not front:
                    cx, cy = place(pth[t])
                    rgb, al = sp.render(W, H, cx, cy, sx0 * sc * z, sy0 * sc * z, rot0)
                    frame = frame * (1 - al[..., None]) + rgb * al[..., None]
            cx, cy = place(path[t])
            sc = scale_path[t] * z
            rgb, al = tgt.render(W, H, cx, cy, sx0 * sc, sy0 * sc, rot0 + rot_v * t)
            frame = frame * (1 - al[..., None]) + rgb * al[..., None]
            vis = al
            for sp, pth, sc2, front in looks:
                if front:
                    lx, ly = place(pth[t])
                    rgb, a2 = sp.render(W, H, lx, ly, sx0 * sc2 * z, sy0 * sc2 * z, rot0)
                    frame = frame * (1 - a2[..., None]) + rgb * a2[..., None]
                    vis = vis * (1 - a2)
            for sp, pth, ssx, ssy, front in occ:
                if front:
                    ox2, oy2 = place(pth[t])
                    rgb, a2 = sp.render(W, H, ox2, oy2, ssx * z, ssy * z, 0.0)
                    frame = frame * (1 - a2[..., None]) + rgb * a2[..., None]
                    vis = vis * (1 - a2)
            frame = frame * bright[t]
            if noise:
                frame = frame + rng.normal(0, noise, frame.shape)
            im = Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8))
            if blur and t > 0:
                v = np.hypot(*(path[t] - path[t - 1]))
                if v > 3:
                    im = im.filter(ImageFilter.BoxBlur(min(4.0, v / 6)))
            if jpeg:
                buf = io.BytesIO()
                im.save(buf, "JPEG", quality=jpeg)
                buf.seek(0)
                im = Image.open(buf).convert("RGB")
            m = vis > 0.5
            if m.sum() < MIN_VISIBLE_PX:
                m[:] = False
            self._img.append(np.asarray(im.resize((size, size), Image.BICUBIC), np.uint8))
            mm = Image.fromarray(m.astype(np.uint8) * 255).resize((size, size), Image.BILINEAR)
            ms = (np.asarray(mm) > 127).astype(np.uint8)
            self._mask.append(ms)
            if m.any() and ms.any():
                ys, xs = np.nonzero(m)
                k = (size / W, size / H)
                self._box.append([xs.min() * k[0], ys.min() * k[1], (xs.max() + 1) * k[0],
                                  (ys.max() + 1) * k[1]])
            else:
                self._box.append(None)

    def image_u8(self, t):
        return self._img[t]

    def image(self, t):
        return normalise(self._img[t])

    def mask(self, t):
        import torch
        return torch.from_numpy(self._mask[t].astype(np.float32))

    def box_at_model_size(self, t):
        return self._box[t]


def _cross_path(rng, path, T, W, H):
    """A straight path from one side of the frame to the other through a point of the
    target's path (so the object crosses the target)."""
    k = int(rng.integers(0, T))
    a = rng.uniform(0, 2 * np.pi)
    v = rng.uniform(0.01, 0.05) * W
    d = np.array([np.cos(a), np.sin(a)]) * v
    return np.array([path[k] + d * (t - k) for t in range(T)])


def _park_path(rng, path, T, k0, k1, W, H):
    """Far away, then sitting on the target for frames [k0, k1), then far away again."""
    out = np.zeros((T, 2))
    far = np.array([-10.0 * W, -10.0 * H])
    for t in range(T):
        out[t] = path[t] if k0 <= t < k1 else far
    return out


class ClipStream:
    """Clips index 0, 1, 2, ... of one seed; `next()` advances a counter that is part of the
    trainer's resumable state, so a resumed run sees the same clips as an uninterrupted one."""

    def __init__(self, seed, size, frames):
        self.seed, self.size, self.frames, self.index = seed, size, frames, 0

    def next(self):
        c = SynthClip(self.seed, self.index, self.size, self.frames)
        self.index += 1
        return c
