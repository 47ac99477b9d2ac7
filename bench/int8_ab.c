/*
 * Paired A/B timing of two versions of one module (e.g. FP32 and INT8 from katana onnx
 * quantize): both sessions get the same seeded inputs and run alternately, A then B, so load
 * from other processes and throttling hit both alike. Prints min and p50 of each and the median
 * of the per-pair ratio A/B (above 1: B is faster).
 *
 * usage: katana_bench_int8_ab A.onnx B.onnx [--iters N] [--threads T] [--dim V] [--value IN=V]
 * Every symbolic dim takes the --dim value (default 1); integer inputs take their --value
 * (default 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/session.h"

#define MAX_VALS 16

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* p-quantile of v[0..n) (sorts v). */
static double pct(double *v, int n, double p) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[(int)(p * (n - 1) + 0.5)];
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s A.onnx B.onnx [--iters N] [--threads T] [--dim V] [--value IN=V]\n",
            argv[0]);
    return 2;
  }
  int iters = 30, threads = 0, n_vals = 0;
  long sym = 1, val_vals[MAX_VALS];
  const char *val_names[MAX_VALS];
  for (int a = 3; a + 1 < argc; a += 2) {
    if (!strcmp(argv[a], "--iters")) {
      iters = (int)strtol(argv[a + 1], NULL, 10);
    } else if (!strcmp(argv[a], "--threads")) {
      threads = (int)strtol(argv[a + 1], NULL, 10);
    } else if (!strcmp(argv[a], "--dim")) {
      sym = strtol(argv[a + 1], NULL, 10);
    } else if (!strcmp(argv[a], "--value") && n_vals < MAX_VALS) {
      char *eq = strchr(argv[a + 1], '=');
      if (!eq) return 2;
      *eq = '\0';
      val_names[n_vals] = argv[a + 1];
      val_vals[n_vals++] = strtol(eq + 1, NULL, 10);
    } else {
      fprintf(stderr, "unknown option %s\n", argv[a]);
      return 2;
    }
  }
  if (iters < 3) iters = 3;
  kat_ep_profile prof;
  kat_ep_profile_preset("cpu", &prof);
  prof.module[0].intra_op_threads = threads;
  prof.module[0].allow_spinning = 0; /* two sessions alternate */
  kat__errbuf eb;
  kat__session *s[2] = {NULL, NULL};
  void *in_buf[KAT_MAX_IO] = {0};
  double *t[2] = {calloc((size_t)iters, sizeof(double)), calloc((size_t)iters, sizeof(double))};
  double *ratio = calloc((size_t)iters, sizeof(double));
  int rc = 1;
  if (!t[0] || !t[1] || !ratio) goto done;
  for (int k = 0; k < 2; k++)
    if (kat__session_create(argv[1 + k], NULL, 0, &prof.module[0], KAT_EP_FALLBACK_ERROR,
                            k ? "B" : "A", &s[k], &eb))
      goto fail;
  if (kat__session_input_count(s[0]) != kat__session_input_count(s[1])) {
    fprintf(stderr, "A and B have different inputs\n");
    goto done;
  }
  int64_t shape[KAT_MAX_IO][KAT_MAX_RANK];
  unsigned seed = 12345;
  for (int i = 0; i < kat__session_input_count(s[0]); i++) {
    const kat__tensor_spec *spec = kat__session_input(s[0], i);
    size_t n = 1;
    for (int d = 0; d < spec->rank; d++) {
      shape[i][d] = spec->dims[d] < 0 ? sym : spec->dims[d];
      n *= (size_t)shape[i][d];
    }
    /* [shape] of spec->dtype: seeded uniform [-0.5, 0.5) floats, or the --value integers. */
    in_buf[i] = calloc(n ? n : 1, kat__dtype_size(spec->dtype));
    if (!in_buf[i]) goto done;
    if (spec->dtype == KAT_DT_F32) {
      float *f = in_buf[i];
      for (size_t k = 0; k < n; k++) {
        seed = seed * 1103515245u + 12345u;
        f[k] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
      }
    } else if (spec->dtype == KAT_DT_I64) {
      long v = 0;
      for (int k = 0; k < n_vals; k++)
        if (!strcmp(val_names[k], spec->name)) v = val_vals[k];
      for (size_t k = 0; k < n; k++) ((int64_t *)in_buf[i])[k] = v;
    }
    for (int k = 0; k < 2; k++)
      if (kat__session_bind_input(s[k], i, in_buf[i], shape[i], spec->rank, &eb)) goto fail;
  }
  for (int it = -3; it < iters; it++) { /* three warm-up pairs */
    for (int k = 0; k < 2; k++) {
      if (kat__session_run(s[k], &eb)) goto fail;
      if (it >= 0) t[k][it] = kat__session_last_run_ms(s[k]);
    }
    if (it >= 0) ratio[it] = t[0][it] / t[1][it];
  }
  printf("A %s\nB %s\n%d pairs, intra-op threads %d, symbolic dims %ld\n", argv[1], argv[2], iters,
         threads, sym);
  for (int k = 0; k < 2; k++) {
    double mn = pct(t[k], iters, 0.0), p50 = pct(t[k], iters, 0.5);
    printf("  %s min %9.3f ms  p50 %9.3f ms\n", k ? "B" : "A", mn, p50);
  }
  printf("  median ratio A/B %.3f  (p25 %.3f, p75 %.3f)\n", pct(ratio, iters, 0.5),
         pct(ratio, iters, 0.25), pct(ratio, iters, 0.75));
  rc = 0;
  goto done;
fail:
  fprintf(stderr, "%s\n", eb.msg);
done:
  for (int i = 0; i < KAT_MAX_IO; i++) free(in_buf[i]);
  kat__session_destroy(s[0]);
  kat__session_destroy(s[1]);
  free(t[0]);
  free(t[1]);
  free(ratio);
  return rc;
}
