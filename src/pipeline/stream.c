/*
 * Streams: the tracker as an iterator, sequential or pipelined (katana/stream.h).
 *
 * DESIGN
 * A fixed pool of slots is allocated at open: each holds one frame's preprocessed image
 * ([1,3,S,S] f32), its image-encoder features, an optional copy of its pixels, and its timings.
 * Slots travel through three bounded queues: `free` (empty slots), `q12` (preprocessed, waiting
 * for the image encoder) and `q23` (encoded, waiting for the tracker). Stage 1 (a thread in pull
 * mode; the caller of kat_stream_push in push mode) takes a free slot, decodes and preprocesses
 * into it and queues it; stage 2 (a thread) runs the image encoder into the slot's features;
 * stage 3 runs in kat_stream_next on the caller's thread and returns the slot to `free`. The
 * pool has enough slots for every queue to be full while each stage holds one, so a stage only
 * ever waits on its own queues. In sequential mode there are no threads: kat_stream_next runs
 * every stage itself (pull) or takes pushed slots from q12.
 *
 * The first error of any stage is recorded (status, stage and message, under `mu`) and every
 * queue is cancelled, so all stages stop at their next queue operation; kat_stream_next returns
 * that error. End of input closes q12; stage 2 closes q23 when q12 is drained; kat_stream_next
 * then returns KAT_EOF. Cancel is the same as an error with KAT_ECANCELED. With drop_oldest, a
 * producer facing a full q12 evicts the oldest waiting slot (its frame is dropped and counted on
 * the next queued frame) instead of blocking; while the conditioning frame still waits it is
 * kept and the next oldest goes.
 *
 * Waiting rules (stream.h): in push mode the consumer never waits for a frame that was not
 * pushed: `produced - dropped - delivered` (under `mu`) counts the frames queued and not yet
 * delivered, and kat_stream_next returns KAT_EAGAIN when it is 0 (next_timeout waits on `cv`,
 * which every queued push, end, error and cancel broadcasts). A producer never waits where
 * nothing else can make room: sequential push and try_push use the queues' non-blocking calls,
 * and a push from the thread that last called kat_stream_next does too. Close sets `closing`
 * (later producer calls return KAT_ECANCELED), cancels the queues so a blocked producer wakes,
 * waits on `cv` until `producer_calls` is 0, and only then joins and frees.
 *
 * Results are bit-identical to the sequential mode: every module sees the same inputs in the
 * same order, and the stages are the tracker's own functions (track/tracker_internal.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "core/stats.h"
#include "core/validate.h"
#include "katana/stream.h"
#include "media/decode.h"
#include "pipeline/queue.h"
#include "pipeline/stream_internal.h"
#include "track/tracker_internal.h"

#define STAT_WINDOW 4096
enum { ST_DECODE, ST_PRE, ST_ENC, ST_TRACK, ST_E2E, ST_INTERVAL, ST_COUNT };

typedef struct slot {
  float *image;         /* [1,3,S,S] f32 */
  kat__features f;      /* features; buffers owned by the slot */
  uint8_t *pixels;      /* keep_frames: [h, w*3] u8 RGB24 copy, else NULL */
  int64_t source_index; /* frame number in the source */
  int64_t seq;          /* 0, 1, 2, ...: order in which frames entered the stream */
  double t_start;       /* kat__now_ms() when decoding started */
  double decode_ms, pre_ms, enc_ms;
} slot;

struct kat_stream {
  kat_stream_options opt;
  kat_tracker *t;   /* owned */
  kat__source *src; /* owned; NULL in push mode */
  int push_mode;
  int w, h;      /* frame size (0 until the first pushed frame) */
  double box[4]; /* object 0's box on frame 0, when has_box */
  int has_box;
  slot *slots; /* [n_slots] */
  int n_slots;
  kat__queue free_q, q12, q23;
  int queues_ready;
  pthread_t th_pre, th_enc;
  int th_pre_started, th_enc_started;
  pthread_mutex_t mu; /* guards the fields below */
  pthread_cond_t cv;  /* broadcast: a frame queued, end, error, cancel, a producer call left */
  int error;          /* first error status, 0 if none */
  char error_msg[KAT_ERRBUF_SIZE];
  int64_t produced; /* frames queued from the source or pushed (the next frame's seq) */
  int64_t dropped;
  int ended;          /* push mode: kat_stream_end was called */
  int closing;        /* kat_stream_close has begun */
  int producer_calls; /* push/try_push/end calls running now */
  pthread_t consumer; /* the thread that last called kat_stream_next (has_consumer) */
  int has_consumer;
  int first_encoded; /* the conditioning frame reached the image encoder (never dropped) */
  /* consumer state */
  int64_t delivered;
  int64_t last_seq;      /* seq of the last delivered frame (-1 before the first) */
  double last_result_ms; /* when the previous result was delivered */
  int64_t last_source_index, last_dropped_before; /* of the last delivered frame */
  char prompt_error[KAT_ERRBUF_SIZE];             /* kat_stream_prompt_error (under mu) */
  slot *current; /* the slot whose result was returned last (keep_frames) */
  kat_frame cur_frame;
  char last_error[KAT_ERRBUF_SIZE];
  char push_error[KAT_ERRBUF_SIZE]; /* producer side: the last failed push/end */
  /* profile: ring buffers of the last STAT_WINDOW samples per stage */
  float *samples;  /* [ST_COUNT, STAT_WINDOW] ms */
  float *sorted;   /* [STAT_WINDOW] f32: kat_stream_get_stats' scratch (consumer side only) */
  int fault_stage; /* test hook: stage to fail, -1 for none */
  int64_t fault_frame;
  int fault_status;
  int64_t n_samples[ST_COUNT];
  double t_open;
};

void kat_stream_options_init(kat_stream_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  kat_tracker_options_init(&o->tracker);
  kat_source_options_init(&o->source);
  o->pipeline = 1;
  o->queue_capacity = 2;
}

/* Records the first error (status, stage, message). Returns 1 if it was the first. */
static int record_error(kat_stream *s, int status, const char *stage, const char *msg) {
  pthread_mutex_lock(&s->mu);
  int first = !s->error;
  if (first) {
    s->error = status;
    size_t n = stage ? strlen(stage) : 0;
    /* A message that already names the stage ("image_encoder: run failed: ...") keeps its own. */
    if (stage && msg && strncmp(msg, stage, n) == 0 && msg[n] == ':') stage = NULL;
    if (stage)
      snprintf(s->error_msg, sizeof s->error_msg, "%s: %.900s", stage, msg ? msg : "");
    else
      kat__strlcpy(s->error_msg, msg ? msg : "", sizeof s->error_msg);
  }
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return first;
}

/*
 * A producing stage failed: the stages upstream of it stop (their queues are cancelled) while the
 * frames already past it drain downstream (its output queue is closed), so kat_stream_next
 * delivers every frame completed before the failure and then returns the error.
 */
static void fail_stage(kat_stream *s, int status, const char *stage, const char *msg,
                       kat__queue *upstream, kat__queue *downstream) {
  record_error(s, status, stage, msg);
  kat__queue_cancel(&s->free_q);
  if (upstream) kat__queue_cancel(upstream);
  kat__queue_close(downstream);
}

/* Records the first error and stops every stage at once. Any thread. */
static void fail_all(kat_stream *s, int status, const char *stage, const char *msg) {
  record_error(s, status, stage, msg);
  if (s->queues_ready) {
    kat__queue_cancel(&s->free_q);
    kat__queue_cancel(&s->q12);
    kat__queue_cancel(&s->q23);
  }
}

void kat__stream_inject_fault(kat_stream *s, kat__stream_stage stage, int64_t frame, int status) {
  pthread_mutex_lock(&s->mu);
  s->fault_stage = (int)stage;
  s->fault_frame = frame;
  s->fault_status = status;
  pthread_mutex_unlock(&s->mu);
}

/* The test hook: the injected status when `stage` must fail on source frame `index`, else 0. */
static int faulty(kat_stream *s, kat__stream_stage stage, int64_t index) {
  pthread_mutex_lock(&s->mu);
  int rc = s->fault_stage == (int)stage && s->fault_frame == index ? s->fault_status : 0;
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static void record(kat_stream *s, int stage, double ms) {
  int64_t n = s->n_samples[stage]++;
  s->samples[(size_t)stage * STAT_WINDOW + (size_t)(n % STAT_WINDOW)] = (float)ms;
}

/*
 * Stage 1 on one frame: preprocess `frame` into a free slot and queue it. With `wait` 0 it never
 * blocks: KAT_EAGAIN when no slot is free or q12 is full (the frame is not taken). With
 * drop_oldest it never blocks either way.
 */
static int produce(kat_stream *s, const kat_frame *frame, double t_start, double decode_ms,
                   int wait) {
  void *item = NULL;
  int rc = wait ? kat__queue_pop(&s->free_q, &item) : kat__queue_try_pop(&s->free_q, &item);
  if (rc == KAT_ESTATE) return KAT_EAGAIN; /* no free slot: the pipeline is full */
  if (rc) return rc;
  slot *sl = item;
  double t0 = kat__now_ms();
  rc = kat__tracker_preprocess(s->t, frame, sl->image);
  if (rc) {
    kat__queue_push(&s->free_q, sl);
    fail_stage(s, rc, "preprocess", kat__tracker_preprocess_error(s->t), NULL, &s->q12);
    return rc;
  }
  sl->pre_ms = kat__now_ms() - t0;
  sl->decode_ms = decode_ms;
  sl->t_start = t_start;
  sl->source_index = frame->index;
  if (sl->pixels)
    for (int y = 0; y < frame->height; y++)
      memcpy(sl->pixels + (size_t)y * (size_t)frame->width * 3,
             frame->data[0] + (size_t)y * frame->stride[0], (size_t)frame->width * 3);
  pthread_mutex_lock(&s->mu);
  sl->seq = s->produced; /* one producer at a time: counted once queued */
  const int keep_first = !s->first_encoded;
  pthread_mutex_unlock(&s->mu);
  void *evicted = NULL;
  if (s->opt.drop_oldest) {
    rc = kat__queue_push_drop(&s->q12, sl, keep_first, &evicted);
  } else if (wait) {
    rc = kat__queue_push(&s->q12, sl);
  } else {
    rc = kat__queue_try_push(&s->q12, sl);
    if (rc == KAT_ESTATE) rc = KAT_EAGAIN; /* full (closed only after an error, reported first) */
  }
  if (rc) {
    kat__queue_push(&s->free_q, sl);
    return rc;
  }
  pthread_mutex_lock(&s->mu);
  s->produced++;
  if (evicted) s->dropped++;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  if (evicted) kat__queue_push(&s->free_q, evicted);
  return KAT_OK;
}

/* Pull mode, stage 1: decodes the next frame (KAT_EOF at the end or after max_frames). */
static int pull_one(kat_stream *s) {
  if (s->opt.max_frames > 0 && s->produced >= s->opt.max_frames) return KAT_EOF;
  double t0 = kat__now_ms();
  kat_frame frame;
  int rc = kat__source_next(s->src, &frame);
  if (rc == KAT_EOF) return KAT_EOF;
  int fault = rc ? 0 : faulty(s, KAT__STAGE_DECODE, frame.index);
  if (fault) {
    fail_stage(s, fault, "decode", "injected fault", NULL, &s->q12);
    return fault;
  }
  if (rc) {
    fail_stage(s, rc, "decode", kat__source_last_error(s->src), NULL, &s->q12);
    return rc;
  }
  return produce(s, &frame, t0, kat__now_ms() - t0, 1);
}

static void *stage_pre_main(void *arg) {
  kat_stream *s = arg;
  int rc;
  while ((rc = pull_one(s)) == KAT_OK) {
  }
  if (rc == KAT_EOF) kat__queue_close(&s->q12);
  return NULL;
}

/* Stage 2 on one slot. */
static int encode_slot(kat_stream *s, slot *sl) {
  pthread_mutex_lock(&s->mu);
  s->first_encoded = 1;
  pthread_mutex_unlock(&s->mu);
  int fault = faulty(s, KAT__STAGE_ENCODE, sl->source_index);
  int rc = fault ? fault : kat__tracker_encode(s->t, sl->image, &sl->f, &sl->enc_ms);
  if (rc) {
    kat__queue_push(&s->free_q, sl);
    fail_stage(s, rc, "image_encoder", fault ? "injected fault" : kat__tracker_encode_error(s->t),
               &s->q12, &s->q23);
  }
  return rc;
}

static void *stage_enc_main(void *arg) {
  kat_stream *s = arg;
  void *item;
  int rc;
  while ((rc = kat__queue_pop(&s->q12, &item)) == KAT_OK) {
    if (encode_slot(s, item)) return NULL;
    if (kat__queue_push(&s->q23, item)) return NULL;
  }
  if (rc == KAT_EOF) kat__queue_close(&s->q23);
  return NULL;
}

static int alloc_slots(kat_stream *s, kat__errbuf *eb) {
  size_t img = kat__tracker_image_floats(s->t), nv, n0, n1, total = 0;
  kat__tracker_feature_floats(s->t, &nv, &n0, &n1);
  /* Bytes of one slot and of the pool, checked for overflow before anything is allocated. */
  size_t per = 0;
  if (!kat__size_add(img, nv, &per) || !kat__size_add(per, n0, &per) ||
      !kat__size_add(per, n1, &per) || !kat__size_mul(per, sizeof(float), &per) ||
      !kat__size_mul(per, (size_t)s->n_slots, &total))
    return kat__fail(eb, KAT_ERANGE, "stream: %d slots of this model's size overflow size_t",
                     s->n_slots);
  s->slots = kat__calloc((size_t)s->n_slots, sizeof *s->slots);
  if (!s->slots) return kat__fail(eb, KAT_ENOMEM, "stream: out of memory");
  for (int i = 0; i < s->n_slots; i++) {
    slot *sl = &s->slots[i];
    sl->image = kat__malloc(img * sizeof(float));
    sl->f.vision = kat__malloc(nv * sizeof(float));
    sl->f.hr0 = n0 ? kat__malloc(n0 * sizeof(float)) : NULL;
    sl->f.hr1 = n1 ? kat__malloc(n1 * sizeof(float)) : NULL;
    if (!sl->image || !sl->f.vision || (n0 && !sl->f.hr0) || (n1 && !sl->f.hr1))
      return kat__fail(eb, KAT_ENOMEM, "stream: out of memory for %d slots", s->n_slots);
  }
  return KAT_OK;
}

/* Per-video setup once the frame size is known: resizer, pixel copies, free slots. */
static int begin_video(kat_stream *s, int w, int h, kat__errbuf *eb) {
  int rc = kat__tracker_begin_video(s->t, w, h);
  if (rc) return kat__fail(eb, rc, "%s", kat__tracker_preprocess_error(s->t));
  s->w = w;
  s->h = h;
  if (s->opt.keep_frames) {
    size_t n;
    if (!kat__size_mul((size_t)w * 3, (size_t)h, &n))
      return kat__fail(eb, KAT_ERANGE, "stream: frame too large");
    for (int i = 0; i < s->n_slots; i++)
      if (!(s->slots[i].pixels = kat__malloc(n)))
        return kat__fail(eb, KAT_ENOMEM, "stream: out of memory for frame copies");
  }
  return KAT_OK;
}

/* Opens a stream on the bundle folder `bundle_dir` or, when it is NULL, on `model` (the tracker
 * then holds its own reference to the model). */
static int stream_open(const char *bundle_dir, kat_model *model, const char *source_uri,
                       const double box[4], const kat_stream_options *o, kat_stream **out,
                       char *err, size_t err_size) {
  kat__errbuf eb;
  kat__errbuf_clear(&eb);
  int rc;
  *out = NULL;
  kat_stream *s = kat__calloc(1, sizeof *s);
  if (!s) {
    if (err && err_size) kat__strlcpy(err, "out of memory", err_size);
    return KAT_ENOMEM;
  }
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &ca);
  pthread_condattr_destroy(&ca);
  s->t_open = kat__now_ms();
  s->fault_stage = -1;
  s->last_seq = -1;
  if (o)
    s->opt = *o;
  else
    kat_stream_options_init(&s->opt);
  if (s->opt.queue_capacity < 1) s->opt.queue_capacity = 2;
  s->has_box = box != NULL;
  if (box) memcpy(s->box, box, sizeof s->box);
  if (s->opt.queue_capacity > KAT_STREAM_MAX_QUEUE_CAPACITY) {
    rc = kat__fail(&eb, KAT_ERANGE,
                   "stream: queue_capacity %d is out of range (at most %d; each slot holds a "
                   "preprocessed frame and its features)",
                   s->opt.queue_capacity, KAT_STREAM_MAX_QUEUE_CAPACITY);
    goto fail;
  }
  s->push_mode = source_uri == NULL;
  /* The box's values now; against the frame size once it is known (below, or at the first
   * frame in push mode, where the tracker clips it). The tracker options at create. */
  if (box && (rc = kat__validate_box(box, 0, 0, "kat_stream_open", NULL, NULL, &eb))) goto fail;
  /* Slots: both queues full, one slot in each of the three stages, one spare. */
  s->n_slots = 2 * s->opt.queue_capacity + 4;
  s->samples = kat__calloc((size_t)ST_COUNT * STAT_WINDOW, sizeof *s->samples);
  s->sorted = kat__calloc(STAT_WINDOW, sizeof *s->sorted);
  if (!s->samples || !s->sorted) {
    rc = kat__fail(&eb, KAT_ENOMEM, "stream: out of memory");
    goto fail;
  }
  kat__source_info si;
  memset(&si, 0, sizeof si);
  if (!s->push_mode) {
    kat__source_options so;
    kat__source_options_from(&so, &s->opt.source);
    if ((rc = kat__source_open(source_uri, &so, &s->src, &eb))) goto fail;
    kat__source_get_info(s->src, &si);
    /* The reference limits pointers of short videos by their length: tell the tracker. */
    if (s->opt.tracker.num_frames <= 0 && si.frame_count > 0)
      s->opt.tracker.num_frames = s->opt.max_frames > 0 && s->opt.max_frames < si.frame_count
                                      ? s->opt.max_frames
                                      : si.frame_count;
    if (box &&
        (rc = kat__validate_box(box, si.width, si.height, "kat_stream_open", NULL, NULL, &eb)))
      goto fail;
  }
  char terr[KAT_ERRBUF_SIZE];
  rc = bundle_dir ? kat_tracker_create(bundle_dir, &s->opt.tracker, &s->t, terr, sizeof terr)
                  : kat_tracker_create_on_model(model, &s->opt.tracker, &s->t, terr, sizeof terr);
  if (rc) {
    kat__fail(&eb, rc, "%s", terr);
    goto fail;
  }
  kat__tracker_open_video(s->t);
  if ((rc = alloc_slots(s, &eb))) goto fail;
  if ((rc = kat__queue_init(&s->free_q, s->n_slots)) ||
      (rc = kat__queue_init(&s->q12, s->opt.queue_capacity)) ||
      (rc = kat__queue_init(&s->q23, s->opt.queue_capacity))) {
    kat__fail(&eb, rc, "stream: cannot create the queues");
    goto fail;
  }
  s->queues_ready = 1; /* set once all three exist: fail_all cancels them from then on */
  for (int i = 0; i < s->n_slots; i++) kat__queue_push(&s->free_q, &s->slots[i]);
  if (!s->push_mode && (rc = begin_video(s, si.width, si.height, &eb))) goto fail;
  if (s->has_box) {
    /* Object 0 from frame 0 (push mode: the box is clipped to the first frame when it applies). */
    kat_prompt p;
    kat_prompt_init(&p);
    p.has_box = 1;
    memcpy(p.box, s->box, sizeof p.box);
    if ((rc = kat__tracker_add_prompt_at(s->t, 0, 0, &p))) {
      kat__fail(&eb, rc, "kat_stream_open: %s", kat_tracker_last_error(s->t));
      goto fail;
    }
  }
  if (!s->push_mode) {
    if (s->opt.pipeline) {
      if (pthread_create(&s->th_enc, NULL, stage_enc_main, s)) {
        rc = kat__fail(&eb, KAT_EINTERNAL, "stream: cannot start a thread");
        goto fail;
      }
      s->th_enc_started = 1;
      if (pthread_create(&s->th_pre, NULL, stage_pre_main, s)) {
        rc = kat__fail(&eb, KAT_EINTERNAL, "stream: cannot start a thread");
        goto fail;
      }
      s->th_pre_started = 1;
    }
  } else if (s->opt.pipeline) {
    if (pthread_create(&s->th_enc, NULL, stage_enc_main, s)) {
      rc = kat__fail(&eb, KAT_EINTERNAL, "stream: cannot start a thread");
      goto fail;
    }
    s->th_enc_started = 1;
  }
  *out = s;
  return KAT_OK;
fail:
  if (err && err_size) kat__strlcpy(err, eb.msg, err_size);
  kat_stream_close(s);
  return rc;
}

int kat_stream_open(const char *bundle_dir, const char *source_uri, const double box[4],
                    const kat_stream_options *o, kat_stream **out, char *err, size_t err_size) {
  if (out) *out = NULL;
  if (!out || !bundle_dir) {
    if (err && err_size) kat__strlcpy(err, "kat_stream_open: missing argument", err_size);
    return KAT_EINVAL;
  }
  return stream_open(bundle_dir, NULL, source_uri, box, o, out, err, err_size);
}

int kat_stream_open_on_model(kat_model *model, const char *source_uri, const double box[4],
                             const kat_stream_options *o, kat_stream **out, char *err,
                             size_t err_size) {
  if (out) *out = NULL;
  if (!out || !model) {
    if (err && err_size) kat__strlcpy(err, "kat_stream_open_on_model: missing argument", err_size);
    return KAT_EINVAL;
  }
  return stream_open(NULL, model, source_uri, box, o, out, err, err_size);
}

/*
 * Producer-side calls are counted so that kat_stream_close frees nothing while one runs; once
 * close has begun they return KAT_ECANCELED. Every enter is paired with a leave.
 */
static int producer_enter(kat_stream *s) {
  pthread_mutex_lock(&s->mu);
  s->producer_calls++;
  int closing = s->closing;
  pthread_mutex_unlock(&s->mu);
  return closing ? KAT_ECANCELED : KAT_OK;
}

static int producer_leave(kat_stream *s, int rc) {
  pthread_mutex_lock(&s->mu);
  s->producer_calls--;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

/* Writes the producer-side message; returns `status`. */
static int push_fail(kat_stream *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int push_fail(kat_stream *s, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->push_error, sizeof s->push_error, fmt, ap);
  va_end(ap);
  return status;
}

/* The status and message of a push that found the stream stopped (error, cancel or close). */
static int push_stopped(kat_stream *s, const char *fn) {
  pthread_mutex_lock(&s->mu);
  int rc;
  if (s->closing)
    rc = push_fail(s, KAT_ECANCELED, "%s: kat_stream_close has begun", fn);
  else
    rc = push_fail(s, s->error ? s->error : KAT_ECANCELED, "%s: the stream stopped: %.900s", fn,
                   s->error ? s->error_msg : "canceled");
  pthread_mutex_unlock(&s->mu);
  return rc;
}

/* kat_stream_push (may_wait) and kat_stream_try_push, inside producer_enter/leave. */
static int push_frame(kat_stream *s, const kat_frame *frame, int may_wait, const char *fn) {
  pthread_mutex_lock(&s->mu);
  const int ended = s->ended, err = s->error;
  const int own_consumer = s->has_consumer && pthread_equal(s->consumer, pthread_self());
  pthread_mutex_unlock(&s->mu);
  if (!s->push_mode)
    return push_fail(s, KAT_ESTATE, "%s: the stream pulls frames from its source", fn);
  if (ended) return push_fail(s, KAT_ESTATE, "%s: called after kat_stream_end", fn);
  if (err) return push_stopped(s, fn);
  if (!frame) return push_fail(s, KAT_EINVAL, "%s: no frame", fn);
  kat__errbuf eb;
  kat__errbuf_clear(&eb);
  /* A bad frame (format, size, plane, stride) fails the stream like any stage error. */
  int vrc = kat__validate_frame(frame, "kat_stream_push", &eb);
  if (vrc) {
    fail_all(s, vrc, "preprocess", eb.msg);
    return vrc;
  }
  if (s->w == 0) {
    int rc = begin_video(s, frame->width, frame->height, &eb);
    if (rc) {
      fail_all(s, rc, "preprocess", eb.msg);
      return push_fail(s, rc, "%s: preprocess: %.900s", fn, eb.msg);
    }
  } else if (frame->width != s->w || frame->height != s->h) {
    char msg[128];
    snprintf(msg, sizeof msg, "frame size changed mid-stream from %dx%d to %dx%d", s->w, s->h,
             frame->width, frame->height);
    fail_all(s, KAT_EINVAL, "preprocess", msg);
    return push_fail(s, KAT_EINVAL, "%s: %s", fn, msg);
  }
  /* Waiting is allowed only where another thread can make room (stream.h). */
  const int wait = s->opt.pipeline && may_wait && !own_consumer;
  int rc = produce(s, frame, kat__now_ms(), 0.0, wait);
  if (rc == KAT_EAGAIN) {
    pthread_mutex_lock(&s->mu);
    const int stopped_now = s->error != 0;
    pthread_mutex_unlock(&s->mu);
    if (stopped_now) return push_stopped(s, fn);
    if (!s->opt.pipeline)
      return push_fail(s, KAT_EAGAIN,
                       "%s: %d frames (queue_capacity) wait for kat_stream_next: call it, then "
                       "push this frame again",
                       fn, s->opt.queue_capacity);
    if (own_consumer && may_wait)
      return push_fail(s, KAT_EAGAIN,
                       "%s: the pipeline is full and this thread is the stream's consumer, so "
                       "waiting would never end: call kat_stream_next, then push this frame again",
                       fn);
    return push_fail(s, KAT_EAGAIN,
                     "%s: the pipeline is full: call kat_stream_next (or wait for the consumer), "
                     "then push this frame again",
                     fn);
  }
  return rc ? push_stopped(s, fn) : KAT_OK;
}

int kat_stream_push(kat_stream *s, const kat_frame *frame) {
  if (!s) return KAT_EINVAL;
  if (producer_enter(s)) return producer_leave(s, push_stopped(s, "kat_stream_push"));
  s->push_error[0] = '\0';
  return producer_leave(s, push_frame(s, frame, 1, "kat_stream_push"));
}

int kat_stream_try_push(kat_stream *s, const kat_frame *frame) {
  if (!s) return KAT_EINVAL;
  if (producer_enter(s)) return producer_leave(s, push_stopped(s, "kat_stream_try_push"));
  s->push_error[0] = '\0';
  return producer_leave(s, push_frame(s, frame, 0, "kat_stream_try_push"));
}

const char *kat_stream_push_error(const kat_stream *s) {
  return s ? s->push_error : "";
}

int kat_stream_end(kat_stream *s) {
  if (!s) return KAT_EINVAL;
  if (producer_enter(s)) return producer_leave(s, push_stopped(s, "kat_stream_end"));
  s->push_error[0] = '\0';
  if (!s->push_mode)
    return producer_leave(
        s, push_fail(s, KAT_ESTATE, "kat_stream_end: the stream pulls frames from its source"));
  pthread_mutex_lock(&s->mu);
  s->ended = 1;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  kat__queue_close(&s->q12);
  return producer_leave(s, KAT_OK);
}

/* The error to report after a stage stopped (cancel or failure). */
static int stopped(kat_stream *s) {
  pthread_mutex_lock(&s->mu);
  int rc = s->error ? s->error : KAT_ECANCELED;
  kat__strlcpy(s->last_error, s->error ? s->error_msg : "canceled", sizeof s->last_error);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

/* Takes the next encoded slot: from q23 (pipelined) or by running stages 1-2 here. */
static int next_encoded(kat_stream *s, slot **out) {
  void *item = NULL;
  int rc;
  if (s->opt.pipeline) {
    rc = kat__queue_pop(&s->q23, &item);
  } else {
    if (!s->push_mode) {
      rc = pull_one(s);
      if (rc == KAT_EOF) kat__queue_close(&s->q12);
      if (rc && rc != KAT_EOF) return stopped(s);
    }
    rc = kat__queue_pop(&s->q12, &item);
    if (rc == KAT_OK && encode_slot(s, item)) return stopped(s);
    if (rc == KAT_ECANCELED) return stopped(s);
  }
  if (rc == KAT_EOF) {
    pthread_mutex_lock(&s->mu);
    int err = s->error;
    pthread_mutex_unlock(&s->mu);
    return err ? stopped(s) : KAT_EOF;
  }
  if (rc) return stopped(s);
  *out = item;
  return KAT_OK;
}

/*
 * Push mode, under `mu`: waits up to `timeout_ms` (< 0: no limit, 0: not at all) until a queued
 * frame awaits its result, the input ended or the stream stopped. KAT_OK or KAT_EAGAIN.
 */
static int wait_pushed_locked(kat_stream *s, int timeout_ms) {
  struct timespec deadline = {0, 0};
  if (timeout_ms > 0) {
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
  }
  while (!s->error && !s->ended && !s->closing && s->produced - s->dropped - s->delivered <= 0) {
    if (timeout_ms == 0) return KAT_EAGAIN;
    if (timeout_ms < 0)
      pthread_cond_wait(&s->cv, &s->mu);
    else if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT)
      timeout_ms = 0; /* one last check of the condition */
  }
  return KAT_OK;
}

int kat_stream_next(kat_stream *s, kat_track_result *result) {
  return kat_stream_next_timeout(s, result, 0);
}

int kat_stream_next_timeout(kat_stream *s, kat_track_result *result, int timeout_ms) {
  if (!s || !result) return KAT_EINVAL;
  int count = 0;
  int rc = kat_stream_next_objects(s, result, 1, &count, timeout_ms);
  if (rc == KAT_OK && count == 0) {
    /* A frame without an object: an empty record (obj_id -1) in frame order. */
    const int64_t fi = s->delivered - 1;
    memset(result, 0, sizeof *result);
    result->obj_id = -1;
    result->presence = KAT_PRESENCE_LOST; /* no object: never read as TRACKED */
    result->frame_index = fi;
    result->source_index = s->last_source_index;
    result->dropped_before = s->last_dropped_before;
  }
  return rc;
}

int kat_stream_add_prompt(kat_stream *s, int obj_id, int64_t frame, const kat_prompt *p) {
  if (!s) return KAT_EINVAL;
  int rc = kat__tracker_add_prompt_at(s->t, obj_id, frame, p);
  pthread_mutex_lock(&s->mu);
  kat__strlcpy(s->prompt_error, rc ? kat_tracker_last_error(s->t) : "", sizeof s->prompt_error);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

int kat_stream_remove_object(kat_stream *s, int obj_id, int64_t frame) {
  if (!s) return KAT_EINVAL;
  int rc = kat__tracker_remove_at(s->t, obj_id, frame, 0);
  pthread_mutex_lock(&s->mu);
  kat__strlcpy(s->prompt_error, rc ? kat_tracker_last_error(s->t) : "", sizeof s->prompt_error);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

const char *kat_stream_prompt_error(const kat_stream *s) {
  return s ? s->prompt_error : "";
}

int kat_stream_next_objects(kat_stream *s, kat_track_result *results, int capacity, int *count,
                            int timeout_ms) {
  if (!s || !count || capacity < 0 || (capacity > 0 && !results)) return KAT_EINVAL;
  *count = 0;
  s->last_error[0] = '\0';
  if (s->current) {
    kat__queue_push(&s->free_q, s->current);
    s->current = NULL;
  }
  int rc = KAT_OK;
  pthread_mutex_lock(&s->mu);
  s->consumer = pthread_self();
  s->has_consumer = 1;
  if (s->push_mode) rc = wait_pushed_locked(s, timeout_ms);
  pthread_mutex_unlock(&s->mu);
  if (rc == KAT_EAGAIN) {
    snprintf(s->last_error, sizeof s->last_error,
             "kat_stream_next: every pushed frame (%lld) has been delivered or dropped: push "
             "another frame or call kat_stream_end%s",
             (long long)s->delivered,
             timeout_ms == 0 ? " (kat_stream_next_timeout waits for a push from another thread)"
                             : "; none came within the timeout");
    return KAT_EAGAIN;
  }
  slot *sl = NULL;
  rc = next_encoded(s, &sl);
  if (rc) return rc;
  const double t0 = kat__now_ms();
  rc = kat__tracker_consume(s->t, &sl->f, results, capacity, count);
  int fault = rc ? 0 : faulty(s, KAT__STAGE_TRACK, sl->source_index);
  if (fault) rc = fault;
  if (rc) {
    fail_all(s, rc, "tracker", fault ? "injected fault" : kat_tracker_last_error(s->t));
    kat__queue_push(&s->free_q, sl);
    return stopped(s);
  }
  const double now = kat__now_ms();
  const int64_t dropped_before = sl->seq - s->last_seq - 1;
  for (int i = 0; i < *count && i < capacity; i++) {
    kat_track_result *result = &results[i];
    result->timings.preprocess_ms = sl->pre_ms;
    result->timings.module_ms[KAT_MODULE_IMAGE_ENCODER] = sl->enc_ms;
    /* Compute time of this frame across the stages (queue waits excluded). */
    result->timings.total_ms += sl->pre_ms + sl->enc_ms;
    result->source_index = sl->source_index;
    result->dropped_before = dropped_before;
  }
  s->last_source_index = sl->source_index;
  s->last_dropped_before = dropped_before;
  s->last_seq = sl->seq;
  record(s, ST_DECODE, sl->decode_ms);
  record(s, ST_PRE, sl->pre_ms);
  record(s, ST_ENC, sl->enc_ms);
  record(s, ST_TRACK, now - t0);
  record(s, ST_E2E, now - sl->t_start);
  if (s->delivered > 0) record(s, ST_INTERVAL, now - s->last_result_ms);
  s->last_result_ms = now;
  s->delivered++;
  if (s->opt.keep_frames) {
    s->current = sl;
    memset(&s->cur_frame, 0, sizeof s->cur_frame);
    s->cur_frame.format = KAT_PIXEL_RGB24;
    s->cur_frame.width = s->w;
    s->cur_frame.height = s->h;
    s->cur_frame.data[0] = sl->pixels;
    s->cur_frame.stride[0] = (size_t)s->w * 3;
    s->cur_frame.index = sl->source_index;
  } else {
    kat__queue_push(&s->free_q, sl);
  }
  return KAT_OK;
}

const kat_frame *kat_stream_frame(const kat_stream *s) {
  return s && s->current ? &s->cur_frame : NULL;
}

void kat_stream_cancel(kat_stream *s) {
  if (s) fail_all(s, KAT_ECANCELED, NULL, "canceled");
}

const char *kat_stream_last_error(const kat_stream *s) {
  return s ? s->last_error : "";
}

void kat_stream_source_info(const kat_stream *s, kat_source_info *info) {
  if (!info) return;
  memset(info, 0, sizeof *info);
  if (!s) return;
  if (s->src) {
    kat__source_info_to_public(s->src, info);
  } else {
    info->width = s->w;
    info->height = s->h;
    info->frame_count = -1;
  }
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

int kat_stream_get_stats(kat_stream *s, kat_stream_stats *st) {
  if (!s || !st) return KAT_EINVAL;
  memset(st, 0, sizeof *st);
  st->frames = s->delivered;
  pthread_mutex_lock(&s->mu);
  st->dropped = s->dropped;
  pthread_mutex_unlock(&s->mu);
  float *tmp = s->sorted; /* allocated at open: no allocation per call */
  for (int k = 0; k < ST_COUNT; k++) {
    int n = (int)(s->n_samples[k] < STAT_WINDOW ? s->n_samples[k] : STAT_WINDOW);
    if (n == 0) continue;
    memcpy(tmp, s->samples + (size_t)k * STAT_WINDOW, (size_t)n * sizeof(float));
    qsort(tmp, (size_t)n, sizeof(float), cmp_float);
    st->p50_ms[k] = kat__percentile_sorted_f(tmp, (size_t)n, 50.0);
    st->p95_ms[k] = kat__percentile_sorted_f(tmp, (size_t)n, 95.0);
  }
  kat__queue_counters fq, a, b;
  kat__queue_stats(&s->free_q, &fq);
  kat__queue_stats(&s->q12, &a);
  kat__queue_stats(&s->q23, &b);
  st->idle_s[0] = (double)(fq.pop_wait_ns + a.push_wait_ns) / 1e9;
  st->idle_s[1] = (double)(a.pop_wait_ns + b.push_wait_ns) / 1e9;
  st->idle_s[2] = (double)b.pop_wait_ns / 1e9;
  if (!s->opt.pipeline) st->idle_s[2] = (double)a.pop_wait_ns / 1e9;
  st->wall_s = (kat__now_ms() - s->t_open) / 1e3;
  return KAT_OK;
}

void kat_stream_close(kat_stream *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->closing = 1;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  kat__queue *qs[3] = {&s->free_q, &s->q12, &s->q23};
  for (int i = 0; i < 3; i++)
    if (qs[i]->slots) kat__queue_cancel(qs[i]);
  /* A producer call woken by the cancel (or still preprocessing) leaves before anything goes. */
  pthread_mutex_lock(&s->mu);
  while (s->producer_calls > 0) pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
  if (s->th_pre_started) pthread_join(s->th_pre, NULL);
  if (s->th_enc_started) pthread_join(s->th_enc, NULL);
  for (int i = 0; i < 3; i++) kat__queue_cleanup(qs[i]); /* no-op on an uninitialised queue */
  if (s->slots) {
    for (int i = 0; i < s->n_slots; i++) {
      kat__free(s->slots[i].image);
      kat__free(s->slots[i].f.vision);
      kat__free(s->slots[i].f.hr0);
      kat__free(s->slots[i].f.hr1);
      kat__free(s->slots[i].pixels);
    }
    kat__free(s->slots);
  }
  kat__source_close(s->src);
  kat_tracker_destroy(s->t);
  kat__free(s->samples);
  kat__free(s->sorted);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  kat__free(s);
}
