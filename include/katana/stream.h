/*
 * Streaming: tracking as an iterator over a source (pull) or over frames the caller pushes
 * (camera SDKs), sequential or pipelined in three stages joined by bounded queues:
 * (1) decode + preprocess, (2) image encoder, (3) the tracker (memory attention, mask decoder,
 * selection, memory encoder) on the thread that calls kat_stream_next. Results come strictly in
 * frame order and are bit-identical to the sequential mode (same functions, same order per
 * module).
 *
 * Thread-safety: kat_stream_next is called from one thread at a time; kat_stream_push and
 * kat_stream_end from one thread at a time (may differ from next's); kat_stream_cancel from any
 * thread at any moment; kat_stream_close once, after no other call is running on the stream
 * except cancel.
 */
#ifndef KATANA_STREAM_H
#define KATANA_STREAM_H

#include "katana/common.h"
#include "katana/media.h"
#include "katana/tracker.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kat_stream kat_stream;

typedef struct kat_stream_options {
  kat_tracker_options tracker; /* model options (kat_tracker_options_init defaults) */
  kat_source_options source;   /* pull mode: how to open the source */
  int pipeline;                /* 1: three stages on threads (default); 0: sequential */
  int queue_capacity;          /* slots per queue between stages (default 2) */
  int drop_oldest;    /* live input: when the pipeline is full, drop the oldest waiting frame
                         instead of blocking the producer (default 0: backpressure) */
  int keep_frames;    /* 1: keep a copy of each frame's pixels for kat_stream_frame (default 0) */
  int64_t max_frames; /* stop after this many source frames (0: all) */
} kat_stream_options;

/* Fills `o` with the defaults above. */
KAT_API void kat_stream_options_init(kat_stream_options *o);

/*
 * Opens a stream that tracks the object in `box` (x, y, w, h in source pixels, on the first
 * frame) with the bundle at `bundle_dir`. With `source_uri` (a file, URL, device or folder, see
 * kat_source_open) frames are pulled from it; with NULL the caller pushes frames. On failure *out
 * is NULL and the message is in `err`. `o` may be NULL for the defaults.
 */
KAT_API int kat_stream_open(const char *bundle_dir, const char *source_uri, const double box[4],
                            const kat_stream_options *o, kat_stream **out, char *err,
                            size_t err_size);

/*
 * Push mode: hands the next frame (borrowed for the call: it is preprocessed before return).
 * Pipelined, it blocks while the pipeline is full, unless drop_oldest (the conditioning frame is
 * never dropped). Sequential, it never blocks: KAT_ESTATE when queue_capacity frames wait, so call
 * kat_stream_next between pushes. KAT_OK, KAT_ECANCELED, KAT_ESTATE
 * (pull mode, or after kat_stream_end), or a stage's error.
 */
KAT_API int kat_stream_push(kat_stream *s, const kat_frame *frame);
/* Push mode: no more frames; kat_stream_next drains and then returns KAT_EOF. */
KAT_API int kat_stream_end(kat_stream *s);

/*
 * The next result in frame order. KAT_OK; KAT_EOF after the last frame; KAT_ECANCELED after
 * kat_stream_cancel; or the first error of any stage (every stage stops), with the stage's
 * message in kat_stream_last_error. A result's mask is valid until the next call.
 */
KAT_API int kat_stream_next(kat_stream *s, kat_track_result *result);

/* With keep_frames: the pixels of the last result's frame (RGB24), valid until the next call. */
KAT_API const kat_frame *kat_stream_frame(const kat_stream *s);

/* Stops every stage as soon as possible; safe from any thread, any number of times. */
KAT_API void kat_stream_cancel(kat_stream *s);

/* The message of the error kat_stream_next returned (empty if none); owned by the stream. */
KAT_API const char *kat_stream_last_error(const kat_stream *s);

/* Source information (pull mode; zeros in push mode before the first frame). */
KAT_API void kat_stream_source_info(const kat_stream *s, kat_source_info *info);

/* Per-stage profile of the frames so far (the last 4096 frames for percentiles). */
typedef struct kat_stream_stats {
  int64_t frames;  /* results delivered */
  int64_t dropped; /* frames dropped (drop_oldest) */
  /* p50/p95 in ms: [0] decode, [1] preprocess, [2] image_encoder, [3] tracker (the rest),
   * [4] end-to-end latency (decode start to result; includes queue waits, so it grows with the
   * queues when a file source runs ahead), [5] frame interval (time between consecutive results:
   * 1000 / FPS, the figure a live consumer sees) */
  double p50_ms[6], p95_ms[6];
  /* Seconds each stage's thread spent waiting on a queue: [0] decode+preprocess,
   * [1] image encoder, [2] consumer (kat_stream_next's caller). */
  double idle_s[3];
  double wall_s; /* since open */
} kat_stream_stats;

/* Fills `st` (allocates temporarily; call it outside the frame loop). */
KAT_API int kat_stream_get_stats(kat_stream *s, kat_stream_stats *st);

/* Cancels, joins every thread and frees everything; NULL is a no-op. */
KAT_API void kat_stream_close(kat_stream *s);

#ifdef __cplusplus
}
#endif
#endif /* KATANA_STREAM_H */
