/*
 * katana bench: per-module latency (each ONNX module alone, warm), end-to-end per-frame latency
 * and FPS on a synthetic clip, tracker init cold/warm, peak RSS and the host's share of the frame
 * time, for one or more execution-provider presets and modes. Prints a report per run and, with
 * --json, writes results.<preset>.<mode>.{modules.<name>.p50_ms, frame.p50_ms, ...}. Every report
 * names the machine. Uses only the public API (katana/bench.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "katana/bench.h"
#include "katana/katana.h"

#define MAX_LIST 8

static void usage(FILE *f) {
  fprintf(f,
          "usage: katana bench --bundle DIR [options]\n"
          "\n"
          "options:\n"
          "  --preset LIST      execution-provider presets, comma-separated (default cpu):\n"
          "                     cpu, cuda, tensorrt, mac\n"
          "  --mode LIST        exact (reference resize and boxes) and/or fast (default exact)\n"
          "  --frames N         synthetic frames tracked end to end (default 60)\n"
          "  --iterations N     timed runs per module alone (default 20)\n"
          "  --warmup N         discarded runs per module and first frames (default 3)\n"
          "  --size WxH         synthetic frame size (default 640x360)\n"
          "  --threads N        intra-op threads for every module (default: the preset's)\n"
          "  --no-modules       skip timing the modules alone\n"
          "  --clip DIR         track a sequence folder (img/, groundtruth.txt, optional masks/,\n"
          "                     as katana synth writes) instead of the built-in synthetic clip,\n"
          "                     and score it too (AUC, P@20, mIoU)\n"
          "  --json FILE        write the report as JSON ('-' for stdout)\n"
          "\n"
          "Init 'cold' is the first tracker creation of each run; only the first run of the\n"
          "process is truly cold. Peak RSS is the process's peak so far (run one preset and mode\n"
          "per process for a clean number).\n");
}

static int parse_int(const char *s, long lo, long hi, int *out) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end != '\0' || v < lo || v > hi) return -1;
  *out = (int)v;
  return 0;
}

/* Splits a comma-separated list in place into at most MAX_LIST items. */
static int split_list(char *s, const char **items) {
  int n = 0;
  char *p = s;
  while (*p) {
    if (n == MAX_LIST) return -1;
    items[n++] = p;
    char *c = strchr(p, ',');
    if (!c) break;
    *c = '\0';
    p = c + 1;
  }
  return n;
}

static const char *module_names[KAT_MODULE_COUNT];

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      fputc('\\', f);
      fputc(*p, f);
    } else if (*p < 0x20) {
      fprintf(f, "\\u%04x", *p);
    } else {
      fputc(*p, f);
    }
  }
  fputc('"', f);
}

static void json_num(FILE *f, double v) {
  if (isfinite(v)) {
    fprintf(f, "%.4f", v);
  } else {
    fputs("null", f);
  }
}

static void json_stats(FILE *f, const kat_bench_stats *s) {
  fprintf(f, "{\"count\": %zu, \"min_ms\": ", s->count);
  json_num(f, s->min);
  fputs(", \"p50_ms\": ", f);
  json_num(f, s->p50);
  fputs(", \"p95_ms\": ", f);
  json_num(f, s->p95);
  fputs(", \"p99_ms\": ", f);
  json_num(f, s->p99);
  fputs(", \"max_ms\": ", f);
  json_num(f, s->max);
  fputs(", \"mean_ms\": ", f);
  json_num(f, s->mean);
  fputs(", \"stddev_ms\": ", f);
  json_num(f, s->stddev);
  fputs(", \"cv\": ", f);
  json_num(f, s->cv);
  fputc('}', f);
}

static void json_report(FILE *f, const kat_bench_report *r, const kat_bench_options *o) {
  fprintf(f, "{\n        \"machine\": ");
  json_str(f, r->machine);
  fprintf(f, ",\n        \"frames\": %d, \"iterations\": %d, \"warmup\": %d, \"size\": [%d, %d],",
          o->frames, o->iterations, o->warmup, o->width, o->height);
  fprintf(f, "\n        \"modules\": {");
  int first = 1;
  for (int m = 0; m < KAT_MODULE_COUNT; m++) {
    if (!r->module_ran[m]) continue;
    fprintf(f, "%s\n          ", first ? "" : ",");
    json_str(f, module_names[m]);
    fputs(": ", f);
    json_stats(f, &r->module[m]);
    first = 0;
  }
  fprintf(f, "%s},\n        \"frame\": ", first ? "" : "\n        ");
  json_stats(f, &r->frame);
  fputs(",\n        \"fps_p50\": ", f);
  json_num(f, r->fps_p50);
  fputs(", \"wall_fps\": ", f);
  json_num(f, r->wall_fps);
  fputs(",\n        \"init_ms\": {\"cold\": ", f);
  json_num(f, r->init_cold_ms);
  fputs(", \"warm\": ", f);
  json_num(f, r->init_warm_ms);
  fputs("},\n        \"peak_rss_mb\": ", f);
  json_num(f, r->peak_rss_mb);
  fputs(", \"host_overhead_ratio\": ", f);
  json_num(f, r->host_overhead_ratio);
  fprintf(f, ",\n        \"throttled\": %s, \"throttle_ratio\": ", r->throttled ? "true" : "false");
  json_num(f, r->throttle_ratio);
  if (r->has_accuracy) {
    fprintf(f, ",\n        \"accuracy\": {\"clip\": ");
    json_str(f, o->clip_dir);
    fprintf(f, ", \"scored_frames\": %zu, \"auc\": ", r->scored_frames);
    json_num(f, r->auc);
    fputs(", \"precision_20\": ", f);
    json_num(f, r->precision_20);
    fputs(", \"norm_precision\": ", f);
    json_num(f, r->norm_precision);
    fputs(", \"mean_box_iou\": ", f);
    json_num(f, r->mean_box_iou);
    fprintf(f, ", \"mask_frames\": %zu, \"miou\": ", r->mask_frames);
    json_num(f, r->miou);
    fputc('}', f);
  }
  fputs("\n      }", f);
}

static void print_report(const kat_bench_report *r, const kat_bench_options *o) {
  printf("machine: %s\n", r->machine);
  if (o->clip_dir) {
    printf("bundle: %s   preset: %s   mode: %s   clip %s, %zu timed frames\n", o->bundle_dir,
           r->preset, r->mode, o->clip_dir, r->frame.count);
  } else {
    printf("bundle: %s   preset: %s   mode: %s   %d frames %dx%d (synthetic)\n", o->bundle_dir,
           r->preset, r->mode, o->frames, o->width, o->height);
  }
  int any = 0;
  for (int m = 0; m < KAT_MODULE_COUNT; m++) any |= r->module_ran[m];
  if (any) {
    printf("  %-18s %9s %9s %9s %9s   (ms, module alone, %d warm runs)\n", "module", "min", "p50",
           "p95", "p99", o->iterations);
    for (int m = 0; m < KAT_MODULE_COUNT; m++) {
      if (!r->module_ran[m]) continue;
      const kat_bench_stats *s = &r->module[m];
      printf("  %-18s %9.3f %9.3f %9.3f %9.3f\n", module_names[m], s->min, s->p50, s->p95, s->p99);
    }
  }
  printf("  %-18s %9.3f %9.3f %9.3f %9.3f   (ms per frame, end to end)\n", "frame", r->frame.min,
         r->frame.p50, r->frame.p95, r->frame.p99);
  printf("  fps_p50 %.2f   wall_fps %.2f   init cold %.1f ms, warm %.1f ms\n", r->fps_p50,
         r->wall_fps, r->init_cold_ms, r->init_warm_ms);
  printf("  peak RSS %.1f MiB   host overhead %.1f%% of the frame time\n", r->peak_rss_mb,
         100.0 * r->host_overhead_ratio);
  if (r->has_accuracy) {
    printf("  accuracy on the clip: AUC %.2f  P@20 %.2f  NP@.2 %.2f  AO %.2f", 100.0 * r->auc,
           100.0 * r->precision_20, 100.0 * r->norm_precision, 100.0 * r->mean_box_iou);
    if (r->mask_frames) printf("  mIoU %.2f (%zu masks)", 100.0 * r->miou, r->mask_frames);
    printf("  (%zu scored frames)\n", r->scored_frames);
  }
  if (r->throttled)
    printf(
        "  WARNING: the last third of the frames ran %.0f%% slower than the first "
        "(throttling or other load); the numbers are suspect\n",
        100.0 * (r->throttle_ratio - 1.0));
}

int kat_cmd_bench(int argc, char **argv) {
  kat_bench_options o;
  kat_bench_options_init(&o);
  char preset_buf[256] = "cpu", mode_buf[64] = "exact";
  const char *json_path = NULL;
  for (int m = 0; m < KAT_MODULE_COUNT; m++) module_names[m] = kat_module_name((kat_module)m);

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int bad = 0;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--no-modules") == 0) {
      o.skip_modules = 1;
      continue;
    } else if (!v) {
      bad = 1;
    } else if (strcmp(a, "--bundle") == 0) {
      o.bundle_dir = v;
    } else if (strcmp(a, "--preset") == 0) {
      bad = snprintf(preset_buf, sizeof preset_buf, "%s", v) >= (int)sizeof preset_buf;
    } else if (strcmp(a, "--mode") == 0) {
      bad = snprintf(mode_buf, sizeof mode_buf, "%s", v) >= (int)sizeof mode_buf;
    } else if (strcmp(a, "--frames") == 0) {
      bad = parse_int(v, 2, 1000000, &o.frames);
    } else if (strcmp(a, "--iterations") == 0) {
      bad = parse_int(v, 1, 1000000, &o.iterations);
    } else if (strcmp(a, "--warmup") == 0) {
      bad = parse_int(v, 0, 10000, &o.warmup);
    } else if (strcmp(a, "--threads") == 0) {
      bad = parse_int(v, 1, 1024, &o.intra_op_threads);
    } else if (strcmp(a, "--size") == 0) {
      char *x = strchr(v, 'x');
      char wbuf[16];
      size_t wl = x ? (size_t)(x - v) : 0;
      if (!x || wl == 0 || wl >= sizeof wbuf) {
        bad = 1;
      } else {
        memcpy(wbuf, v, wl);
        wbuf[wl] = '\0';
        bad = parse_int(wbuf, 32, 8192, &o.width) || parse_int(x + 1, 32, 8192, &o.height);
      }
    } else if (strcmp(a, "--json") == 0) {
      json_path = v;
    } else if (strcmp(a, "--clip") == 0) {
      o.clip_dir = v;
    } else {
      bad = 1;
    }
    if (bad) {
      fprintf(stderr, "katana bench: bad or unknown option: %s%s%s\n\n", a, v ? " " : "",
              v ? v : "");
      usage(stderr);
      return 2;
    }
    i++;
  }
  if (!o.bundle_dir) {
    fprintf(stderr, "katana bench: --bundle is required\n\n");
    usage(stderr);
    return 2;
  }
  const char *presets[MAX_LIST], *modes[MAX_LIST];
  int np = split_list(preset_buf, presets), nm = split_list(mode_buf, modes);
  if (np <= 0 || nm <= 0) {
    fprintf(stderr, "katana bench: --preset and --mode take 1 to %d comma-separated names\n",
            MAX_LIST);
    return 2;
  }
  kat_bench_report *reps = calloc((size_t)(np * nm), sizeof *reps);
  if (!reps) {
    fprintf(stderr, "katana bench: out of memory\n");
    return 1;
  }
  int rc = 0;
  char err[1024];
  for (int p = 0; p < np && rc == 0; p++) {
    for (int m = 0; m < nm && rc == 0; m++) {
      o.preset = presets[p];
      o.mode = modes[m];
      kat_bench_report *r = &reps[p * nm + m];
      err[0] = '\0';
      int st = kat_bench_run(&o, r, err, sizeof err);
      if (st != KAT_OK) {
        fprintf(stderr, "katana bench: %s/%s: %s (%s)\n", presets[p], modes[m], err,
                kat_status_name(st));
        rc = 1;
        break;
      }
      if (p || m) printf("\n");
      print_report(r, &o);
    }
  }
  if (rc == 0 && json_path) {
    FILE *f = strcmp(json_path, "-") == 0 ? stdout : fopen(json_path, "w");
    if (!f) {
      fprintf(stderr, "katana bench: cannot write %s: %s\n", json_path, strerror(errno));
      rc = 1;
    } else {
      fprintf(f, "{\n  \"katana_version\": ");
      json_str(f, kat_version());
      fprintf(f, ",\n  \"machine\": ");
      json_str(f, reps[0].machine);
      fprintf(f, ",\n  \"bundle\": ");
      json_str(f, o.bundle_dir);
      fprintf(f, ",\n  \"results\": {");
      for (int p = 0; p < np; p++) {
        fprintf(f, "%s\n    ", p ? "," : "");
        json_str(f, presets[p]);
        fprintf(f, ": {");
        for (int m = 0; m < nm; m++) {
          fprintf(f, "%s\n      ", m ? "," : "");
          json_str(f, modes[m]);
          fprintf(f, ": ");
          json_report(f, &reps[p * nm + m], &o);
        }
        fprintf(f, "\n    }");
      }
      fprintf(f, "\n  }\n}\n");
      if (f != stdout && fclose(f) != 0) {
        fprintf(stderr, "katana bench: error writing %s\n", json_path);
        rc = 1;
      }
    }
  }
  free(reps);
  return rc;
}
