/*
 * Benchmark internals: percentiles on sorted samples and the pieces of kat_bench_run
 * (include/katana/bench.h). The statistics are pure functions, tested in tests/test_bench.c.
 */
#ifndef KAT_EVAL_BENCH_H
#define KAT_EVAL_BENCH_H

#include <stddef.h>
#include <stdio.h>

#include "core/stats.h" /* kat__percentile_sorted: the one percentile definition */
#include "katana/bench.h"

/* Median of v[0..n) (n >= 1); sorts `scratch` (n doubles, may not alias v). */
double kat__median(const double *v, size_t n, double *scratch);

/*
 * Statistics of samples[0..n) using `scratch` (n doubles) for the sort. Same contract as
 * kat_bench_stats_compute, without allocating.
 */
int kat__bench_stats(const double *samples, size_t n, double *scratch, kat_bench_stats *out);

/*
 * The key of a report under results.<model>.<preset> in the JSON and the label in the HTML:
 * "seq" / "pipe", with "-fast" appended for fast preprocessing. Writes into buf (NUL-terminated).
 */
void kat__bench_mode_key(const kat_bench_report *r, char *buf, size_t size);

/*
 * What a report's frame time is, in words: "time from pushing a frame to its result" ("seq") or
 * "interval between consecutive results" ("pipe"). Static string.
 */
const char *kat__bench_frame_definition(const kat_bench_report *r);

/* Opens `path` for writing ("-": stdout); NULL with a message in err on failure. */
FILE *kat__bench_open_out(const char *path, char *err, size_t err_size);

/* Closes f (not stdout); KAT_EIO with a message when a write or the close failed. */
int kat__bench_close_out(FILE *f, const char *path, char *err, size_t err_size);

#endif /* KAT_EVAL_BENCH_H */
