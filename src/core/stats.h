/*
 * Order statistics shared by every part of katana that reports a percentile (the stream's
 * kat_stream_get_stats, the benchmark's kat__bench_stats, and through them the CLI), so that
 * "p95" means the same number everywhere.
 *
 * The one definition: percentile p (0..100) of n ascending samples is the linear interpolation
 * between the order statistics at rank r = p/100 * (n - 1) (0-based), i.e. numpy's default
 * "linear" method: sorted[floor(r)] + (sorted[floor(r) + 1] - sorted[floor(r)]) * frac(r).
 *
 * Thread-safety: pure functions of their arguments.
 */
#ifndef KAT_CORE_STATS_H
#define KAT_CORE_STATS_H

#include <stddef.h>

/* Percentile p (0..100, clamped) of sorted[0..n) (ascending doubles, n >= 1; 0 for n == 0). */
double kat__percentile_sorted(const double *sorted, size_t n, double p);
/* The same for float samples (the stream keeps its timing window in f32). */
double kat__percentile_sorted_f(const float *sorted, size_t n, double p);

#endif /* KAT_CORE_STATS_H */
