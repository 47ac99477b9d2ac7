/*
 * Streaming: tracking as an iterator over a source (pull) or over frames the caller pushes
 * (camera SDKs), sequential or pipelined in three stages joined by bounded queues:
 * (1) decode + preprocess, (2) image encoder, (3) the tracker (memory attention, mask decoder,
 * selection, memory encoder) on the thread that calls kat_stream_next. Results come strictly in
 * frame order and are bit-identical to the sequential mode (same functions, same order per
 * module).
 *
 * Threads. A stream has a producer side (kat_stream_push, kat_stream_try_push, kat_stream_end and
 * kat_stream_push_error, push mode only) and a consumer side (kat_stream_next,
 * kat_stream_next_timeout, kat_stream_frame, kat_stream_last_error, kat_stream_get_stats). Each
 * side is used by one thread at a time; the two sides may be one thread or two.
 * kat_stream_cancel may be called from any thread at any moment. kat_stream_close is called once,
 * when no consumer-side call is running; a producer-side call running at that moment (blocked in
 * kat_stream_push, say) is woken, returns KAT_ECANCELED, and close waits for it to return before
 * freeing anything. Any call that starts after close has returned uses a freed handle.
 *
 * Waiting, per mode (push mode; pull mode never waits for the caller):
 *   sequential (pipeline = 0): nothing waits for another thread. kat_stream_push queues the frame
 *     (KAT_EAGAIN when queue_capacity frames wait; with drop_oldest it drops the oldest waiting
 *     frame instead, never the conditioning one); kat_stream_next runs stages 2-3 on the oldest.
 *   pipelined: kat_stream_push waits while the pipeline is full (backpressure) unless
 *     drop_oldest, and returns KAT_EAGAIN instead of waiting when called on the thread that last
 *     called kat_stream_next (it would wait for itself). kat_stream_try_push never waits.
 *   both: kat_stream_next waits only for frames already pushed and still in the stages; when every
 *     pushed frame has been delivered (or dropped) it returns KAT_EAGAIN at once (push more or call
 *     kat_stream_end). A consumer thread that should wait for a producer thread's next push calls
 *     kat_stream_next_timeout.
 * One thread that both pushes and consumes alternates kat_stream_try_push (or kat_stream_push) and
 * kat_stream_next, calling next whenever a push returns KAT_EAGAIN; it never blocks forever.
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

/* The largest queue_capacity: each slot holds a preprocessed frame and its features (tens of MB
 * at S = 1024), and a stream allocates 2 * queue_capacity + 4 of them at open. */
#define KAT_STREAM_MAX_QUEUE_CAPACITY 64

typedef struct kat_stream_options {
  kat_tracker_options tracker; /* model options (kat_tracker_options_init defaults) */
  kat_source_options source;   /* pull mode: how to open the source */
  int pipeline;                /* 1: three stages on threads (default); 0: sequential */
  int queue_capacity;          /* slots per queue between stages (default 2; at most
                                  KAT_STREAM_MAX_QUEUE_CAPACITY, else kat_stream_open fails with
                                  KAT_ERANGE) */
  int drop_oldest;    /* live input: when the pipeline is full, drop the oldest waiting frame
                         instead of blocking the producer (default 0: backpressure) */
  int keep_frames;    /* 1: keep a copy of each frame's pixels for kat_stream_frame (default 0) */
  int64_t max_frames; /* stop after this many source frames (0: all) */
} kat_stream_options;

/* Fills `o` with the defaults above. */
KAT_API void kat_stream_options_init(kat_stream_options *o);

/*
 * Opens a stream that tracks the object in `box` (x, y, w, h in source pixels, on the first
 * frame; object id 0), or no object yet when `box` is NULL, with the bundle at `bundle_dir`. With
 * `source_uri` (a file, URL, device or folder, see kat_source_open) frames are pulled from it; with
 * NULL the caller pushes frames. On failure *out is NULL and the message is in `err`. `o` may be
 * NULL for the defaults.
 */
KAT_API int kat_stream_open(const char *bundle_dir, const char *source_uri, const double box[4],
                            const kat_stream_options *o, kat_stream **out, char *err,
                            size_t err_size);

/*
 * As kat_stream_open, on a model already open (kat_model_open): the stream's tracker holds its own
 * reference to `model` (borrowed for the call; the caller may release its reference at once), so
 * any number of streams, on any threads, share one loaded model and its sessions. The model's
 * options apply: o->tracker.verify_hashes and o->tracker.ep are unused. KAT_EINVAL when `model` or
 * `out` is NULL.
 */
KAT_API int kat_stream_open_on_model(kat_model *model, const char *source_uri, const double box[4],
                                     const kat_stream_options *o, kat_stream **out, char *err,
                                     size_t err_size);

/*
 * Push mode, producer side: hands the next frame (borrowed for the call: it is preprocessed
 * before return). How it waits is described at the top of this file. KAT_OK; KAT_EAGAIN when the
 * frame was not taken because the pipeline is full and waiting is not allowed (sequential mode,
 * or the consumer's own thread): call kat_stream_next, then push the frame again; KAT_ECANCELED
 * after kat_stream_cancel or once kat_stream_close has begun; KAT_ESTATE in pull mode or after
 * kat_stream_end; or the error that stopped a stage. The message is in kat_stream_push_error.
 */
KAT_API int kat_stream_push(kat_stream *s, const kat_frame *frame);
/* Like kat_stream_push, but never waits: KAT_EAGAIN when the pipeline is full. */
KAT_API int kat_stream_try_push(kat_stream *s, const kat_frame *frame);
/* The message of the last failed push, try_push or end (empty after a success); owned by the
 * stream, read on the producer's thread. */
KAT_API const char *kat_stream_push_error(const kat_stream *s);
/* Push mode, producer side: no more frames; kat_stream_next drains and then returns KAT_EOF.
 * KAT_ECANCELED once kat_stream_close has begun; KAT_ESTATE in pull mode. */
KAT_API int kat_stream_end(kat_stream *s);

/*
 * Consumer side: the next result in frame order. KAT_OK; KAT_EOF after the last frame;
 * KAT_EAGAIN (push mode) when no pushed frame is waiting for its result and the stream has not
 * ended (it does not wait for a push); KAT_ECANCELED after kat_stream_cancel; or the first error
 * of any stage (every stage stops). The message is in kat_stream_last_error. A result's mask is
 * valid until the next call. One record per frame: with several objects it is the first
 * object's (in the order the objects were added) and the others' records of that frame are not
 * returned (use kat_stream_next_objects). On a frame with no object (every object prompted for
 * a later frame, or removed) it returns KAT_OK with an empty record: obj_id -1, frame_index,
 * source_index and dropped_before set, box_valid 0, presence KAT_PRESENCE_LOST, the rest zero.
 */
KAT_API int kat_stream_next(kat_stream *s, kat_track_result *result);
/*
 * Like kat_stream_next, but in push mode, when no pushed frame is waiting, it waits up to
 * `timeout_ms` milliseconds (< 0: without limit) for a push from another thread, kat_stream_end,
 * an error or kat_stream_cancel; KAT_EAGAIN when the time runs out. Pull mode ignores the limit.
 */
KAT_API int kat_stream_next_timeout(kat_stream *s, kat_track_result *result, int timeout_ms);

/*
 * Consumer side, several objects: like kat_stream_next_timeout, with one record per object that
 * exists on the frame (katana/tracker.h kat_tracker_track) in results[0..capacity-1]; *count
 * gets the number of records (possibly 0, or more than capacity: the rest are not written).
 * kat_stream_next is this with capacity 1, except that on a frame without an object it returns
 * the empty record described there (obj_id -1).
 */
KAT_API int kat_stream_next_objects(kat_stream *s, kat_track_result *results, int capacity,
                                    int *count, int timeout_ms);

/*
 * Any thread, while the stream runs: queues prompt `p` (copied) for object `obj_id` on frame
 * `frame`, counted in frames that reach the tracker (the source index when no frame is dropped).
 * It applies when that frame reaches the tracker stage, in frame order, so pipelined and
 * sequential streams give the same results. Statuses as kat_tracker_add_prompt; a frame that
 * has already reached the tracker stage is KAT_ERANGE naming it and the next frame the stage
 * takes. Before the first frame of a push-mode stream the frame size is not known: the box is
 * clipped and points are checked when the prompt applies (a failure there stops the stream).
 * A box for an object already tracked before `frame` is a correction of that frame; this is how
 * a stream re-seeds a LOST object (kat_tracker_reseed's counterpart; format 2 bundles only).
 */
KAT_API int kat_stream_add_prompt(kat_stream *s, int obj_id, int64_t frame, const kat_prompt *p);
/* Any thread: removes object `obj_id` before frame `frame` reaches the tracker. KAT_ENOENT for an
 * unknown id, KAT_ERANGE for a frame already taken. */
KAT_API int kat_stream_remove_object(kat_stream *s, int obj_id, int64_t frame);
/* The message of the last failed kat_stream_add_prompt / kat_stream_remove_object (empty after a
 * success); owned by the stream, read on the thread that made the call when no other thread
 * makes one. */
KAT_API const char *kat_stream_prompt_error(const kat_stream *s);

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

/* Fills `st` (consumer side; allocates nothing: it may be called after every frame). */
KAT_API int kat_stream_get_stats(kat_stream *s, kat_stream_stats *st);

/* Cancels, waits for a producer-side call still running (see the top of this file), joins every
 * thread and frees everything; NULL is a no-op. */
KAT_API void kat_stream_close(kat_stream *s);

#ifdef __cplusplus
}
#endif
#endif /* KATANA_STREAM_H */
