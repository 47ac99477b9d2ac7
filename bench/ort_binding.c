/*
 * Measures the two ways katana can hand pre-allocated buffers to ONNX Runtime for one model:
 * Run() over OrtValues created once over katana's buffers, and an OrtIoBinding over the same
 * values (RunWithBinding); plus Run() with ORT-allocated outputs for comparison. The modes are
 * interleaved round-robin so drift and throttling hit them alike.
 *
 * usage: katana_bench_binding MODEL.onnx [--iters N] [--threads T] [--dim NAME=V]
 *        [--value INPUT=V ...]
 * Every symbolic dim takes the --dim value (default 1); integer inputs are filled with their
 * --value (default 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/session.h"

#define MAX_DIMS 16

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double pct(double *v, int n, double p) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  int i = (int)(p * (n - 1) + 0.5);
  return v[i];
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.onnx [--iters N] [--threads T] [--dim N=V] [--value IN=V]\n",
            argv[0]);
    return 2;
  }
  int iters = 50, threads = 0;
  const char *val_names[MAX_DIMS];
  long dim_vals[MAX_DIMS], val_vals[MAX_DIMS];
  int n_dims = 0, n_vals = 0;
  for (int a = 2; a + 1 < argc; a += 2) {
    if (strcmp(argv[a], "--iters") == 0)
      iters = (int)strtol(argv[a + 1], NULL, 10);
    else if (strcmp(argv[a], "--threads") == 0)
      threads = (int)strtol(argv[a + 1], NULL, 10);
    else if ((strcmp(argv[a], "--dim") == 0 || strcmp(argv[a], "--value") == 0)) {
      char *eq = strchr(argv[a + 1], '=');
      if (!eq) return 2;
      *eq = '\0';
      if (argv[a][2] == 'd' && n_dims < MAX_DIMS) {
        dim_vals[n_dims++] = strtol(eq + 1, NULL, 10);
      } else if (n_vals < MAX_DIMS) {
        val_names[n_vals] = argv[a + 1];
        val_vals[n_vals++] = strtol(eq + 1, NULL, 10);
      }
    }
  }
  if (iters < 3) iters = 3;
  kat_ep_profile prof;
  kat_ep_profile_preset("cpu", &prof);
  prof.module[0].intra_op_threads = threads;
  /* Two sessions alternate: spinning workers of one would steal the cores of the other. */
  prof.module[0].allow_spinning = 0;
  kat__errbuf eb;
  kat__session *s = NULL, *s_alloc = NULL;
  if (kat__session_create(argv[1], NULL, 0, &prof.module[0], KAT_EP_FALLBACK_ERROR, "model", &s,
                          &eb)) {
    fprintf(stderr, "%s\n", eb.msg);
    return 1;
  }
  /* Symbolic dims: the first --dim applies to every symbolic dim (names are not exposed here). */
  long sym = n_dims ? dim_vals[0] : 1;
  void *in_buf[KAT_MAX_IO] = {0}, *out_buf[KAT_MAX_IO] = {0};
  int64_t in_shape[KAT_MAX_IO][KAT_MAX_RANK], out_shape[KAT_MAX_IO][KAT_MAX_RANK];
  unsigned seed = 12345;
  for (int i = 0; i < kat__session_input_count(s); i++) {
    const kat__tensor_spec *t = kat__session_input(s, i);
    size_t n = 1;
    for (int d = 0; d < t->rank; d++) {
      in_shape[i][d] = t->dims[d] < 0 ? sym : t->dims[d];
      n *= (size_t)in_shape[i][d];
    }
    in_buf[i] = calloc(n ? n : 1, kat__dtype_size(t->dtype));
    if (t->dtype == KAT_DT_F32) {
      float *f = in_buf[i];
      for (size_t k = 0; k < n; k++) {
        seed = seed * 1103515245u + 12345u;
        f[k] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
      }
    } else if (t->dtype == KAT_DT_I64) {
      long v = 0;
      for (int k = 0; k < n_vals; k++)
        if (strcmp(val_names[k], t->name) == 0) v = val_vals[k];
      for (size_t k = 0; k < n; k++) ((int64_t *)in_buf[i])[k] = v;
    }
    if (kat__session_bind_input(s, i, in_buf[i], in_shape[i], t->rank, &eb)) goto fail;
  }
  /* One ORT-allocated run tells the output shapes. */
  if (kat__session_run(s, &eb)) goto fail;
  for (int i = 0; i < kat__session_output_count(s); i++) {
    int rank = 0;
    kat__session_output_data(s, i, out_shape[i], &rank);
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)out_shape[i][d];
    out_buf[i] = calloc(n ? n : 1, kat__dtype_size(kat__session_output(s, i)->dtype));
  }
  /* A second session whose outputs stay unbound: ORT allocates them at every run. */
  if (kat__session_create(argv[1], NULL, 0, &prof.module[0], 0, "model", &s_alloc, &eb)) goto fail;
  for (int i = 0; i < kat__session_input_count(s_alloc); i++)
    if (kat__session_bind_input(s_alloc, i, in_buf[i], in_shape[i],
                                kat__session_input(s_alloc, i)->rank, &eb))
      goto fail;
  double *t_run = calloc((size_t)iters, sizeof(double));
  double *t_iob = calloc((size_t)iters, sizeof(double));
  double *t_alloc = calloc((size_t)iters, sizeof(double));
  for (int it = -2; it < iters; it++) { /* two warm-up rounds */
    for (int mode = 0; mode < 3; mode++) {
      kat__session *cur = mode == 2 ? s_alloc : s;
      if (mode < 2) {
        for (int i = 0; i < kat__session_output_count(s); i++)
          if (kat__session_bind_output(s, i, out_buf[i], out_shape[i],
                                       kat__session_output(s, i)->rank, &eb))
            goto fail;
        if (kat__session_set_iobinding(s, mode == 1, &eb)) goto fail;
      }
      if (kat__session_run(cur, &eb)) goto fail;
      double ms = kat__session_last_run_ms(cur);
      if (it >= 0) (mode == 0 ? t_run : mode == 1 ? t_iob : t_alloc)[it] = ms;
    }
  }
  printf("model %s, %d iterations, intra-op threads %d\n", argv[1], iters, threads);
  printf("  %-34s p50 %8.3f ms  p95 %8.3f ms\n", "Run over katana-owned OrtValues",
         pct(t_run, iters, 0.5), pct(t_run, iters, 0.95));
  printf("  %-34s p50 %8.3f ms  p95 %8.3f ms\n", "IoBinding over the same values",
         pct(t_iob, iters, 0.5), pct(t_iob, iters, 0.95));
  printf("  %-34s p50 %8.3f ms  p95 %8.3f ms\n", "Run with ORT-allocated outputs",
         pct(t_alloc, iters, 0.5), pct(t_alloc, iters, 0.95));
  kat__session_destroy(s);
  kat__session_destroy(s_alloc);
  return 0;
fail:
  fprintf(stderr, "%s\n", eb.msg);
  kat__session_destroy(s);
  kat__session_destroy(s_alloc);
  return 1;
}
