"""Writes a golden Kalman-filter trace for tests/test_kalman.c.

The filter follows SAMURAI's sam2/utils/kalman_filter.py (DeepSORT constant-velocity model,
numpy float64). It is written here independently with numpy only (no scipy on the test machine:
numpy's Cholesky factor and triangular solves give the same gain). Each line of the output is
    op  m0..m3  mean[8]  cov[64]
where op is I (initiate with measurement m as xyxy), P (predict) or U (update with m as xyxy),
followed by the state after the op, all with 17 significant digits.
"""
import sys

import numpy as np

WP, WV = 1.0 / 20, 1.0 / 160
F = np.eye(8)
F[:4, 4:] = np.eye(4)
H = np.eye(4, 8)


def xyxy_to_xyah(b):
    x1, y1, x2, y2 = b
    w, h = x2 - x1, y2 - y1
    if h == 0:
        h = 1
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, w / h, h], dtype=np.float64)


def initiate(z):
    h = z[3]
    std = np.array([2 * WP * h, 2 * WP * h, 1e-2, 2 * WP * h,
                    10 * WV * h, 10 * WV * h, 1e-5, 10 * WV * h])
    return np.r_[z, np.zeros(4)], np.diag(std ** 2)


def predict(m, p):
    h = m[3]
    std = np.array([WP * h, WP * h, 1e-2, WP * h, WV * h, WV * h, 1e-5, WV * h])
    return F @ m, F @ p @ F.T + np.diag(std ** 2)


def update(m, p, z):
    h = m[3]
    r = np.array([WP * h, WP * h, 1e-1, WP * h])
    s = H @ p @ H.T + np.diag(r ** 2)
    l = np.linalg.cholesky(s)
    b = (p @ H.T).T
    x = np.linalg.solve(l.T, np.linalg.solve(l, b))
    k = x.T
    m2 = m + (z - H @ m) @ k.T
    p2 = p - k @ s @ k.T
    return m2, p2


def main(path):
    rng = np.random.default_rng(1234)
    lines = []

    def emit(op, meas, m, p):
        vals = list(meas) + list(m) + list(p.ravel())
        lines.append(op + " " + " ".join("%.17g" % v for v in vals))

    for run in range(4):
        box = np.array([rng.integers(0, 200), rng.integers(0, 200), 0, 0], dtype=np.float64)
        box[2] = box[0] + rng.integers(1, 300)
        box[3] = box[1] + (0 if run == 3 else rng.integers(1, 300))  # run 3: zero height
        m, p = initiate(xyxy_to_xyah(box))
        emit("I", box, m, p)
        for step in range(40):
            m, p = predict(m, p)
            emit("P", [0, 0, 0, 0], m, p)
            if step % 5 != 4:  # skip some updates, as SAMURAI does on unstable frames
                d = rng.normal(0, 6, size=4)
                nb = box + d
                nb = np.round(nb)
                if nb[3] <= nb[1]:
                    nb[3] = nb[1] + 1
                if nb[2] <= nb[0]:
                    nb[2] = nb[0] + 1
                box = nb
                m, p = update(m, p, xyxy_to_xyah(box))
                emit("U", box, m, p)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
