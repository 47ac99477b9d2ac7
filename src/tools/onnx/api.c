/*
 * Entry points of the ONNX tools (src/tools/onnx/onnx.h): inspect, coverage (per model in
 * coverage.c) and the verified rewrite driver. The driver applies the passes in order; after each
 * pass that changed the graph it runs the graphs before and after in ONNX Runtime on the same
 * seeded inputs and refuses to write when the outputs differ beyond the pass's bar (unless forced).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/onnx/onnx.h"
#include "katana/runtime.h"
#include "model/manifest.h"
#include "tools/onnx/coverage.h"
#include "tools/onnx/inspect.h"
#include "tools/onnx/passes.h"
#include "runtime/ep.h"
#include "runtime/session.h"
#include "runtime/system.h"

typedef int (*pass_fn)(kat__onnx_model *, kat__pass_ctx *, int *, kat__errbuf *);

static const struct {
  const char *name;
  pass_fn fn;
  int bar; /* 0: tol_abs, 1: fp16_tol_rel, 2: int8_tol_rel */
} k_passes[] = {
    {"gather-to-split", kat__pass_gather_to_split, 0},
    {"scatternd-to-concat", kat__pass_scatternd_to_concat, 0},
    {"expose-multimask", kat__pass_expose_multimask, 0},
    {"fixed-memory", kat__pass_fixed_memory, 0},
    {"fp16", kat__pass_fp16, 1},
    {"int8", kat__pass_int8, 2},
};
#define N_PASSES (sizeof k_passes / sizeof k_passes[0])

static int find_pass(const char *name) {
  for (size_t i = 0; i < N_PASSES; i++)
    if (name && strcmp(k_passes[i].name, name) == 0) return (int)i;
  return -1;
}

void kat__onnx_rewrite_options_init(kat__onnx_rewrite_options *o) {
  memset(o, 0, sizeof *o);
  o->default_dim = 4;
  o->seed = 1;
  o->tol_abs = 1e-5;
  o->fp16_tol_rel = 1e-2;
  o->int8_tol_rel = 0.1;
  o->int8_reduce_range = -1;
}

int kat__onnx_pass_known(const char *name) {
  return find_pass(name) >= 0;
}

void kat__onnx_free(char *report) {
  kat__free(report);
}

int kat__sb_finish(int rc, kat__errbuf *eb, kat__sb *b, char **report, char *err, size_t err_size) {
  if (err && err_size) {
    err[0] = 0;
    if (rc) kat__strlcpy(err, eb->msg[0] ? eb->msg : kat_strerror(rc), err_size);
  }
  if (report)
    *report = kat__sb_take(b);
  else
    kat__free(kat__sb_take(b));
  return rc;
}

int kat__onnx_inspect(const char *path, char **report, char *err, size_t err_size) {
  kat__errbuf eb = {{0}};
  kat__sb b = {0};
  kat__onnx_model *m = NULL;
  if (report) *report = NULL;
  if (!path)
    return kat__sb_finish(kat__fail(&eb, KAT_EINVAL, "no model path"), &eb, &b, report, err,
                          err_size);
  /* Read external data when it is there (the patterns need constant values); else report it
   * missing from the file as stored. */
  int rc = kat__onnx_load(path, true, &m, &eb);
  if (rc && rc != KAT_EFORMAT) rc = kat__onnx_load(path, false, &m, &eb);
  if (!rc) rc = kat__onnx_inspect_text(m, &b);
  kat__onnx_destroy(m);
  return kat__sb_finish(rc, &eb, &b, report, err, err_size);
}

/* ---- coverage ---- */

int kat__onnx_coverage(const char *target, const char *preset, char **report, char *err,
                       size_t err_size) {
  kat__errbuf eb = {{0}};
  kat__sb b = {0};
  kat_ep_profile prof;
  kat__manifest *man = NULL;
  if (report) *report = NULL;
  if (!target || !preset)
    return kat__sb_finish(kat__fail(&eb, KAT_EINVAL, "coverage: model and preset are required"),
                          &eb, &b, report, err, err_size);
  int rc = kat_ep_profile_preset(preset, &prof);
  if (rc) {
    kat__fail(&eb, rc, "unknown EP preset '%s' (cpu, cuda, tensorrt, mac)", preset);
    return kat__sb_finish(rc, &eb, &b, report, err, err_size);
  }
  kat__sb_printf(&b, "coverage with preset %s\n", preset);
  struct stat st;
  if (stat(target, &st) != 0) {
    rc = kat__fail(&eb, KAT_ENOENT, "%s: no such file or bundle folder", target);
  } else if (S_ISDIR(st.st_mode)) {
    /* A bundle: its manifest must parse and validate (kat__manifest_load) before anything is
     * reported, and names the module files. A folder without katana.json is taken as a folder
     * of module files under their default names, and the report says so. */
    char mpath[KAT_ONNX_PATH_MAX];
    int found = 0;
    snprintf(mpath, sizeof mpath, "%s/katana.json", target);
    if (stat(mpath, &st) == 0) {
      man = kat__malloc(sizeof *man); /* about 80 KiB */
      if (!man) {
        rc = kat__fail(&eb, KAT_ENOMEM, "out of memory");
      } else {
        kat__errbuf meb = {{0}};
        int mrc = kat__manifest_load(mpath, man, &meb);
        if (mrc) rc = kat__fail(&eb, mrc, "%s: invalid bundle manifest: %s", target, meb.msg);
      }
    } else {
      kat__sb_printf(&b, "%s has no katana.json: not a bundle, module files by default names\n",
                     target);
    }
    for (int mod = 0; mod < KAT_MODULE_COUNT && !rc; mod++) {
      char path[KAT_ONNX_PATH_MAX];
      snprintf(path, sizeof path, "%s/%s", target,
               man ? man->modules[mod].file : kat_module_name((kat_module)mod));
      if (!man) kat__strlcpy(path + strlen(path), ".onnx", sizeof path - strlen(path));
      if (stat(path, &st) != 0) {
        kat__sb_printf(&b, "%s: %s missing\n", kat_module_name((kat_module)mod), path);
        continue;
      }
      found++;
      rc = kat__onnx_coverage_one(path, kat_module_name((kat_module)mod), &prof.module[mod], &b,
                                  &eb);
    }
    if (!rc && !found) rc = kat__fail(&eb, KAT_EMODEL, "%s: no module .onnx files", target);
  } else {
    /* A single model: use the config of the module its file name names (image_encoder if none). */
    int mod = 0;
    const char *base = strrchr(target, '/');
    base = base ? base + 1 : target;
    for (int k = 0; k < KAT_MODULE_COUNT; k++)
      if (strstr(base, kat_module_name((kat_module)k))) mod = k;
    rc = kat__onnx_coverage_one(target, kat_module_name((kat_module)mod), &prof.module[mod], &b,
                                &eb);
  }
  kat__free(man);
  return kat__sb_finish(rc, &eb, &b, report, err, err_size);
}

/* ---- rewrite ---- */

static bool same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Runs `before` and `after` and compares them. */
static int check_pass(const uint8_t *before, size_t nb, const uint8_t *after, size_t na,
                      const char *path, const kat__onnx_rewrite_options *o, double *max_abs,
                      double *max_rel, char *worst, size_t worst_size, kat__errbuf *eb) {
  kat__onnx_model *decl = NULL;
  kat__onnx_run_result ra, rb;
  memset(&ra, 0, sizeof ra);
  memset(&rb, 0, sizeof rb);
  int rc = kat__onnx_load_buffer(before, nb, path, &decl, eb);
  if (!rc) rc = kat__onnx_run(before, nb, decl, o, &ra, eb);
  if (!rc) {
    rc = kat__onnx_run(after, na, decl, o, &rb, eb);
    if (rc) kat__fail(eb, rc, "the rewritten graph does not run in ONNX Runtime: %s", eb->msg);
  }
  if (!rc) rc = kat__onnx_compare(&ra, &rb, max_abs, max_rel, worst, worst_size, eb);
  kat__onnx_run_result_cleanup(&ra);
  kat__onnx_run_result_cleanup(&rb);
  kat__onnx_destroy(decl);
  return rc;
}

int kat__onnx_rewrite(const char *in_path, const char *out_path,
                      const kat__onnx_rewrite_options *opt, char **report, char *err,
                      size_t err_size) {
  kat__errbuf eb = {{0}};
  kat__sb b = {0};
  kat__onnx_rewrite_options o;
  kat__onnx_model *m = NULL;
  uint8_t *cur = NULL, *next = NULL;
  size_t ncur = 0, nnext = 0;
  int rc = KAT_OK, total_changed = 0, order[KAT_ONNX_MAX_PASSES], n_order = 0;
  if (report) *report = NULL;
  if (opt)
    o = *opt;
  else
    kat__onnx_rewrite_options_init(&o);
  if (!in_path || !out_path) {
    rc = kat__fail(&eb, KAT_EINVAL, "rewrite: input and output paths are required");
    goto done;
  }
  if (strcmp(in_path, out_path) == 0 || same_file(in_path, out_path)) {
    rc = kat__fail(&eb, KAT_EINVAL, "rewrite: the output must not be the input file (%s)", in_path);
    goto done;
  }
  if (o.n_passes < 0 || o.n_passes > KAT_ONNX_MAX_PASSES) {
    rc = kat__fail(&eb, KAT_EINVAL, "rewrite: at most %d passes", KAT_ONNX_MAX_PASSES);
    goto done;
  }
  if (o.n_passes == 0) {
    order[n_order++] = 0;
    order[n_order++] = 1;
  }
  for (int i = 0; i < o.n_passes; i++) {
    int p = find_pass(o.passes[i]);
    if (p < 0) {
      rc = kat__fail(&eb, KAT_EINVAL,
                     "unknown pass '%s' (gather-to-split, scatternd-to-concat, expose-multimask, "
                     "fixed-memory, fp16, int8)",
                     o.passes[i] ? o.passes[i] : "");
      goto done;
    }
    order[n_order++] = p;
  }
  if (o.default_dim <= 0) o.default_dim = 4;
  if (!(o.tol_abs > 0)) o.tol_abs = 1e-5;
  if (!(o.fp16_tol_rel > 0)) o.fp16_tol_rel = 1e-2;
  if (!(o.int8_tol_rel > 0)) o.int8_tol_rel = 0.1;
  /* Auto: 7-bit weights where the CPU's U8S8 kernels would saturate (kat__onnx_quantize's rule). */
  if (o.int8_reduce_range < 0) o.int8_reduce_range = kat__cpu_int8_reduce_range(NULL, 0);
  rc = kat__onnx_load(in_path, true, &m, &eb);
  if (rc) goto done;
  rc = kat__onnx_serialize(m, &cur, &ncur, &eb);
  if (rc) goto done;
  kat__sb_printf(&b, "rewrite %s -> %s (%zu nodes)\n", in_path, out_path, m->proto->graph->n_node);
  kat__pass_ctx ctx = {.opt = &o, .log = &b};
  bool check_failed = false;
  for (int k = 0; k < n_order; k++) {
    int p = order[k], changed = 0;
    size_t nodes_before = m->proto->graph->n_node;
    rc = k_passes[p].fn(m, &ctx, &changed, &eb);
    if (rc) goto done;
    if (!changed) {
      kat__sb_printf(&b, "%s: nothing to rewrite\n", k_passes[p].name);
      continue;
    }
    rc = kat__onnx_serialize(m, &next, &nnext, &eb);
    if (rc) goto done;
    kat__onnx_rewrite_options co = o;
    if (!strcmp(k_passes[p].name, "fixed-memory") && co.n_dims < KAT_ONNX_MAX_DIMS) {
      co.dims[co.n_dims].name = ctx.pinned_dim;
      co.dims[co.n_dims++].value = o.fixed_memory;
      /* The pinned size must win over a size the user gave the same dim. */
      for (int d = 0; d < co.n_dims - 1; d++)
        if (co.dims[d].name && !strcmp(co.dims[d].name, ctx.pinned_dim))
          co.dims[d].value = o.fixed_memory;
    }
    double max_abs = 0, max_rel = 0;
    char worst[128];
    kat__errbuf ceb = {{0}};
    int crc = check_pass(cur, ncur, next, nnext, in_path, &co, &max_abs, &max_rel, worst,
                         sizeof worst, &ceb);
    bool ok;
    if (crc) {
      ok = false;
      kat__sb_printf(&b, "%s: %d site(s), nodes %zu -> %zu; check could not run: %s\n",
                     k_passes[p].name, changed, nodes_before, m->proto->graph->n_node, ceb.msg);
    } else {
      double bar = k_passes[p].bar == 2   ? o.int8_tol_rel
                   : k_passes[p].bar == 1 ? o.fp16_tol_rel
                                          : o.tol_abs;
      ok = k_passes[p].bar ? max_rel <= bar : max_abs <= bar;
      kat__sb_printf(&b,
                     "%s: %d site(s), nodes %zu -> %zu; check max_abs %.3g max_rel %.3g%s%s "
                     "(bar: %s %.3g) %s\n",
                     k_passes[p].name, changed, nodes_before, m->proto->graph->n_node, max_abs,
                     max_rel, worst[0] ? " worst " : "", worst,
                     k_passes[p].bar ? "max_rel" : "max_abs", bar, ok ? "OK" : "FAILED");
    }
    if (!ok) {
      check_failed = true;
      if (!o.force) {
        rc = kat__fail(&eb, crc && crc != KAT_ECHECK ? crc : KAT_ECHECK,
                       "%s: pass %s failed its numeric check%s%s; nothing written (--force writes "
                       "anyway)",
                       in_path, k_passes[p].name, crc ? ": " : "", crc ? ceb.msg : "");
        goto done;
      }
    }
    kat__free(cur);
    cur = next;
    ncur = nnext;
    next = NULL;
    total_changed += changed;
  }
  if (total_changed == 0 && m->n_external == 0) {
    rc = kat__onnx_write_file(out_path, m->bytes, m->size, &eb);
    if (!rc) kat__sb_printf(&b, "no pass changed the graph: wrote a byte-identical copy\n");
  } else {
    rc = kat__onnx_write_file(out_path, cur, ncur, &eb);
    if (!rc)
      kat__sb_printf(&b, "wrote %s (%zu bytes, %zu nodes%s)%s\n", out_path, ncur,
                     m->proto->graph->n_node, m->n_external ? ", external data made inline" : "",
                     check_failed ? " DESPITE A FAILED CHECK (--force)" : "");
  }
done:
  kat__free(cur);
  kat__free(next);
  kat__onnx_destroy(m);
  return kat__sb_finish(rc, &eb, &b, report, err, err_size);
}
