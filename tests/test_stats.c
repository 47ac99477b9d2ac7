/*
 * Tests for core/stats: the one percentile definition (linear interpolation between order
 * statistics, numpy's default), in double and float, on hand-computed values.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/stats.h"
#include "kat_test.h"

KAT_TEST(test_percentile_double) {
  const double v[5] = {1, 2, 3, 4, 100};
  /* p95: rank 0.95 * 4 = 3.8, 4 + 0.8 * 96 = 80.8; nearest rank would give 100. */
  KAT_CHECK_NEAR(kat__percentile_sorted(v, 5, 95), 80.8, 1e-12);
  KAT_CHECK_NEAR(kat__percentile_sorted(v, 5, 50), 3, 0);
  KAT_CHECK_NEAR(kat__percentile_sorted(v, 5, 0), 1, 0);
  KAT_CHECK_NEAR(kat__percentile_sorted(v, 5, 100), 100, 0);
  /* Out-of-range p clamps to the extremes, NaN to the minimum. */
  KAT_CHECK_NEAR(kat__percentile_sorted(v, 5, -5), 1, 0);
  KAT_CHECK_NEAR(kat__percentile_sorted(v, 5, 250), 100, 0);
  KAT_CHECK_NEAR(kat__percentile_sorted(v, 5, NAN), 1, 0);
  /* Even count: the median is the mean of the middle two. */
  const double e[2] = {10, 20};
  KAT_CHECK_NEAR(kat__percentile_sorted(e, 2, 50), 15, 1e-12);
  KAT_CHECK_NEAR(kat__percentile_sorted(e, 1, 95), 10, 0);
  KAT_CHECK_NEAR(kat__percentile_sorted(e, 0, 95), 0, 0);
}

KAT_TEST(test_percentile_float_matches_double) {
  enum { N = 37 };
  float f[N];
  double d[N];
  for (int i = 0; i < N; i++) {
    f[i] = (float)(i * i) * 0.25f;
    d[i] = (double)f[i];
  }
  const double ps[] = {0, 5, 25, 50, 75, 90, 95, 99, 100};
  for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++)
    KAT_CHECK_NEAR(kat__percentile_sorted_f(f, N, ps[k]), kat__percentile_sorted(d, N, ps[k]),
                   1e-9);
  /* p95 of 0..36 squared / 4: rank 34.2, (34^2 + 0.2 * (35^2 - 34^2)) / 4 = 292.45. */
  KAT_CHECK_NEAR(kat__percentile_sorted_f(f, N, 95), 292.45, 1e-6);
}

KAT_TEST_MAIN(KAT_CASE(test_percentile_double), KAT_CASE(test_percentile_float_matches_double))
