/*
 * katana synth: writes deterministic synthetic tracking clips with ground truth (see
 * src/tools/synth/synth.h for the layout).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_parse.h"
#include "tools/synth/synth.h"

static void synth_usage(FILE *f) {
  fprintf(f,
          "usage: katana synth --out DIR [--suite train|eval] [--seed N] [--count K]\n"
          "                    [--frames F] [--size WxH] [--mp4]\n\n"
          "Writes K clips DIR/<suite>-NNN/ with img/NNNNN.png, masks/NNNNN.png,\n"
          "groundtruth.txt (x,y,w,h; 0,0,0,0 when not visible), full_occlusion.txt,\n"
          "out_of_view.txt and, with --mp4, video.mp4. Same options, same bytes.\n"
          "Defaults: --suite train --seed 1 --count 1 --frames 60 --size 640x360.\n");
}

int kat_cmd_synth(int argc, char **argv) {
  kat__synth_options o;
  kat__synth_options_init(&o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    long n;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      synth_usage(stdout);
      return 0;
    } else if (strcmp(a, "--mp4") == 0) {
      o.write_mp4 = 1;
      continue;
    }
    if (!v) {
      fprintf(stderr, "katana synth: %s needs a value\n", a);
      return 2;
    }
    i++;
    if (strcmp(a, "--out") == 0) {
      o.out_dir = v;
    } else if (strcmp(a, "--suite") == 0) {
      int s = kat__synth_suite_parse(v);
      if (s < 0) {
        fprintf(stderr, "katana synth: --suite must be train or eval, not '%s'\n", v);
        return 2;
      }
      o.suite = (kat__synth_suite)s;
    } else if (strcmp(a, "--seed") == 0) {
      char *end;
      errno = 0;
      unsigned long long s = strtoull(v, &end, 10);
      if (errno || end == v || *end || v[0] == '-') {
        fprintf(stderr, "katana synth: bad --seed '%s'\n", v);
        return 2;
      }
      o.seed = (uint64_t)s;
    } else if (strcmp(a, "--count") == 0 || strcmp(a, "--frames") == 0) {
      if (kat_cli_parse_long(v, 1, 100000, &n, NULL, 0) != 0) {
        fprintf(stderr, "katana synth: bad %s '%s' (1..100000)\n", a, v);
        return 2;
      }
      if (a[2] == 'c')
        o.count = (int)n;
      else
        o.frames = (int)n;
    } else if (strcmp(a, "--size") == 0) {
      char why[160];
      if (kat_cli_parse_size(v, 32, 4096, &o.width, &o.height, why, sizeof why) != 0) {
        fprintf(stderr, "katana synth: --size must be WxH with 32..4096, not '%s': %s\n", v, why);
        return 2;
      }
    } else {
      fprintf(stderr, "katana synth: unknown option '%s'\n\n", a);
      synth_usage(stderr);
      return 2;
    }
  }
  if (!o.out_dir) {
    fprintf(stderr, "katana synth: --out DIR is required\n\n");
    synth_usage(stderr);
    return 2;
  }
  char err[1024];
  int rc = kat__synth_write(&o, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "katana synth: %s (%s)\n", err, kat_strerror(rc));
    return 1;
  }
  printf("katana synth: wrote %d %s clip(s) of %d frames at %dx%d to %s\n", o.count,
         o.suite == KAT_SYNTH_EVAL ? "eval" : "train", o.frames, o.width, o.height, o.out_dir);
  return 0;
}
