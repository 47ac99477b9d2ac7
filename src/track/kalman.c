/*
 * Kalman filter of SAMURAI's motion model. Mirrors sam2/utils/kalman_filter.py (KalmanFilter:
 * initiate, predict, project, update, xyxy_to_xyah, xyah_to_xyxy, _compute_iou) in float64.
 * Matrix products are written out for the fixed 8x8 / 4x8 shapes; the motion matrix F = [I I; 0 I]
 * and the observation matrix H = [I 0] are applied structurally. Results agree with numpy to
 * rounding (1e-12 relative), which is far below what the float32 decisions downstream can see.
 */
#include "track/kalman.h"

#include <math.h>
#include <string.h>

#define STD_POS (1.0 / 20.0)
#define STD_VEL (1.0 / 160.0)

void kat__kalman_initiate(kat__kalman *kf, const double xyah[4]) {
  double h = xyah[3];
  double std[8] = {2 * STD_POS * h,  2 * STD_POS * h,  1e-2, 2 * STD_POS * h,
                   10 * STD_VEL * h, 10 * STD_VEL * h, 1e-5, 10 * STD_VEL * h};
  memset(kf, 0, sizeof *kf);
  for (int i = 0; i < 4; i++) kf->mean[i] = xyah[i];
  for (int i = 0; i < 8; i++) kf->cov[i * 8 + i] = std[i] * std[i];
}

void kat__kalman_predict(kat__kalman *kf) {
  double h = kf->mean[3];
  double std[8] = {STD_POS * h, STD_POS * h, 1e-2, STD_POS * h,
                   STD_VEL * h, STD_VEL * h, 1e-5, STD_VEL * h};
  /* mean = F mean */
  for (int i = 0; i < 4; i++) kf->mean[i] += kf->mean[i + 4];
  /* cov = F cov F^T + Q. (F P)[i][j] = P[i][j] + P[i+4][j] for i < 4, P[i][j] otherwise. */
  double fp[64], out[64];
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 8; j++)
      fp[i * 8 + j] = kf->cov[i * 8 + j] + (i < 4 ? kf->cov[(i + 4) * 8 + j] : 0.0);
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 8; j++) out[i * 8 + j] = fp[i * 8 + j] + (j < 4 ? fp[i * 8 + j + 4] : 0.0);
  for (int i = 0; i < 8; i++) out[i * 8 + i] += std[i] * std[i];
  memcpy(kf->cov, out, sizeof out);
}

int kat__kalman_update(kat__kalman *kf, const double xyah[4]) {
  double h = kf->mean[3];
  double r[4] = {STD_POS * h, STD_POS * h, 1e-1, STD_POS * h};
  /* project: S = H P H^T + R, [4,4]; projected mean = mean[0:4] */
  double s[16], l[16] = {0};
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) s[i * 4 + j] = kf->cov[i * 8 + j] + (i == j ? r[i] * r[i] : 0.0);
  /* Cholesky S = L L^T (lower). */
  for (int j = 0; j < 4; j++) {
    double d = s[j * 4 + j];
    for (int k = 0; k < j; k++) d -= l[j * 4 + k] * l[j * 4 + k];
    if (!(d > 0.0)) return -1;
    l[j * 4 + j] = sqrt(d);
    for (int i = j + 1; i < 4; i++) {
      double v = s[i * 4 + j];
      for (int k = 0; k < j; k++) v -= l[i * 4 + k] * l[j * 4 + k];
      l[i * 4 + j] = v / l[j * 4 + j];
    }
  }
  /* Kalman gain K [8,4] = P H^T S^-1: solve S X = (P H^T)^T = B [4,8], then K = X^T.
   * B[i][c] = P[c][i] for i < 4. */
  double x[32];
  for (int c = 0; c < 8; c++) {
    double y[4];
    for (int i = 0; i < 4; i++) { /* forward: L y = b */
      double v = kf->cov[c * 8 + i];
      for (int k = 0; k < i; k++) v -= l[i * 4 + k] * y[k];
      y[i] = v / l[i * 4 + i];
    }
    for (int i = 3; i >= 0; i--) { /* backward: L^T x = y */
      double v = y[i];
      for (int k = i + 1; k < 4; k++) v -= l[k * 4 + i] * x[k * 8 + c];
      x[i * 8 + c] = v / l[i * 4 + i];
    }
  }
  double innov[4];
  for (int i = 0; i < 4; i++) innov[i] = xyah[i] - kf->mean[i];
  /* new_mean = mean + K innov; K[r][i] = x[i][r] */
  for (int rr = 0; rr < 8; rr++) {
    double v = 0.0;
    for (int i = 0; i < 4; i++) v += innov[i] * x[i * 8 + rr];
    kf->mean[rr] += v;
  }
  /* new_cov = P - K S K^T */
  double ks[32]; /* [8,4] = K S */
  for (int rr = 0; rr < 8; rr++)
    for (int j = 0; j < 4; j++) {
      double v = 0.0;
      for (int i = 0; i < 4; i++) v += x[i * 8 + rr] * s[i * 4 + j];
      ks[rr * 4 + j] = v;
    }
  for (int rr = 0; rr < 8; rr++)
    for (int c = 0; c < 8; c++) {
      double v = 0.0;
      for (int j = 0; j < 4; j++) v += ks[rr * 4 + j] * x[j * 8 + c];
      kf->cov[rr * 8 + c] -= v;
    }
  return 0;
}

void kat__xyxy_to_xyah(const double b[4], double out[4]) {
  double w = b[2] - b[0], h = b[3] - b[1];
  if (h == 0.0) h = 1.0;
  out[0] = (b[0] + b[2]) / 2;
  out[1] = (b[1] + b[3]) / 2;
  out[2] = w / h;
  out[3] = h;
}

void kat__xyah_to_xyxy(const double s[4], double out[4]) {
  /* Same operation order as the reference: xc - a * h / 2. */
  out[0] = s[0] - s[2] * s[3] / 2;
  out[1] = s[1] - s[3] / 2;
  out[2] = s[0] + s[2] * s[3] / 2;
  out[3] = s[1] + s[3] / 2;
}

double kat__kf_box_iou(const double a[4], const double b[4]) {
  if (b[0] == 0.0 && b[1] == 0.0 && b[2] == 0.0 && b[3] == 0.0) return 0.0;
  double iw = fmin(a[2], b[2]) - fmax(a[0], b[0]);
  double ih = fmin(a[3], b[3]) - fmax(a[1], b[1]);
  double inter = (iw > 0 ? iw : 0.0) * (ih > 0 ? ih : 0.0);
  double uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return uni != 0.0 ? inter / uni : 0.0;
}
