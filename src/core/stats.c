/*
 * Percentiles by linear interpolation between order statistics (see core/stats.h): the single
 * definition behind every p50/p95/p99 katana prints.
 */
#include "core/stats.h"

/* The rank of percentile p among n samples, clamped to [0, n-1]; splits it into lo and frac. */
static void rank_of(size_t n, double p, size_t *lo, double *frac) {
  double rank = p / 100.0 * (double)(n - 1);
  if (!(rank > 0.0)) rank = 0.0; /* also NaN */
  if (rank >= (double)(n - 1)) {
    *lo = n - 1;
    *frac = 0.0;
    return;
  }
  *lo = (size_t)rank;
  *frac = rank - (double)*lo;
}

double kat__percentile_sorted(const double *sorted, size_t n, double p) {
  if (n == 0) return 0.0;
  size_t lo;
  double frac;
  rank_of(n, p, &lo, &frac);
  if (frac == 0.0) return sorted[lo];
  return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac;
}

double kat__percentile_sorted_f(const float *sorted, size_t n, double p) {
  if (n == 0) return 0.0;
  size_t lo;
  double frac;
  rank_of(n, p, &lo, &frac);
  if (frac == 0.0) return (double)sorted[lo];
  return (double)sorted[lo] + ((double)sorted[lo + 1] - (double)sorted[lo]) * frac;
}
