/*
 * Synthetic tracking clips with ground truth, for tests, demos and quick evaluations.
 *
 * Each clip is a textured background (slowly panning) with one textured target that moves
 * smoothly with occasional abrupt jumps, scales and rotates, is fully hidden for stretches by an
 * occluder, leaves and re-enters the frame, and is crossed by look-alike distractors (same
 * texture family, different instances). Output is a pure function of (suite, seed, sizes): the
 * generator uses its own PRNG (splitmix64) and its own sine, so files are byte-identical across
 * machines.
 *
 * Layout written by kat__synth_write, one folder per clip, `<out>/<suite>-<NNN>/`:
 *   img/00000.png ...        RGB frames (0-based, 5 digits)
 *   masks/00000.png ...      8-bit gray, 255 where the target is visible
 *   groundtruth.txt          LaSOT style: "x,y,w,h" per frame (the visible part's bounding box,
 *                            pixels, x/y of the top-left corner); "0,0,0,0" when not visible
 *   full_occlusion.txt       LaSOT style: one line of comma-separated 0/1, 1 = in view but hidden
 *   out_of_view.txt          LaSOT style: 1 = the target lies entirely outside the frame
 *   video.mp4                the frames as H.264 (or MPEG-4 part 2), only with write_mp4
 *
 * Thread-safety: kat__synth_write is reentrant (no global state).
 *
 * UNSTABLE: an internal header of katana_tools (the CLI and the tests), not installed and not part
 * of libkatana's API; it changes without notice.
 */
#ifndef KAT_TOOLS_SYNTH_SYNTH_H
#define KAT_TOOLS_SYNTH_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "katana/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Two suites with different seeds and settings: eval has longer and more frequent occlusions,
 * 2-3 distractors (some passing in front of the target) instead of 1, more abrupt jumps and
 * shorter keyframe intervals (livelier motion) than train. */
typedef enum kat__synth_suite { KAT_SYNTH_TRAIN = 0, KAT_SYNTH_EVAL = 1 } kat__synth_suite;

typedef struct kat__synth_options {
  kat__synth_suite suite;
  uint64_t seed;       /* base seed; clip i uses a seed derived from (suite, seed, i) */
  int count;           /* clips to write, >= 1 */
  int frames;          /* frames per clip, >= 1 */
  int width, height;   /* frame size, 32..4096 */
  int write_mp4;       /* nonzero: also write video.mp4 */
  const char *out_dir; /* created if missing; borrowed for the call */
} kat__synth_options;

/* Fills defaults: train, seed 1, 1 clip of 60 frames at 640x360, no mp4, out_dir NULL. */
void kat__synth_options_init(kat__synth_options *opts);

/* Returns the suite named "train" or "eval", or -1. */
int kat__synth_suite_parse(const char *name);

/*
 * Writes opts->count clips under opts->out_dir. Returns KAT_OK, KAT_EINVAL (bad options),
 * KAT_EIO (cannot create or write files) or KAT_EMEDIA (video encoder); on failure a message
 * goes to `err` (may be NULL, err_size bytes, always NUL-terminated) and clips written so far stay.
 */
int kat__synth_write(const kat__synth_options *opts, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif /* KAT_TOOLS_SYNTH_SYNTH_H */
