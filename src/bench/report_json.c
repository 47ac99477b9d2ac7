/*
 * `katana bench` reports as JSON (kat__bench_write_json, src/bench/bench.h).
 *
 * Layout: {"katana_version", "machine", "results": {<model>: {<preset>: {<mode key>: {...}}}}},
 * grouped in the order the reports first name each model and preset. Every run object repeats
 * the machine and its options, so one object read alone is still self-describing. Numbers that
 * are not finite (NaN: not measured) are written as null. docs/internals/bench.md lists the keys.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "bench/bench.h"
#include "tools/json/write.h"
#include "tools/eval/results.h"

/* Every number of the report has 4 decimals. */
static void json_num(FILE *f, double v) {
  kat__json_write_num(f, v, 4);
}

/* ", \"key\": <num>" */
static void json_kv(FILE *f, const char *key, double v) {
  fprintf(f, ", \"%s\": ", key);
  json_num(f, v);
}

static void json_stats(FILE *f, const kat__bench_stats *s) {
  fprintf(f, "{\"count\": %zu", s->count);
  json_kv(f, "min_ms", s->min);
  json_kv(f, "p50_ms", s->p50);
  json_kv(f, "p95_ms", s->p95);
  json_kv(f, "p99_ms", s->p99);
  json_kv(f, "max_ms", s->max);
  json_kv(f, "mean_ms", s->mean);
  json_kv(f, "stddev_ms", s->stddev);
  json_kv(f, "cv", s->cv);
  fputc('}', f);
}

static void json_array(FILE *f, const double *v, size_t n, int dec) {
  fputc('[', f);
  for (size_t i = 0; i < n; i++) {
    if (i) fputs(i % 16 ? ", " : ",\n          ", f);
    if (isfinite(v[i])) {
      fprintf(f, "%.*f", dec, v[i]);
    } else {
      fputs("null", f);
    }
  }
  fputc(']', f);
}

static void json_run(FILE *f, const kat__bench_report *r) {
  const char *ind = "\n        ";
  fprintf(f, "{%s\"model\": ", ind);
  kat__json_write_str(f, r->model);
  fputs(", \"bundle\": ", f);
  kat__json_write_str(f, r->bundle);
  fprintf(f, ",%s\"preset\": ", ind);
  kat__json_write_str(f, r->preset);
  fputs(", \"mode\": ", f);
  kat__json_write_str(f, r->mode);
  fputs(", \"prep\": ", f);
  kat__json_write_str(f, r->prep);
  fputs(", \"threads\": ", f);
  kat__json_write_str(f, r->threads);
  fputs(", \"precision\": ", f);
  kat__json_write_str(f, r->precision);
  fprintf(f, ",%s\"machine\": ", ind);
  kat__json_write_str(f, r->machine);
  fprintf(f, ",%s\"frames\": %d, \"iterations\": %d, \"warmup\": %d, \"repeat\": %d, ", ind,
          r->frames, r->iterations, r->warmup, r->repeat);
  fprintf(f, "\"objects\": %d, ", r->objects > 0 ? r->objects : 1);
  fprintf(f, "\"size\": [%d, %d], \"clip\": ", r->width, r->height);
  if (r->clip[0]) {
    kat__json_write_str(f, r->clip);
  } else {
    fputs("null", f);
  }
  fprintf(f, ",%s\"modules\": {", ind);
  int first = 1;
  for (int m = 0; m < KAT_MODULE_COUNT; m++) {
    if (!r->module_ran[m]) continue;
    fprintf(f, "%s%s  ", first ? "" : ",", ind);
    kat__json_write_str(f, kat_module_name((kat_module)m));
    fputs(": ", f);
    json_stats(f, &r->module[m]);
    first = 0;
  }
  fprintf(f, "%s},%s\"frame_definition\": ", first ? "" : ind, ind);
  kat__json_write_str(f, kat__bench_frame_definition(r));
  fprintf(f, ",%s\"frame\": ", ind);
  json_stats(f, &r->frame);
  fprintf(f, ",%s\"latency\": ", ind);
  json_stats(f, &r->latency);
  fprintf(f, ",%s\"fps_p50\": ", ind);
  json_num(f, r->fps_p50);
  json_kv(f, "wall_fps", r->wall_fps);
  fprintf(f, ",%s\"repeats\": {\"count\": %d, \"wall_fps\": ", ind, r->repeat);
  size_t nrep = r->repeat > 0 && r->repeat <= KAT_BENCH_MAX_REPEAT ? (size_t)r->repeat : 0;
  json_array(f, r->repeat_wall_fps, nrep, 4);
  fputs(", \"fps_p50\": ", f);
  json_array(f, r->repeat_fps_p50, nrep, 4);
  json_kv(f, "wall_fps_spread", r->wall_fps_spread);
  fprintf(f, "},%s\"stages\": {", ind);
  for (int s = 0; s < KAT_BENCH_STAGE_COUNT; s++) {
    fprintf(f, "%s", s ? ", " : "");
    kat__json_write_str(f, kat__bench_stage_name(s));
    fputs(": {\"ms\": ", f);
    json_num(f, r->stage_ms[s]);
    json_kv(f, "share", r->stage_share[s]);
    fputc('}', f);
  }
  fprintf(f, "},%s\"init_ms\": {\"cold\": ", ind);
  json_num(f, r->init_cold_ms);
  json_kv(f, "warm", r->init_warm_ms);
  fprintf(f, "},%s\"peak_rss_mb\": ", ind);
  json_num(f, r->peak_rss_mb);
  json_kv(f, "host_overhead_ratio", r->host_overhead_ratio);
  fprintf(f, ",%s\"throttled\": %s", ind, r->throttled ? "true" : "false");
  json_kv(f, "throttle_ratio", r->throttle_ratio);
  if (r->has_accuracy) {
    fprintf(f, ",%s\"accuracy\": {\"scored_frames\": %zu", ind, r->scored_frames);
    json_kv(f, "auc", r->auc);
    json_kv(f, "precision_20", r->precision_20);
    json_kv(f, "norm_precision", r->norm_precision);
    json_kv(f, "mean_box_iou", r->mean_box_iou);
    fprintf(f, ", \"mask_frames\": %zu", r->mask_frames);
    json_kv(f, "miou", r->miou);
    fputc('}', f);
  }
  fprintf(f, ",%s\"frame_ms\": ", ind);
  json_array(f, r->frame_ms, r->frame_ms ? r->frame_ms_count : 0, 3);
  fputs("\n      }", f);
}

/* 1 when reports[i] is the first one with its model (and, with `preset`, its preset). */
static int first_of(const kat__bench_report *reports, size_t i, int preset) {
  for (size_t j = 0; j < i; j++) {
    if (strcmp(reports[j].model, reports[i].model) != 0) continue;
    if (!preset || strcmp(reports[j].preset, reports[i].preset) == 0) return 0;
  }
  return 1;
}

int kat__bench_write_json(const char *path, const kat__bench_report *reports, size_t n, char *err,
                          size_t err_size) {
  if (!reports || n == 0)
    return kat__eval_error(err, err_size, KAT_EINVAL, "bench: no reports to write");
  FILE *f = kat__bench_open_out(path, err, err_size);
  if (!f) return KAT_EIO;
  fputs("{\n  \"katana_version\": ", f);
  kat__json_write_str(f, kat_version());
  fputs(",\n  \"machine\": ", f);
  kat__json_write_str(f, reports[0].machine);
  fputs(",\n  \"results\": {", f);
  int nmodel = 0;
  for (size_t a = 0; a < n; a++) {
    if (!first_of(reports, a, 0)) continue;
    fprintf(f, "%s\n    ", nmodel++ ? "," : "");
    kat__json_write_str(f, reports[a].model);
    fputs(": {", f);
    int npreset = 0;
    for (size_t b = a; b < n; b++) {
      if (strcmp(reports[b].model, reports[a].model) != 0 || !first_of(reports, b, 1)) continue;
      fprintf(f, "%s\n     ", npreset++ ? "," : "");
      kat__json_write_str(f, reports[b].preset);
      fputs(": {", f);
      int nmode = 0;
      for (size_t c = b; c < n; c++) {
        if (strcmp(reports[c].model, reports[b].model) != 0 ||
            strcmp(reports[c].preset, reports[b].preset) != 0)
          continue;
        char key[48];
        kat__bench_mode_key(&reports[c], key, sizeof key);
        fprintf(f, "%s\n      ", nmode++ ? "," : "");
        kat__json_write_str(f, key);
        fputs(": ", f);
        json_run(f, &reports[c]);
      }
      fputs("\n     }", f);
    }
    fputs("\n    }", f);
  }
  fputs("\n  }\n}\n", f);
  return kat__bench_close_out(f, path, err, err_size);
}
