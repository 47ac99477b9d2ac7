/*
 * Long-run memory check of the tracker: tracks one object through a long synthetic eval clip
 * (occlusions, out-of-view stretches, look-alike distractors; src/tools/synth/render.h renders each
 * frame on the fly into one reused buffer, so the bench itself holds no per-frame memory) with the
 * public tracker API, and prints the process's resident set size (VmRSS from /proc/self/status)
 * after given frames. The tracker's memory bank is bounded (docs/internals/track.md), so RSS
 * after the first few hundred frames should stay flat.
 *
 * usage: katana_bench_rss_long BUNDLE [--frames N] [--size WxH] [--seed S]
 *        [--selection samurai|sam2] [--every K] [--threads T]
 * Defaults: 10000 frames, 320x180, seed 1, samurai, a line every 500 frames, 1 intra-op thread
 * per module. Lines at frames 500, 5000 and 10000 (1-based frame counts) are always printed when
 * the clip is that long. Not a test (not in `make test`): run it by hand, e.g.
 *   build/bin/katana_bench_rss_long .testdata/bundles/micro_efficienttam
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "katana/katana.h"
#include "tools/synth/render.h"

/* VmRSS and VmHWM of this process in kB (-1 when unreadable). */
static void read_rss(long *rss_kb, long *hwm_kb) {
  *rss_kb = -1;
  *hwm_kb = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) *rss_kb = strtol(line + 6, NULL, 10);
    if (strncmp(line, "VmHWM:", 6) == 0) *hwm_kb = strtol(line + 6, NULL, 10);
  }
  fclose(f);
}

static int parse_long(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s BUNDLE [--frames N] [--size WxH] [--seed S] [--selection samurai|sam2]\n"
          "       [--every K] [--threads T]\n",
          argv0);
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2 || argv[1][0] == '-') return usage(argv[0]);
  const char *bundle = argv[1];
  long frames = 10000, width = 320, height = 180, seed = 1, every = 500, threads = 1;
  int selection = KAT_SELECTION_SAMURAI;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return usage(argv[0]);
    i++;
    if (strcmp(a, "--frames") == 0) {
      if (parse_long(v, 1, 1000000, &frames)) return usage(argv[0]);
    } else if (strcmp(a, "--seed") == 0) {
      if (parse_long(v, 0, INT32_MAX, &seed)) return usage(argv[0]);
    } else if (strcmp(a, "--every") == 0) {
      if (parse_long(v, 0, 1000000, &every)) return usage(argv[0]);
    } else if (strcmp(a, "--threads") == 0) {
      if (parse_long(v, 0, 256, &threads)) return usage(argv[0]);
    } else if (strcmp(a, "--selection") == 0) {
      selection = kat_selection_parse(v);
      if (selection < 0) return usage(argv[0]);
    } else if (strcmp(a, "--size") == 0) {
      char *x = strchr(v, 'x');
      char wbuf[16];
      if (!x || (size_t)(x - v) >= sizeof wbuf) return usage(argv[0]);
      memcpy(wbuf, v, (size_t)(x - v));
      wbuf[x - v] = '\0';
      if (parse_long(wbuf, 32, 4096, &width) || parse_long(x + 1, 32, 4096, &height))
        return usage(argv[0]);
    } else {
      return usage(argv[0]);
    }
  }

  int rc = 1;
  kat__synth_clip *clip = NULL;
  kat_tracker *t = NULL;
  uint8_t *rgb = NULL, *mask = NULL;
  kat__errbuf eb;
  char err[1024];
  eb.msg[0] = '\0';
  long rss0, hwm0;
  read_rss(&rss0, &hwm0);
  if (kat__synth_clip_create(KAT_SYNTH_EVAL, (uint64_t)seed, (int)width, (int)height, (int)frames,
                             &clip, &eb)) {
    fprintf(stderr, "synth: %s\n", eb.msg);
    goto cleanup;
  }
  /* [height, width*3] u8 RGB24 frame and [height, width] u8 mask, reused for every frame. */
  rgb = malloc((size_t)width * (size_t)height * 3);
  mask = malloc((size_t)width * (size_t)height);
  if (!rgb || !mask) goto cleanup;

  kat_tracker_options o;
  kat_tracker_options_init(&o);
  o.selection = (kat_selection)selection;
  o.num_frames = frames;
  for (int m = 0; m < KAT_MODULE_COUNT; m++) o.ep.module[m].intra_op_threads = (int)threads;
  if (kat_tracker_create(bundle, &o, &t, err, sizeof err)) {
    fprintf(stderr, "create: %s\n", err);
    goto cleanup;
  }
  long rss_created, hwm_created;
  read_rss(&rss_created, &hwm_created);
  printf(
      "bundle %s, %ld frames %ldx%ld, synth eval seed %ld, %s; RSS before create %ld kB, "
      "after create %ld kB\n",
      bundle, frames, width, height, seed, selection == KAT_SELECTION_SAM2 ? "sam2" : "samurai",
      rss0, rss_created);

  kat_frame f;
  memset(&f, 0, sizeof f);
  f.format = KAT_PIXEL_RGB24;
  f.width = (int)width;
  f.height = (int)height;
  f.data[0] = rgb;
  f.stride[0] = (size_t)width * 3;
  long rss_500 = -1, absent = 0, out_of_view = 0, occluded = 0;
  double t0 = kat__now_ms();
  for (long i = 0; i < frames; i++) {
    kat__synth_info info;
    if (kat__synth_clip_render(clip, (int)i, rgb, mask, &info)) {
      fprintf(stderr, "render failed at frame %ld\n", i);
      goto cleanup;
    }
    out_of_view += info.out_of_view;
    occluded += info.full_occlusion;
    f.index = i;
    kat_track_result r;
    int st;
    if (i == 0) {
      if (info.box[2] <= 0 || info.box[3] <= 0) {
        fprintf(stderr, "the target is not visible on frame 0 of seed %ld; pick another\n", seed);
        goto cleanup;
      }
      double box[4] = {info.box[0], info.box[1], info.box[2], info.box[3]};
      st = kat_tracker_start(t, &f, box, &r);
    } else {
      st = kat_tracker_step(t, &f, &r);
    }
    if (st) {
      fprintf(stderr, "frame %ld: %s: %s\n", i, kat_status_name(st), kat_tracker_last_error(t));
      goto cleanup;
    }
    absent += r.presence != KAT_PRESENCE_TRACKED;
    const long n = i + 1;
    if ((every > 0 && n % every == 0) || n == 500 || n == 5000 || n == 10000 || n == frames) {
      long rss, hwm;
      read_rss(&rss, &hwm);
      if (n == 500) rss_500 = rss;
      printf("frame %6ld: VmRSS %ld kB  VmHWM %ld kB  (%.1f FPS so far, %ld absent)\n", n, rss, hwm,
             n / ((kat__now_ms() - t0) / 1e3), absent);
      fflush(stdout);
    }
  }
  long rss_end, hwm_end;
  read_rss(&rss_end, &hwm_end);
  printf(
      "clip: %ld out-of-view frames, %ld fully occluded frames; tracker: %ld frames not "
      "tracked\n",
      out_of_view, occluded, absent);
  if (rss_500 >= 0)
    printf("RSS growth from frame 500 to frame %ld: %+ld kB\n", frames, rss_end - rss_500);
  rc = 0;
cleanup:
  kat_tracker_destroy(t);
  kat__synth_clip_destroy(clip);
  free(rgb);
  free(mask);
  return rc;
}
