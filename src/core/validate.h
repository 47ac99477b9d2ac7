/*
 * Input validation: one function per kind of input the library takes from a caller or a file,
 * used by every entry point that takes it (kat_tracker_create/start/step, kat_stream_open/push,
 * the manifest loader, the bundle's file opening and constants). Each returns KAT_OK or a
 * negative status with a message in `eb` that names the problem and the offending value, e.g.
 * "frame RGB24 320x240: stride 100 < width*3 = 960" or "kf_score_weight 1e+308 out of range
 * [0,1]". Nothing here allocates.
 *
 * Thread-safety: every function is reentrant; `eb` belongs to the caller.
 */
#ifndef KAT_CORE_VALIDATE_H
#define KAT_CORE_VALIDATE_H

#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "katana/media.h"
#include "katana/tracker.h"
#include "model/manifest.h"

/* The largest bundle file (module or constants.bin) katana opens: 4 GiB. */
#define KAT__BUNDLE_FILE_MAX ((uint64_t)4 << 30)

/* Ranges of the SAMURAI parameters (docs/errors.md, ALGORITHM.md): IoU-like values and the
 * motion weight in [0,1], logit thresholds in [-100,100], frame counts in [0,1e6]. */
#define KAT__LOGIT_MAX 100.0
#define KAT__STABLE_FRAMES_MAX 1000000

/*
 * A frame (borrowed for the call): a known pixel format, width and height > 0 (even for NV12),
 * data[0] (and data[1] for NV12) not NULL, stride[0] >= width * bytes per pixel (stride[1] >=
 * width for NV12's interleaved U,V plane), and stride * height representable in size_t.
 * `what` names the caller in the message (e.g. "kat_tracker_start"). KAT_EINVAL otherwise.
 */
int kat__validate_frame(const kat_frame *f, const char *what, kat__errbuf *eb);

/*
 * A box x, y, w, h (borrowed). Every value must be finite and w, h > 0. With a frame size
 * (width, height > 0) the box is clipped to [0,width] x [0,height]: a box with no area inside the
 * frame is KAT_EINVAL; a box partly outside is clipped and, when `clipped` is not NULL, logged
 * at KAT_LOG_WARN with *clipped set to 1 (a caller that only checks passes NULL: no log). With
 * width or height <= 0 (size not known yet) only the values are checked. `out` (may equal `box`,
 * may be NULL) receives the box to use; *clipped (may be NULL) 0 or 1.
 */
int kat__validate_box(const double box[4], int width, int height, const char *what, double out[4],
                      int *clipped, kat__errbuf *eb);

/*
 * Tracker options (borrowed): selection and box_mode are known enum values;
 * stable_frames_threshold is -1 (bundle) or in [0, KAT__STABLE_FRAMES_MAX]; each double is NAN
 * (bundle) or finite in its range (see kat__validate_samurai_defaults); lost_after_frames >= 1;
 * num_frames >= 0. KAT_EINVAL naming the field and value otherwise.
 */
int kat__validate_tracker_options(const kat_tracker_options *o, kat__errbuf *eb);

/*
 * SAMURAI parameters from a manifest (borrowed): stable_frames_threshold in
 * [0, KAT__STABLE_FRAMES_MAX]; stable_ious_threshold, kf_score_weight, memory_bank_iou_threshold
 * and memory_bank_kf_score_threshold in [0,1]; min_obj_score_logits and
 * memory_bank_obj_score_threshold in [-KAT__LOGIT_MAX, KAT__LOGIT_MAX]; all finite.
 * KAT_EMODEL naming the field and value ("samurai.kf_score_weight 1e+308 out of range [0,1]").
 */
int kat__validate_samurai_defaults(const kat__samurai_defaults *p, kat__errbuf *eb);

/*
 * The `n` floats of the constant `name` (borrowed): every value finite. KAT_EMODEL naming the
 * constant, the first bad index and its value otherwise.
 */
int kat__validate_constant(const char *name, const float *values, size_t n, kat__errbuf *eb);

/*
 * Opens `path` for reading as a regular file of at most `max_bytes` bytes, without blocking: a
 * FIFO, a device (a symlink to /dev/zero), a socket or a folder is KAT_EFORMAT, a larger file is
 * KAT_ERANGE, a missing one KAT_ENOENT, another open error KAT_EIO; `what` names the file's role
 * ("katana.json", "image_encoder file"). Symlinks to regular files are followed. On success *out
 * owns the stream (the caller fcloses it) and *size (may be NULL) holds the file's size.
 */
int kat__open_regular_file(const char *path, const char *what, uint64_t max_bytes, FILE **out,
                           uint64_t *size, kat__errbuf *eb);

#endif /* KAT_CORE_VALIDATE_H */
