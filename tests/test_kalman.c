/* Tests of src/track/kalman.c: hand-computed values, and a numpy float64 golden trace made by
 * scripts/testdata/30-track (predict/update sequences including a zero-height box). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kat_test.h"
#include "track/kalman.h"

KAT_TEST(test_conversions) {
  double xyah[4], xyxy[4];
  kat__xyxy_to_xyah((const double[4]){10, 20, 50, 100}, xyah);
  KAT_CHECK_NEAR(xyah[0], 30.0, 0);
  KAT_CHECK_NEAR(xyah[1], 60.0, 0);
  KAT_CHECK_NEAR(xyah[2], 0.5, 0);
  KAT_CHECK_NEAR(xyah[3], 80.0, 0);
  kat__xyah_to_xyxy(xyah, xyxy);
  KAT_CHECK_NEAR(xyxy[0], 10.0, 0);
  KAT_CHECK_NEAR(xyxy[3], 100.0, 0);
  /* zero height counts as 1 (reference: `if h == 0: h = 1`) */
  kat__xyxy_to_xyah((const double[4]){0, 0, 0, 0}, xyah);
  KAT_CHECK_NEAR(xyah[2], 0.0, 0);
  KAT_CHECK_NEAR(xyah[3], 1.0, 0);
  kat__xyxy_to_xyah((const double[4]){4, 7, 10, 7}, xyah);
  KAT_CHECK_NEAR(xyah[2], 6.0, 0);
  KAT_CHECK_NEAR(xyah[3], 1.0, 0);
}

KAT_TEST(test_iou) {
  KAT_CHECK_NEAR(kat__kf_box_iou((const double[4]){0, 0, 10, 10}, (const double[4]){5, 5, 15, 15}),
                 25.0 / 175.0, 1e-15);
  KAT_CHECK_NEAR(kat__kf_box_iou((const double[4]){0, 0, 10, 10}, (const double[4]){0, 0, 0, 0}), 0,
                 0);
  KAT_CHECK_NEAR(
      kat__kf_box_iou((const double[4]){0, 0, 10, 10}, (const double[4]){20, 20, 30, 30}), 0, 0);
  /* degenerate: both empty-area boxes -> zero union -> 0 */
  KAT_CHECK_NEAR(kat__kf_box_iou((const double[4]){1, 1, 1, 1}, (const double[4]){1, 1, 1, 1}), 0,
                 0);
  KAT_CHECK_NEAR(kat__kf_box_iou((const double[4]){0, 0, 4, 4}, (const double[4]){0, 0, 4, 4}), 1,
                 0);
}

KAT_TEST(test_hand_values) {
  kat__kalman kf;
  kat__kalman_initiate(&kf, (const double[4]){100, 50, 0.5, 40});
  /* initial std: 2/20*40 = 4 (var 16); 1e-2 (1e-4); 10/160*40 = 2.5 (6.25); 1e-5 (1e-10) */
  KAT_CHECK_NEAR(kf.cov[0], 16.0, 1e-12);
  KAT_CHECK_NEAR(kf.cov[2 * 9], 1e-4, 1e-18);
  KAT_CHECK_NEAR(kf.cov[4 * 9], 6.25, 1e-12);
  KAT_CHECK_NEAR(kf.cov[6 * 9], 1e-10, 1e-22);
  kat__kalman_predict(&kf);
  /* P' = F P F^T + Q: pos var 16 + 6.25 + (40/20)^2 = 26.25; cross term 6.25; vel 6.25+0.0625 */
  KAT_CHECK_NEAR(kf.cov[0], 26.25, 1e-12);
  KAT_CHECK_NEAR(kf.cov[4], 6.25, 1e-12);
  KAT_CHECK_NEAR(kf.cov[4 * 9], 6.3125, 1e-12);
  KAT_CHECK_NEAR(kf.mean[0], 100.0, 0);
  /* update with the same measurement as the mean leaves the mean unchanged */
  KAT_CHECK_INT_EQ(kat__kalman_update(&kf, (const double[4]){100, 50, 0.5, 40}), 0);
  KAT_CHECK_NEAR(kf.mean[0], 100.0, 1e-12);
  KAT_CHECK_NEAR(kf.mean[4], 0.0, 1e-12);
  /* scalar check of the x gain: S = 26.25 + 4 = 30.25; new var = 26.25 - 26.25^2/30.25 */
  KAT_CHECK_NEAR(kf.cov[0], 26.25 - 26.25 * 26.25 / 30.25, 1e-9);
}

static int read_doubles(char *line, double *v, int n) {
  char *p = line;
  for (int i = 0; i < n; i++) {
    char *end;
    v[i] = strtod(p, &end);
    if (end == p) return -1;
    p = end;
  }
  return 0;
}

KAT_TEST(test_golden) {
  const char *path = kat_test_data("track/kalman_golden.txt");
  if (!path) KAT_SKIP("KAT_TEST_DATA not set (golden trace comes from scripts/testdata/30-track)");
  FILE *f = fopen(path, "r");
  if (!f) KAT_SKIP("kalman_golden.txt missing");
  char line[8192];
  kat__kalman kf;
  int n = 0;
  double worst = 0;
  while (fgets(line, sizeof line, f)) {
    double v[4 + 8 + 64];
    KAT_CHECK_INT_EQ(read_doubles(line + 1, v, 76), 0);
    double xyah[4];
    kat__xyxy_to_xyah(v, xyah);
    if (line[0] == 'I')
      kat__kalman_initiate(&kf, xyah);
    else if (line[0] == 'P')
      kat__kalman_predict(&kf);
    else
      KAT_CHECK_INT_EQ(kat__kalman_update(&kf, xyah), 0);
    for (int i = 0; i < 8; i++) {
      double d = fabs(kf.mean[i] - v[4 + i]) / fmax(1.0, fabs(v[4 + i]));
      if (d > worst) worst = d;
    }
    for (int i = 0; i < 64; i++) {
      double d = fabs(kf.cov[i] - v[12 + i]) / fmax(1.0, fabs(v[12 + i]));
      if (d > worst) worst = d;
    }
    n++;
  }
  fclose(f);
  printf("kalman golden: %d ops, worst relative difference %.3g\n", n, worst);
  KAT_CHECK(n > 200);
  KAT_CHECK(worst < 1e-9);
}

KAT_TEST_MAIN(KAT_CASE(test_conversions), KAT_CASE(test_iou), KAT_CASE(test_hand_values),
              KAT_CASE(test_golden))
