"""Host-side numerics of the tracker, written so the C port can mirror it function by function.

Every function names the reference code it reproduces (SAMURAI fork of SAM 2 unless said):
  sam2/sam2/utils/kalman_filter.py            -> KalmanFilter (float64, DeepSORT style)
  sam2/sam2/modeling/sam2_base.py             -> boxes from masks, object-score gating, choices
  sam2/sam2/modeling/sam/mask_decoder.py      -> stability score / dynamic multimask
  sam2/sam2/modeling/sam2_utils.py            -> get_1d_sine_pe
  torch.nn.functional.interpolate (CPU 1.13)  -> bilinear_resize (align_corners=False)
  torch.Tensor.to(torch.bfloat16)             -> round_bf16

dtype rules that matter for reproducing decisions (checked against torch 1.13 in the tests):
  * a float32 tensor compared with a Python float compares against float32(threshold);
  * SAMURAI's weighted score is float64(w * kf_iou) + float64(float32(1 - w) * iou_f32).
"""

import numpy as np

NO_OBJ_SCORE = -1024.0  # sam2_base.py NO_OBJ_SCORE

# ----------------------------------------------------------------------------------------------
# Kalman filter (kalman_filter.py KalmanFilter). State [cx, cy, a, h, vx, vy, va, vh], float64.
# ----------------------------------------------------------------------------------------------
STD_WEIGHT_POSITION = 1.0 / 20
STD_WEIGHT_VELOCITY = 1.0 / 160


def kf_motion_mat():
    """KalmanFilter.__init__ _motion_mat: 8x8 identity with dt=1 on (i, 4+i)."""
    m = np.eye(8, dtype=np.float64)
    for i in range(4):
        m[i, 4 + i] = 1.0
    return m


def kf_update_mat():
    """KalmanFilter.__init__ _update_mat: [I4 | 0]."""
    return np.eye(4, 8, dtype=np.float64)


def kf_initiate(measurement):
    """KalmanFilter.initiate: measurement (cx, cy, a, h) -> (mean[8], cov[8,8])."""
    meas = np.asarray(measurement, dtype=np.float64)
    mean = np.concatenate([meas, np.zeros(4)])
    h = meas[3]
    std = np.array([2 * STD_WEIGHT_POSITION * h, 2 * STD_WEIGHT_POSITION * h, 1e-2,
                    2 * STD_WEIGHT_POSITION * h, 10 * STD_WEIGHT_VELOCITY * h,
                    10 * STD_WEIGHT_VELOCITY * h, 1e-5, 10 * STD_WEIGHT_VELOCITY * h])
    return mean, np.diag(np.square(std))


def kf_predict(mean, cov):
    """KalmanFilter.predict: constant-velocity step, process noise from the current height."""
    h = mean[3]
    std = np.array([STD_WEIGHT_POSITION * h, STD_WEIGHT_POSITION * h, 1e-2,
                    STD_WEIGHT_POSITION * h, STD_WEIGHT_VELOCITY * h, STD_WEIGHT_VELOCITY * h,
                    1e-5, STD_WEIGHT_VELOCITY * h])
    motion_cov = np.diag(np.square(std))
    f = kf_motion_mat()
    new_mean = np.dot(mean, f.T)
    new_cov = np.linalg.multi_dot((f, cov, f.T)) + motion_cov
    return new_mean, new_cov


def kf_project(mean, cov):
    """KalmanFilter.project: state -> measurement space with innovation noise."""
    h = mean[3]
    std = np.array([STD_WEIGHT_POSITION * h, STD_WEIGHT_POSITION * h, 1e-1,
                    STD_WEIGHT_POSITION * h])
    u = kf_update_mat()
    return np.dot(u, mean), np.linalg.multi_dot((u, cov, u.T)) + np.diag(np.square(std))


def cholesky_lower(a):
    """Lower Cholesky factor of a symmetric positive-definite matrix (Cholesky-Banachiewicz,
    row by row). The reference uses scipy.linalg.cho_factor (LAPACK potrf); results agree to
    rounding (~1e-16 relative), far below anything a decision depends on."""
    n = a.shape[0]
    l = np.zeros_like(a, dtype=np.float64)
    for i in range(n):
        for j in range(i + 1):
            s = a[i, j] - np.dot(l[i, :j], l[j, :j])
            if i == j:
                l[i, j] = np.sqrt(s)
            else:
                l[i, j] = s / l[j, j]
    return l


def cholesky_solve(l, b):
    """Solve (L L^T) x = b for x, b [n, k] (scipy.linalg.cho_solve with lower=True)."""
    n = l.shape[0]
    y = np.zeros_like(b, dtype=np.float64)
    for i in range(n):  # forward: L y = b
        y[i] = (b[i] - np.dot(l[i, :i], y[:i])) / l[i, i]
    x = np.zeros_like(b, dtype=np.float64)
    for i in range(n - 1, -1, -1):  # backward: L^T x = y
        x[i] = (y[i] - np.dot(l[i + 1:, i], x[i + 1:])) / l[i, i]
    return x


def kf_update(mean, cov, measurement):
    """KalmanFilter.update: Kalman gain via Cholesky solve of the projected covariance."""
    meas = np.asarray(measurement, dtype=np.float64)
    proj_mean, proj_cov = kf_project(mean, cov)
    u = kf_update_mat()
    l = cholesky_lower(proj_cov)
    gain = cholesky_solve(l, np.dot(cov, u.T).T).T  # [8,4]
    innovation = meas - proj_mean
    new_mean = mean + np.dot(innovation, gain.T)
    new_cov = cov - np.linalg.multi_dot((gain, proj_cov, gain.T))
    return new_mean, new_cov


def xyxy_to_xyah(box):
    """KalmanFilter.xyxy_to_xyah: integer pixel box -> (cx, cy, w/h, h); h == 0 becomes 1."""
    x1, y1, x2, y2 = box
    xc = (x1 + x2) / 2
    yc = (y1 + y2) / 2
    w = x2 - x1
    h = y2 - y1
    if h == 0:
        h = 1
    return [xc, yc, w / h, h]


def xyah_to_xyxy(state4):
    """KalmanFilter.xyah_to_xyxy."""
    xc, yc, a, h = state4
    return [xc - a * h / 2, yc - h / 2, xc + a * h / 2, yc + h / 2]


def box_iou_xyxy(b1, b2):
    """KalmanFilter._compute_iou: IoU of two xyxy boxes, 0 when b2 is [0,0,0,0] (empty mask)
    or the union is 0. No +1 on widths (boxes are pixel-index extremes)."""
    if list(b2) == [0, 0, 0, 0]:
        return 0
    x1, y1, x2, y2 = b1
    x1_, y1_, x2_, y2_ = b2
    inter = max(0, min(x2, x2_) - max(x1, x1_)) * max(0, min(y2, y2_) - max(y1, y1_))
    union = (x2 - x1) * (y2 - y1) + (x2_ - x1_) * (y2_ - y1_) - inter
    return inter / union if union != 0 else 0


def kf_ious(mean, boxes):
    """KalmanFilter.compute_iou(kf_mean[:4], boxes): IoU of the predicted box with each box."""
    pred = xyah_to_xyxy(mean[:4])
    return np.array([box_iou_xyxy(pred, b) for b in boxes], dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# Masks and boxes
# ----------------------------------------------------------------------------------------------
def box_from_mask(mask_bool):
    """sam2_base.py _forward_sam_heads (samurai_mode): [x_min, y_min, x_max, y_max] of the True
    pixels (inclusive pixel indices, Python ints); [0, 0, 0, 0] for an empty mask."""
    ys = np.flatnonzero(mask_bool.any(axis=1))
    if ys.size == 0:
        return [0, 0, 0, 0]
    xs = np.flatnonzero(mask_bool.any(axis=0))
    return [int(xs[0]), int(ys[0]), int(xs[-1]), int(ys[-1])]


def box_xywh_from_mask(mask_bool):
    """scripts/main_inference.py: LaSOT box [x_min, y_min, x_max - x_min, y_max - y_min]."""
    x0, y0, x1, y1 = box_from_mask(mask_bool)
    return [x0, y0, x1 - x0, y1 - y0]


def _linear_indices_weights(in_size, out_size):
    """torch 1.13 CPU upsample (align_corners=False) source indices and lambdas per output index
    (UpSample.h compute_source_index_and_lambda): scale = float32(in/out); the source position
    scale * (i + 0.5) - 0.5 is evaluated in double (the 0.5 literal is a double), clamped at 0;
    lambda1 = float32(pos - i0); lambda0 = float32(1 - lambda1)."""
    if in_size == out_size:
        idx = np.arange(out_size)
        return idx, idx, np.ones(out_size, np.float32), np.zeros(out_size, np.float32)
    scale = np.float64(np.float32(np.float32(in_size) / np.float32(out_size)))
    real = scale * (np.arange(out_size, dtype=np.float64) + 0.5) - 0.5
    real = np.maximum(real, 0.0)
    i0 = real.astype(np.int64)
    i1 = np.where(i0 < in_size - 1, i0 + 1, i0)
    l1 = np.clip(real - i0, 0.0, 1.0).astype(np.float32)
    l0 = (np.float32(1.0) - l1).astype(np.float32)
    return i0, i1, l0, l1


def _fmaf(a, b, c):
    """fmaf(a, b, c) for float32 arrays: the product of two floats is exact in double; the sum
    is rounded to double then float (a double rounding that differs from a true fmaf only in
    vanishingly rare ties; the C port calls fmaf)."""
    return (a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)).astype(
        np.float32)


def bilinear_resize(x, out_h, out_w):
    """F.interpolate(x[None], size=(out_h, out_w), mode='bilinear', align_corners=False) on the
    CPU of torch 1.13 for x [C, H, W] float32, bit-exact (checked in the tests). torch runs a
    different kernel for C == 1 (a [1,1,H,W] tensor is also channels-last contiguous):
      C == 1: w_ab = f32(wy_a * wx_b); out = f32(x00*w00 + x01*w01 + x10*w10 + x11*w11 in double)
      C  > 1: t_a = fmaf(x_a0, wx0, x_a1*wx1) per row a; out = fmaf(t_0, wy0, t_1*wy1)
    (the C > 1 kernel is compiled with FMA contraction)."""
    x = np.asarray(x, dtype=np.float32)
    c, in_h, in_w = x.shape
    y0, y1, wy0, wy1 = _linear_indices_weights(in_h, out_h)
    x0, x1, wx0, wx1 = _linear_indices_weights(in_w, out_w)
    wy0, wy1 = wy0[:, None], wy1[:, None]
    r0 = x[:, y0, :]
    r1 = x[:, y1, :]
    p, q = r0[:, :, x0], r0[:, :, x1]
    r, s = r1[:, :, x0], r1[:, :, x1]
    if c == 1:
        w00, w01 = (wy0 * wx0).astype(np.float32), (wy0 * wx1).astype(np.float32)
        w10, w11 = (wy1 * wx0).astype(np.float32), (wy1 * wx1).astype(np.float32)
        d = np.float64
        return (p.astype(d) * w00 + q.astype(d) * w01 + r.astype(d) * w10 +
                s.astype(d) * w11).astype(np.float32)
    t0 = _fmaf(p, wx0, (q * wx1).astype(np.float32))
    t1 = _fmaf(r, wx0, (s * wx1).astype(np.float32))
    return _fmaf(t0, wy0, (t1 * wy1).astype(np.float32))


def gate_masks(masks, obj_score_logit, min_obj_score_logits):
    """sam2_base.py _forward_sam_heads: masks of an absent object (score <= threshold, compared
    in float32) become NO_OBJ_SCORE. Returns (masks, present)."""
    present = bool(np.float32(obj_score_logit) > np.float32(min_obj_score_logits))
    if present:
        return masks, True
    return np.full_like(masks, NO_OBJ_SCORE), False


def stability_score(mask_logits, delta):
    """mask_decoder.py _get_stability_scores for one [h, w] mask: float32 area ratio of
    logits > delta over logits > -delta (1.0 when the larger area is 0)."""
    d = np.float32(delta)
    area_i = np.float32(np.count_nonzero(mask_logits > d))
    area_u = np.float32(np.count_nonzero(mask_logits > -d))
    return np.float32(area_i / area_u) if area_u > 0 else np.float32(1.0)


def dynamic_multimask_choice(masks4, iou4, delta, thresh):
    """mask_decoder.py _dynamic_multimask_via_stability: index (0..3) of the mask used when a
    single mask is requested: token 0 if its stability >= thresh, else the best multimask."""
    best_multi = 1 + int(np.argmax(iou4[1:]))
    stable = stability_score(masks4[0], delta) >= np.float32(thresh)
    return 0 if stable else best_multi


# ----------------------------------------------------------------------------------------------
# Encodings and storage
# ----------------------------------------------------------------------------------------------
def round_bf16(x):
    """x.to(torch.bfloat16).float(): round to nearest even on the upper 16 bits (NaN kept)."""
    a = np.ascontiguousarray(x, dtype=np.float32)
    bits = a.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    out = (rounded & 0xFFFFFFFF).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(a), a, out).astype(np.float32)


def sine_pe_1d(pos, dim, temperature=10000.0):
    """sam2_utils.py get_1d_sine_pe: pos [n] float32 -> [n, dim] float32 ([sin | cos])."""
    pe_dim = dim // 2
    dim_t = np.arange(pe_dim, dtype=np.float32)
    dim_t = np.power(np.float32(temperature),
                     (np.float32(2) * np.floor(dim_t / np.float32(2)) / np.float32(pe_dim))
                     .astype(np.float32)).astype(np.float32)
    pe = np.asarray(pos, dtype=np.float32)[:, None] / dim_t
    return np.concatenate([np.sin(pe), np.cos(pe)], axis=-1).astype(np.float32)


def box_prompt_points(box_xyxy, video_w, video_h, image_size):
    """sam2_video_predictor.py add_new_points_or_box: a box in video pixels becomes 2 points
    (labels 2, 3) in image_size pixels, computed in float32 as the reference does."""
    pts = np.asarray(box_xyxy, dtype=np.float32).reshape(1, 2, 2)
    pts = pts / np.array([video_w, video_h], dtype=np.float32)
    pts = (pts * np.float32(image_size)).astype(np.float32)
    labels = np.array([[2, 3]], dtype=np.int32)
    return pts, labels


# ----------------------------------------------------------------------------------------------
# Prompts (sam2_video_predictor.py add_new_points_or_box / add_new_mask, sam2_base.py
# _use_mask_as_output)
# ----------------------------------------------------------------------------------------------
def scale_points(points_xy, video_w, video_h, image_size):
    """add_new_points_or_box (normalize_coords=True): [N,2] video pixels -> [1,N,2] f32
    image_size pixels, computed in float32 as the reference (points / [W, H] * S)."""
    pts = np.asarray(points_xy, dtype=np.float32).reshape(1, -1, 2)
    pts = pts / np.array([video_w, video_h], dtype=np.float32)
    return (pts * np.float32(image_size)).astype(np.float32)


def _aa_weights(in_size, out_size):
    """torch upsample_bilinear2d_aa (antialias=True, align_corners=False) 1-D weights as a dense
    [out, in] f64 matrix: scale = in/out, support = max(scale, 1), triangle filter of width
    support centred at scale * (i + 0.5), normalised per output index."""
    scale = in_size / out_size
    support = max(scale, 1.0)
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    w = np.zeros((out_size, in_size), np.float64)
    for i in range(out_size):
        center = scale * (i + 0.5)
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        js = np.arange(xmin, xmax)
        f = np.maximum(0.0, 1.0 - np.abs((js - center + 0.5) * invscale))
        tot = f.sum()
        w[i, xmin:xmax] = f / tot if tot != 0 else f
    return w


def resize_aa(x, out_h, out_w):
    """F.interpolate(x[None, None], (out_h, out_w), mode='bilinear', align_corners=False,
    antialias=True) for one [H, W] plane, in float64 then rounded to float32 (agrees with
    torch's float32 kernel to ~1e-6; the reference thresholds the result at 0.5 or uses it as
    logits +-10, so rounding-level differences only matter on exact ties)."""
    x = np.asarray(x, np.float64)
    wy = _aa_weights(x.shape[0], out_h)
    wx = _aa_weights(x.shape[1], out_w)
    return (wy @ x @ wx.T).astype(np.float32)


def mask_prompt_to_image(mask_bool, image_size):
    """add_new_mask: a [H, W] bool video mask -> [S, S] f32 0/1 (antialiased bilinear resize
    when H, W != S, then >= 0.5)."""
    m = np.asarray(mask_bool, dtype=np.float32)
    if m.shape != (image_size, image_size):
        m = resize_aa(m, image_size, image_size)
        m = (m >= np.float32(0.5)).astype(np.float32)
    return m


def mask_as_output_logits(mask01):
    """_use_mask_as_output: high-res logits = mask * 20 - 10 [S, S]; low-res = antialiased
    bilinear downsample to [S/4, S/4] f32."""
    high = (mask01.astype(np.float32) * np.float32(20.0) + np.float32(-10.0)).astype(np.float32)
    s4 = high.shape[0] // 4
    return resize_aa(high, s4, s4), high


def mask_downsample(mask01, weight, bias):
    """sam2_base.py mask_downsample: Conv2d(1, 1, kernel 4, stride 4) on [S, S] f32 ->
    [S/4, S/4] f32 (weight [1,1,4,4], bias [1]); non-overlapping 4x4 blocks, summed in float64."""
    s = mask01.shape[0]
    blocks = mask01.astype(np.float64).reshape(s // 4, 4, s // 4, 4)
    w = np.asarray(weight, np.float64).reshape(4, 4)
    out = np.einsum("aibj,ij->ab", blocks, w) + float(np.asarray(bias).reshape(-1)[0])
    return out.astype(np.float32)
