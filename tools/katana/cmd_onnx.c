/*
 * katana onnx: inspect a model, report execution-provider coverage, and apply verified graph
 * rewrites. A thin layer over src/tools/onnx/onnx.h.
 */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_parse.h"
#include "katana/katana.h"
#include "tools/onnx/onnx.h"

/* KAT_ONNX_QUANTIZE_DEFAULT_MODULES joined with commas. */
static const char *default_modules(void) {
  static const char *const defs[] = {KAT_ONNX_QUANTIZE_DEFAULT_MODULES};
  static char buf[256];
  size_t used = 0;
  for (size_t i = 0; i < sizeof defs / sizeof *defs; i++) {
    int w = snprintf(buf + used, sizeof buf - used, "%s%s", i ? "," : "", defs[i]);
    if (w > 0 && (size_t)w < sizeof buf - used) used += (size_t)w;
  }
  return buf;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: katana onnx inspect MODEL\n"
          "       katana onnx coverage MODEL|BUNDLE --ep PRESET\n"
          "       katana onnx rewrite MODEL -o OUT [--pass NAME ...] [--force]\n"
          "           [--fixed-memory N] [--memory-dim NAME] [--dim NAME=N ...] [--default-dim N]\n"
          "           [--seed N] [--fp16-keep OP ...] [--tol ABS] [--fp16-tol REL]\n"
          "           [--reduce-range auto|on|off] [--int8-form fused|plain] [--int8-exclude NAME "
          "...]\n"
          "           [--int8-tol REL]\n"
          "       katana onnx quantize BUNDLE -o OUT_BUNDLE [--modules LIST]\n"
          "           [--reduce-range auto|on|off] [--form fused|plain] [--exclude NAME ...]\n"
          "           [--tol REL] [--force]\n\n"
          "passes: gather-to-split, scatternd-to-concat (the default pair), expose-multimask,\n"
          "        fixed-memory (needs --fixed-memory N), fp16, int8\n"
          "quantize: dynamic INT8 of the MatMul/Gemm nodes with constant weights of the listed\n"
          "  modules (default: %s, the modules that kept the accuracy\n"
          "  bar against FP32, docs/performance.md); int8 weights per output channel,\n"
          "  activations quantized at run time; Conv, LayerNorm and Softmax stay FP32.\n"
          "  --reduce-range auto uses 7-bit weights on AVX2 without VNNI (see katana doctor).\n"
          "Every pass that changes the graph is checked in ONNX Runtime (CPU) on seeded random\n"
          "inputs; a failed check writes nothing unless --force.\n"
          "coverage: per provider the nodes it claims and its partition count (from ORT's\n"
          "session log; partitions as katana counts them, and ORT's own count where the provider\n"
          "logs one), the nodes the preset's provider leaves to others with ORT's reason, then\n"
          "katana's static checks (also when the provider is not available here).\n",
          default_modules());
}

/* Adapters of cli_parse.h's parsers to the int64_t and bool shapes of this command's options. */
static bool parse_i64(const char *s, int64_t *v) {
  long x;
  if (kat_cli_parse_long(s, LONG_MIN, LONG_MAX, &x, NULL, 0)) return false;
  *v = x;
  return true;
}

static bool parse_f64(const char *s, double *v) {
  return kat_cli_parse_double(s, -DBL_MAX, DBL_MAX, v, NULL, 0) == 0;
}

static int emit(int rc, char *report, const char *err) {
  if (report && *report) fputs(report, stdout);
  kat__onnx_free(report);
  if (rc) {
    fprintf(stderr, "katana onnx: %s (%s)\n", err, kat_status_name(rc));
    return 1;
  }
  return 0;
}

static int cmd_rewrite(int argc, char **argv) {
  kat__onnx_rewrite_options o;
  kat__onnx_rewrite_options_init(&o);
  const char *in = NULL, *out = NULL;
  /* Storage for NAME of --dim NAME=N (argv strings are split in place). */
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int64_t n;
    double d;
    if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      if (!v) goto missing;
      out = v;
      i++;
    } else if (!strcmp(a, "--pass")) {
      if (!v) goto missing;
      if (!kat__onnx_pass_known(v)) {
        fprintf(stderr, "katana onnx rewrite: unknown pass '%s'\n", v);
        return 2;
      }
      if (o.n_passes == KAT_ONNX_MAX_PASSES) {
        fprintf(stderr, "katana onnx rewrite: too many passes\n");
        return 2;
      }
      o.passes[o.n_passes++] = v;
      i++;
    } else if (!strcmp(a, "--force")) {
      o.force = 1;
    } else if (!strcmp(a, "--fixed-memory")) {
      if (!parse_i64(v, &n) || n <= 0) goto bad;
      o.fixed_memory = n;
      i++;
    } else if (!strcmp(a, "--memory-dim")) {
      if (!v) goto missing;
      o.fixed_memory_dim = v;
      i++;
    } else if (!strcmp(a, "--dim")) {
      char *eq = v ? strchr(argv[i + 1], '=') : NULL;
      if (!eq || o.n_dims == KAT_ONNX_MAX_DIMS || !parse_i64(eq + 1, &n) || n <= 0) goto bad;
      *eq = 0;
      o.dims[o.n_dims].name = argv[i + 1];
      o.dims[o.n_dims++].value = n;
      i++;
    } else if (!strcmp(a, "--default-dim")) {
      if (!parse_i64(v, &n) || n <= 0) goto bad;
      o.default_dim = n;
      i++;
    } else if (!strcmp(a, "--seed")) {
      if (!parse_i64(v, &n)) goto bad;
      o.seed = (uint64_t)n;
      i++;
    } else if (!strcmp(a, "--fp16-keep")) {
      if (!v || o.n_fp16_keep == KAT_ONNX_MAX_KEEP) goto bad;
      o.fp16_keep[o.n_fp16_keep++] = v;
      i++;
    } else if (!strcmp(a, "--tol")) {
      if (!parse_f64(v, &d) || !(d > 0)) goto bad;
      o.tol_abs = d;
      i++;
    } else if (!strcmp(a, "--fp16-tol")) {
      if (!parse_f64(v, &d) || !(d > 0)) goto bad;
      o.fp16_tol_rel = d;
      i++;
    } else if (!strcmp(a, "--reduce-range")) {
      if (!v || (strcmp(v, "auto") && strcmp(v, "on") && strcmp(v, "off"))) goto bad;
      o.int8_reduce_range = !strcmp(v, "auto") ? -1 : !strcmp(v, "on");
      i++;
    } else if (!strcmp(a, "--int8-form")) {
      if (!v || (strcmp(v, "fused") && strcmp(v, "plain"))) goto bad;
      o.int8_form = !strcmp(v, "plain");
      i++;
    } else if (!strcmp(a, "--int8-exclude")) {
      if (!v || o.n_int8_exclude == KAT_ONNX_MAX_KEEP) goto bad;
      o.int8_exclude[o.n_int8_exclude++] = v;
      i++;
    } else if (!strcmp(a, "--int8-tol")) {
      if (!parse_f64(v, &d) || !(d > 0)) goto bad;
      o.int8_tol_rel = d;
      i++;
    } else if (a[0] == '-') {
      fprintf(stderr, "katana onnx rewrite: unknown option %s\n", a);
      return 2;
    } else if (!in) {
      in = a;
    } else {
      fprintf(stderr, "katana onnx rewrite: unexpected argument %s\n", a);
      return 2;
    }
    continue;
  missing:
    fprintf(stderr, "katana onnx rewrite: %s needs a value\n", a);
    return 2;
  bad:
    fprintf(stderr, "katana onnx rewrite: bad value for %s\n", a);
    return 2;
  }
  if (!in || !out) {
    usage(stderr);
    return 2;
  }
  char *report = NULL, err[1024];
  int rc = kat__onnx_rewrite(in, out, &o, &report, err, sizeof err);
  return emit(rc, report, err);
}

static int cmd_quantize(int argc, char **argv) {
  kat__onnx_quantize_options o;
  kat__onnx_quantize_options_init(&o);
  const char *in = NULL, *out = NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    char *v = i + 1 < argc ? argv[i + 1] : NULL;
    double d;
    if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      if (!v) goto missing;
      out = v;
      i++;
    } else if (!strcmp(a, "--modules")) {
      if (!v || !*v) goto missing;
      /* Split the comma-separated list in place. */
      for (char *p = v; p && *p;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        if (o.n_modules == 8) goto bad;
        if (*p) o.modules[o.n_modules++] = p;
        p = comma ? comma + 1 : NULL;
      }
      i++;
    } else if (!strcmp(a, "--reduce-range")) {
      if (!v) goto missing;
      if (!strcmp(v, "auto"))
        o.reduce_range = -1;
      else if (!strcmp(v, "on"))
        o.reduce_range = 1;
      else if (!strcmp(v, "off"))
        o.reduce_range = 0;
      else
        goto bad;
      i++;
    } else if (!strcmp(a, "--form")) {
      if (!v || (strcmp(v, "fused") && strcmp(v, "plain"))) goto bad;
      o.form = !strcmp(v, "plain");
      i++;
    } else if (!strcmp(a, "--exclude")) {
      if (!v || o.n_exclude == KAT_ONNX_MAX_KEEP) goto bad;
      o.exclude[o.n_exclude++] = v;
      i++;
    } else if (!strcmp(a, "--tol")) {
      if (!parse_f64(v, &d) || !(d > 0)) goto bad;
      o.tol_rel = d;
      i++;
    } else if (!strcmp(a, "--force")) {
      o.force = 1;
    } else if (a[0] == '-') {
      fprintf(stderr, "katana onnx quantize: unknown option %s\n", a);
      return 2;
    } else if (!in) {
      in = a;
    } else {
      fprintf(stderr, "katana onnx quantize: unexpected argument %s\n", a);
      return 2;
    }
    continue;
  missing:
    fprintf(stderr, "katana onnx quantize: %s needs a value\n", a);
    return 2;
  bad:
    fprintf(stderr, "katana onnx quantize: bad value for %s\n", a);
    return 2;
  }
  if (!in || !out) {
    usage(stderr);
    return 2;
  }
  char *report = NULL, err[1024];
  int rc = kat__onnx_quantize(in, out, &o, &report, err, sizeof err);
  return emit(rc, report, err);
}

int kat_cmd_onnx(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *sub = argv[1];
  char *report = NULL, err[1024];
  if (!strcmp(sub, "inspect")) {
    if (argc != 3) {
      usage(stderr);
      return 2;
    }
    int rc = kat__onnx_inspect(argv[2], &report, err, sizeof err);
    return emit(rc, report, err);
  }
  if (!strcmp(sub, "coverage")) {
    const char *target = NULL, *preset = NULL;
    for (int i = 2; i < argc; i++) {
      if (!strcmp(argv[i], "--ep") && i + 1 < argc)
        preset = argv[++i];
      else if (argv[i][0] != '-' && !target)
        target = argv[i];
      else {
        usage(stderr);
        return 2;
      }
    }
    if (!target || !preset) {
      usage(stderr);
      return 2;
    }
    int rc = kat__onnx_coverage(target, preset, &report, err, sizeof err);
    return emit(rc, report, err);
  }
  if (!strcmp(sub, "rewrite")) return cmd_rewrite(argc - 2, argv + 2);
  if (!strcmp(sub, "quantize")) return cmd_quantize(argc - 2, argv + 2);
  fprintf(stderr, "katana onnx: unknown subcommand '%s'\n", sub);
  usage(stderr);
  return 2;
}
