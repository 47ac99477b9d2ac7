/*
 * The DeepSORT-style constant-velocity Kalman filter that SAMURAI uses as its motion model,
 * in double precision like the reference (sam2/utils/kalman_filter.py, numpy float64), plus the
 * box conversions and the box IoU that the reference computes next to it.
 *
 * State [cx, cy, a, h, vx, vy, va, vh] with a = w / h, in image_size pixel coordinates.
 * Boxes "xyxy" are [x_min, y_min, x_max, y_max]; "xyah" are [cx, cy, a, h].
 *
 * Thread-safety: plain values and pure functions; a filter is used by one thread at a time.
 */
#ifndef KAT_TRACK_KALMAN_H
#define KAT_TRACK_KALMAN_H

typedef struct kat__kalman {
  double mean[8]; /* state mean */
  double cov[64]; /* [8,8] row-major state covariance */
} kat__kalman;

/* kalman_filter.py: KalmanFilter.initiate. Zero velocities, diagonal covariance from xyah[3]. */
void kat__kalman_initiate(kat__kalman *kf, const double xyah[4]);

/* kalman_filter.py: KalmanFilter.predict (one step, dt = 1; noise from the current mean's h). */
void kat__kalman_predict(kat__kalman *kf);

/*
 * kalman_filter.py: KalmanFilter.update with the Cholesky solve of the projected covariance.
 * Returns 0, or -1 (filter untouched) when the projected covariance is not positive definite,
 * where the reference's scipy.linalg.cho_factor would raise.
 */
int kat__kalman_update(kat__kalman *kf, const double xyah[4]);

/* kalman_filter.py: KalmanFilter.xyxy_to_xyah (a zero height counts as 1). */
void kat__xyxy_to_xyah(const double xyxy[4], double xyah[4]);
/* kalman_filter.py: KalmanFilter.xyah_to_xyxy. */
void kat__xyah_to_xyxy(const double xyah[4], double xyxy[4]);

/*
 * kalman_filter.py: KalmanFilter._compute_iou(a, b): IoU of two xyxy boxes with the reference's
 * conventions (b == [0,0,0,0] gives 0, a zero union gives 0, no +1 on widths).
 */
double kat__kf_box_iou(const double a[4], const double b[4]);

#endif /* KAT_TRACK_KALMAN_H */
