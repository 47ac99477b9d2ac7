/*
 * katanatrack: a GStreamer video filter that tracks any number of objects (up to max-objects)
 * on one libkatana push-mode stream (include/katana/stream.h) and attaches the results to every
 * buffer.
 *
 * Input: RGB, RGBx, BGRx, NV12 or I420 system-memory frames, tracked in place (the buffer
 * passes through unchanged unless draw=true). RGB and NV12 go to the tracker as they are; RGBx
 * and BGRx are repacked to RGB24, I420's chroma is interleaved to NV12's, into one buffer
 * allocated when the caps are set (no videoconvert needed, nothing allocated per frame).
 *
 * Output per frame and object: a GstVideoRegionOfInterestMeta (roi_type "katana", id = object
 * id, the box in pixels) with a "katana/track" param structure (frame, presence, object-score,
 * iou, candidate, box-valid), and with masks=true a "katana/mask" param (width, height, a
 * GstBuffer of width x height u8, 255 = object, from a pool allocated when tracking starts; a
 * mask is left out, and counted in masks-skipped, while downstream holds every pool buffer).
 * Per frame with a result, an element message "katana-track": frame, track-frame, count,
 * dropped, prompts-dropped, masks-skipped and "objects", an array of "katana-object" structures
 * (id, x, y, w, h, box-valid, presence, object-score, iou, candidate, dropped-before).
 *
 * Prompts: `box` (object 0) and `boxes` ("id:x,y,w,h;id:x,y,w,h") start objects on the first
 * frame. At run time the action signals add-object / reseed-object (id, x, y, w, h) and
 * remove-object (id), or a custom event named "katana-prompt" (op = "add" | "reseed" |
 * "remove", id, x, y, w, h) sent upstream to the element or serialized downstream through it,
 * are queued (at most KT_PROMPT_QUEUE; a full queue refuses the prompt and counts it in
 * prompts-dropped) and applied, in order, to the next frame that reaches the tracker.
 * add-object with a new id starts an object (refused beyond max-objects); add-object or
 * reseed-object with a tracked id corrects that object on that frame (kat_stream_add_prompt's
 * re-seed; a format 2 bundle); reseed-object and remove-object of an id not added are refused.
 * A signal returns FALSE when it refuses; a prompt the stream refuses later is a warning.
 *
 * DESIGN (live sources). When the upstream latency query says the source is live (live=auto)
 * or live=on, the streaming thread never waits for the tracker, nor for the preprocessing: it
 * copies the frame (converted to RGB24 or NV12) into a three-slot mailbox, swaps an index
 * under mbox_lock and attaches the newest results available (results lag the video by the
 * tracker's latency; the meta's "frame" field names the source frame they belong to). A
 * producer thread takes the newest frame from the mailbox and kat_stream_try_push-es it into
 * a drop_oldest stream (the resize runs there); a worker thread opens the stream (session
 * creation never blocks upstream), owns its consumer side, applies the queued prompts between
 * kat_stream_next_objects calls (a prompt lands on the next frame the tracker takes, older
 * than the frame it came with by the frames already in the stream's queues), publishes the
 * newest results under res_lock and posts the messages (only for frames with at least one
 * object: an empty result names no frame). Frames not tracked are counted: overwritten in the
 * mailbox, dropped by the stream, refused by it (no free slot) or arriving while the stream
 * opens; the sum is in every message ("dropped") and in the read-only property "dropped". The
 * stream's drop count is read with kat_stream_get_stats once per result. Not live: every frame is
 * pushed and its own results taken before the buffer goes on, so results are in frame order and
 * equal `katana track`'s, and every frame gets a message (count 0 when no object exists on it).
 *
 * Thread-safety: properties and the prompt queue are guarded by the object lock. Live mode: the
 * stream by `lock` (producer and worker), the mailbox by mbox_lock, results and counters by
 * res_lock; the streaming thread takes only the last two, each for a few copies. Not live: the
 * stream is used by the streaming thread only.
 */
#define _GNU_SOURCE
#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>
#include <gst/video/video.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "katana/katana.h"

#define KT_FORMATS "{ RGB, RGBx, BGRx, NV12, I420 }"
/* Prompts waiting for the next frame, and entries of the boxes property. */
#define KT_PROMPT_QUEUE 64
/* The largest max-objects (kat_tracker_options.max_objects' limit). */
#define KT_MAX_OBJECTS 1024

typedef enum { LIVE_AUTO = 0, LIVE_ON = 1, LIVE_OFF = 2 } live_mode;
typedef enum { OP_NONE = 0, OP_ADD, OP_RESEED, OP_REMOVE } prompt_op;

typedef struct kt_prompt {
  prompt_op op;
  gint id;
  gdouble box[4];
} kt_prompt;

typedef struct _KatanaTrack {
  GstVideoFilter parent;
  /* Properties (object lock). */
  gchar *model; /* bundle folder; NULL: the default model */
  gchar *ep;
  gdouble box[4];
  gboolean has_box;
  kt_prompt boxes[KT_PROMPT_QUEUE]; /* the boxes property, op OP_ADD */
  gint n_boxes;
  gchar *selection;
  gboolean draw, masks, pipeline;
  gint threads, max_objects;
  live_mode live_prop;
  /* The prompt queue (object lock): a ring of pq_len prompts from pq_head, and the ids added
   * and not removed (what the queued prompts will leave tracked), to refuse at once. */
  kt_prompt pq[KT_PROMPT_QUEUE];
  gint pq_head, pq_len;
  gint ids[KT_MAX_OBJECTS];
  gint n_ids;
  guint64 prompts_dropped;
  /* Streaming state, sized at the first frame (max_objects records, masks). */
  gboolean live;         /* decided on the first frame */
  gboolean first_frame;  /* no frame seen since start */
  gint64 frame_no;       /* frames seen by the element since start */
  gint64 stream_base;    /* frame_no of the stream's first pushed frame (-1: none yet) */
  gint64 tracked;        /* frames the stream's tracker has taken (prompts name the next) */
  gint cap;              /* records per frame: max_objects when tracking started */
  kat_track_result *res; /* [cap] this frame's records (the consumer's) */
  kat_stream *stream;    /* guarded by lock in live mode */
  GstBufferPool *mpool;  /* masks=true: [h, w] u8 mask buffers */
  guint64 masks_skipped; /* masks left out: every pool buffer held downstream (res_lock) */
  gint info_w, info_h;   /* the negotiated size and format */
  GstVideoFormat info_fmt;
  uint8_t *conv; /* [h, w*3] u8 RGB24 (RGBx/BGRx) or [h/2, w] u8 UV (I420) */
  size_t conv_stride;
  /* Live mode: the worker and what it shares with the producer (lock, cond). */
  GThread *worker;
  GMutex lock;
  GCond cond;
  gboolean stop;
  gboolean opening; /* the worker is opening the stream: frames pushed meanwhile are refused */
  /* Live mode, the newest results, read by the streaming thread (res_lock). */
  GMutex res_lock;
  kat_track_result *latest; /* [cap] (mask pointers cleared) */
  gint n_latest;
  guint8 *latest_masks; /* [cap, h, w] u8 copies of the newest masks when masks=true */
  gint64 latest_frame;  /* element frame number of the newest results */
  guint64 dropped;      /* frames not tracked (stream drops + frames it could not take) */
  guint64 refused;      /* frames the stream could not take, or while it opens */
  /* Live mode, the mailbox between the streaming thread and the producer thread (mbox_lock,
   * mbox_cond): three frame slots, a triple buffer. The streaming thread fills slot `w` and
   * swaps it with `r` (an unread frame there is overwritten and counted in mbox_dropped); the
   * producer swaps `r` with its slot `b` and pushes that. Each slot is [h, w*3] u8 RGB24 or
   * an NV12 [h, w] Y plane followed by its [h/2, w] UV plane. */
  GThread *producer;
  GMutex mbox_lock;
  GCond mbox_cond;
  guint8 *slot[3];
  gint64 slot_frame[3];
  int w, r, b;
  gboolean has_ready, pstop;
  guint64 mbox_dropped;
} KatanaTrack;

typedef struct _KatanaTrackClass {
  GstVideoFilterClass parent_class;
} KatanaTrackClass;

GType katana_track_get_type(void);
#define KATANA_TYPE_TRACK (katana_track_get_type())
#define KATANA_TRACK(o) ((KatanaTrack *)(o))

G_DEFINE_TYPE(KatanaTrack, katana_track, GST_TYPE_VIDEO_FILTER)

GST_DEBUG_CATEGORY_STATIC(katana_track_debug);
#define GST_CAT_DEFAULT katana_track_debug

enum {
  PROP_0,
  PROP_MODEL,
  PROP_EP,
  PROP_BOX,
  PROP_BOXES,
  PROP_MAX_OBJECTS,
  PROP_SELECTION,
  PROP_DRAW,
  PROP_THREADS,
  PROP_PIPELINE,
  PROP_MASKS,
  PROP_LIVE,
  PROP_DROPPED,
  PROP_PROMPTS_DROPPED
};
enum { SIG_ADD, SIG_RESEED, SIG_REMOVE, SIG_COUNT };
static guint signals[SIG_COUNT];

static GType live_mode_get_type(void) {
  static GType t = 0;
  static const GEnumValue values[] = {
      {LIVE_AUTO, "Live when the upstream latency query says so", "auto"},
      {LIVE_ON, "Never wait for the tracker (drop frames)", "on"},
      {LIVE_OFF, "Track every frame before passing it on", "off"},
      {0, NULL, NULL}};
  if (!t) t = g_enum_register_static("KatanaTrackLive", values);
  return t;
}

/* Parses "x,y,w,h" into box; FALSE when it is not four finite numbers with w, h > 0. */
static gboolean parse_box(const gchar *s, gdouble box[4]) {
  if (!s) return FALSE;
  gchar **parts = g_strsplit(s, ",", -1);
  gboolean ok = g_strv_length(parts) == 4;
  for (int i = 0; ok && i < 4; i++) {
    gchar *end = NULL;
    box[i] = g_ascii_strtod(parts[i], &end);
    ok = end != parts[i] && *end == '\0' && isfinite(box[i]);
  }
  g_strfreev(parts);
  return ok && box[2] > 0 && box[3] > 0;
}

static gboolean box_ok(const gdouble b[4]) {
  for (int i = 0; i < 4; i++)
    if (!isfinite(b[i])) return FALSE;
  return b[2] > 0 && b[3] > 0;
}

/* Parses "id:x,y,w,h;id:x,y,w,h" (';' may end it) into out[0..*n-1] (op OP_ADD); FALSE when
 * an entry is malformed, an id is negative or repeated, or there are over KT_PROMPT_QUEUE. */
static gboolean parse_boxes(const gchar *s, kt_prompt out[KT_PROMPT_QUEUE], gint *n) {
  gchar **items = g_strsplit(s, ";", -1);
  gboolean ok = TRUE;
  *n = 0;
  for (gchar **it = items; ok && *it; it++) {
    gchar *item = g_strstrip(*it);
    if (!*item) continue;
    gchar *colon = strchr(item, ':'), *end = NULL;
    ok = colon && *n < KT_PROMPT_QUEUE;
    if (!ok) break;
    *colon = '\0';
    const gint64 id = g_ascii_strtoll(item, &end, 10);
    ok = end != item && *end == '\0' && id >= 0 && id <= G_MAXINT &&
         parse_box(colon + 1, out[*n].box);
    for (gint i = 0; ok && i < *n; i++) ok = out[i].id != (gint)id;
    if (ok) {
      out[*n].op = OP_ADD;
      out[(*n)++].id = (gint)id;
    }
  }
  g_strfreev(items);
  return ok;
}

/* ---- prompts ---- */

static gint id_index(const KatanaTrack *kt, gint id) {
  for (gint i = 0; i < kt->n_ids; i++)
    if (kt->ids[i] == id) return i;
  return -1;
}

static const char *op_name(prompt_op op) {
  return op == OP_ADD ? "add-object" : op == OP_RESEED ? "reseed-object" : "remove-object";
}

/* Queues a prompt for the next frame (object lock held); FALSE when it is refused. */
static gboolean queue_locked(KatanaTrack *kt, prompt_op op, gint id, const gdouble b[4]) {
  if (op != OP_REMOVE && (!b || !box_ok(b))) {
    GST_WARNING_OBJECT(kt, "refused %s %d: the box must be finite with w, h > 0", op_name(op), id);
    return FALSE;
  }
  const gint at = id_index(kt, id);
  if (id < 0 || (op != OP_ADD && at < 0)) {
    GST_WARNING_OBJECT(kt, "refused %s %d: no such object was added", op_name(op), id);
    return FALSE;
  }
  if (op == OP_ADD && at < 0 && kt->n_ids >= kt->max_objects) {
    GST_WARNING_OBJECT(kt, "refused add-object %d: max-objects (%d) objects are tracked", id,
                       kt->max_objects);
    return FALSE;
  }
  if (kt->pq_len == KT_PROMPT_QUEUE) {
    kt->prompts_dropped++;
    GST_WARNING_OBJECT(kt, "refused %s %d: %d prompts already wait for the next frame", op_name(op),
                       id, KT_PROMPT_QUEUE);
    return FALSE;
  }
  kt_prompt *p = &kt->pq[(kt->pq_head + kt->pq_len++) % KT_PROMPT_QUEUE];
  p->op = op;
  p->id = id;
  for (int i = 0; i < 4; i++) p->box[i] = b ? b[i] : 0;
  if (op == OP_ADD && at < 0) kt->ids[kt->n_ids++] = id;
  if (op == OP_REMOVE) kt->ids[at] = kt->ids[--kt->n_ids];
  return TRUE;
}

static gboolean queue_prompt(KatanaTrack *kt, prompt_op op, gint id, const gdouble b[4]) {
  GST_OBJECT_LOCK(kt);
  const gboolean ok = queue_locked(kt, op, id, b);
  GST_OBJECT_UNLOCK(kt);
  return ok;
}

/* Moves every queued prompt into out (in order); returns how many. */
static gint take_prompts(KatanaTrack *kt, kt_prompt out[KT_PROMPT_QUEUE]) {
  GST_OBJECT_LOCK(kt);
  const gint n = kt->pq_len;
  for (gint i = 0; i < n; i++) out[i] = kt->pq[(kt->pq_head + i) % KT_PROMPT_QUEUE];
  kt->pq_head = (kt->pq_head + n) % KT_PROMPT_QUEUE;
  kt->pq_len = 0;
  GST_OBJECT_UNLOCK(kt);
  return n;
}

/* Consumer side: applies the queued prompts to the next frame the tracker takes. */
static void apply_prompts(KatanaTrack *kt, kat_stream *s) {
  kt_prompt p[KT_PROMPT_QUEUE];
  const gint n = take_prompts(kt, p);
  for (gint i = 0; i < n; i++) {
    int rc;
    if (p[i].op == OP_REMOVE) {
      rc = kat_stream_remove_object(s, p[i].id, kt->tracked);
    } else {
      kat_prompt kp;
      kat_prompt_init(&kp);
      kp.has_box = 1;
      memcpy(kp.box, p[i].box, sizeof kp.box);
      rc = kat_stream_add_prompt(s, p[i].id, kt->tracked, &kp);
    }
    if (rc)
      GST_ELEMENT_WARNING(
          kt, STREAM, FAILED,
          ("katanatrack: %s %d refused: %s", op_name(p[i].op), p[i].id, kat_stream_prompt_error(s)),
          ("%s", kat_status_name(rc)));
  }
}

static gboolean on_add(KatanaTrack *kt, gint id, gdouble x, gdouble y, gdouble w, gdouble h) {
  const gdouble b[4] = {x, y, w, h};
  return queue_prompt(kt, OP_ADD, id, b);
}

static gboolean on_reseed(KatanaTrack *kt, gint id, gdouble x, gdouble y, gdouble w, gdouble h) {
  const gdouble b[4] = {x, y, w, h};
  return queue_prompt(kt, OP_RESEED, id, b);
}

static gboolean on_remove(KatanaTrack *kt, gint id) {
  return queue_prompt(kt, OP_REMOVE, id, NULL);
}

/* A "katana-prompt" custom event: op, id, x, y, w, h. TRUE when it was one (handled). */
static gboolean prompt_event(KatanaTrack *kt, GstEvent *ev) {
  const GstStructure *st = gst_event_get_structure(ev);
  if (!st || !gst_structure_has_name(st, "katana-prompt")) return FALSE;
  const gchar *op = gst_structure_get_string(st, "op");
  gint id = -1;
  gdouble b[4] = {NAN, NAN, NAN, NAN};
  gst_structure_get_int(st, "id", &id);
  gst_structure_get_double(st, "x", &b[0]);
  gst_structure_get_double(st, "y", &b[1]);
  gst_structure_get_double(st, "w", &b[2]);
  gst_structure_get_double(st, "h", &b[3]);
  if (g_strcmp0(op, "add") == 0)
    queue_prompt(kt, OP_ADD, id, b);
  else if (g_strcmp0(op, "reseed") == 0)
    queue_prompt(kt, OP_RESEED, id, b);
  else if (g_strcmp0(op, "remove") == 0)
    queue_prompt(kt, OP_REMOVE, id, NULL);
  else
    GST_WARNING_OBJECT(kt, "katana-prompt event with unknown op '%s'", op ? op : "(none)");
  return TRUE;
}

/* ---- the stream ---- */

/* Opens a push-mode stream without objects (prompts add them). */
static int stream_open(KatanaTrack *kt, gboolean drop_oldest, kat_stream **out) {
  kat_stream_options o;
  kat_stream_options_init(&o);
  char err[KAT_ERROR_SIZE] = "";
  GST_OBJECT_LOCK(kt);
  gchar *model = g_strdup(kt->model);
  gchar *ep = g_strdup(kt->ep ? kt->ep : "cpu");
  gchar *sel = g_strdup(kt->selection ? kt->selection : "samurai");
  const gint threads = kt->threads;
  o.pipeline = kt->pipeline ? 1 : 0;
  o.tracker.want_masks = kt->masks ? 1 : 0;
  GST_OBJECT_UNLOCK(kt);
  o.tracker.max_objects = kt->cap;
  o.drop_oldest = drop_oldest ? 1 : 0;
  int rc = kat_ep_profile_preset(ep, &o.tracker.ep);
  if (rc) {
    snprintf(err, sizeof err, "unknown ep preset '%s' (cpu, cuda, tensorrt, mac)", ep);
    goto done;
  }
  if (threads > 0) {
    char v[16];
    snprintf(v, sizeof v, "%d", threads);
    rc = kat_ep_profile_set(&o.tracker.ep, -1, "intra_op_threads", v);
    if (rc) {
      snprintf(err, sizeof err, "threads=%d refused", threads);
      goto done;
    }
  }
  const int s = kat_selection_parse(sel);
  if (s < 0) {
    rc = KAT_EINVAL;
    snprintf(err, sizeof err, "unknown selection '%s' (samurai, sam2)", sel);
    goto done;
  }
  o.tracker.selection = (kat_selection)s;
  const char *bundle = model && *model ? model : kat_default_model_path();
  if (!bundle) {
    rc = KAT_ENOENT;
    snprintf(err, sizeof err, "no model given and no default model installed");
    goto done;
  }
  rc = kat_stream_open(bundle, NULL, NULL, &o, out, err, sizeof err);
done:
  if (rc)
    GST_ELEMENT_ERROR(kt, RESOURCE, OPEN_READ, ("katanatrack: %s", err),
                      ("%s", kat_status_name(rc)));
  g_free(model);
  g_free(ep);
  g_free(sel);
  return rc;
}

/* Posts the "katana-track" message of one frame's n records. */
static void post_results(KatanaTrack *kt, const kat_track_result *r, gint n, gint64 frame,
                         gint64 track_frame, guint64 dropped) {
  GValue arr = G_VALUE_INIT;
  g_value_init(&arr, GST_TYPE_ARRAY);
  for (gint i = 0; i < n; i++) {
    GValue v = G_VALUE_INIT;
    g_value_init(&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed(
        &v, gst_structure_new("katana-object", "id", G_TYPE_INT, r[i].obj_id, "x", G_TYPE_DOUBLE,
                              r[i].box[0], "y", G_TYPE_DOUBLE, r[i].box[1], "w", G_TYPE_DOUBLE,
                              r[i].box[2], "h", G_TYPE_DOUBLE, r[i].box[3], "box-valid",
                              G_TYPE_BOOLEAN, r[i].box_valid ? 1 : 0, "presence", G_TYPE_STRING,
                              kat_presence_name(r[i].presence), "object-score", G_TYPE_DOUBLE,
                              (double)r[i].object_score, "iou", G_TYPE_DOUBLE,
                              (double)r[i].iou_pred, "candidate", G_TYPE_INT, r[i].candidate,
                              "dropped-before", G_TYPE_INT64, (gint64)r[i].dropped_before, NULL));
    gst_value_array_append_and_take_value(&arr, &v);
  }
  GST_OBJECT_LOCK(kt);
  const guint64 pdropped = kt->prompts_dropped;
  GST_OBJECT_UNLOCK(kt);
  g_mutex_lock(&kt->res_lock);
  const guint64 mskipped = kt->masks_skipped;
  g_mutex_unlock(&kt->res_lock);
  GstStructure *st = gst_structure_new("katana-track", "frame", G_TYPE_INT64, frame, "track-frame",
                                       G_TYPE_INT64, track_frame, "count", G_TYPE_INT, n, "dropped",
                                       G_TYPE_UINT64, dropped, "prompts-dropped", G_TYPE_UINT64,
                                       pdropped, "masks-skipped", G_TYPE_UINT64, mskipped, NULL);
  gst_structure_take_value(st, "objects", &arr);
  gst_element_post_message(GST_ELEMENT(kt), gst_message_new_element(GST_OBJECT(kt), st));
}

/* A mask buffer from the pool with rows [h, w] u8 of `mask` (stride bytes); NULL, counted in
 * masks_skipped, when downstream holds every pool buffer. */
static GstBuffer *mask_buffer(KatanaTrack *kt, const guint8 *mask, gint w, gint h, size_t stride) {
  GstBuffer *mb = NULL;
  GstBufferPoolAcquireParams ap = {.flags = GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT};
  GstMapInfo mi;
  if (gst_buffer_pool_acquire_buffer(kt->mpool, &mb, &ap) != GST_FLOW_OK || !mb ||
      gst_buffer_get_size(mb) < (gsize)w * (gsize)h) {
    if (mb) gst_buffer_unref(mb);
    g_mutex_lock(&kt->res_lock);
    kt->masks_skipped++;
    g_mutex_unlock(&kt->res_lock);
    return NULL;
  }
  if (!gst_buffer_map(mb, &mi, GST_MAP_WRITE)) {
    gst_buffer_unref(mb);
    return NULL;
  }
  for (gint row = 0; row < h; row++)
    memcpy(mi.data + (size_t)row * (size_t)w, mask + (size_t)row * stride, (size_t)w);
  gst_buffer_unmap(mb, &mi);
  return mb;
}

/* The ROI meta (and the mask param) of record r on buf. */
static void attach_meta(KatanaTrack *kt, GstBuffer *buf, const kat_track_result *r, gint64 frame) {
  const double x = r->box[0] > 0 ? r->box[0] : 0, y = r->box[1] > 0 ? r->box[1] : 0;
  GstVideoRegionOfInterestMeta *m = gst_buffer_add_video_region_of_interest_meta(
      buf, "katana", (guint)x, (guint)y, (guint)r->box[2], (guint)r->box[3]);
  if (!m) return;
  m->id = r->obj_id;
  gst_video_region_of_interest_meta_add_param(
      m, gst_structure_new("katana/track", "frame", G_TYPE_INT64, frame, "presence", G_TYPE_STRING,
                           kat_presence_name(r->presence), "object-score", G_TYPE_DOUBLE,
                           (double)r->object_score, "iou", G_TYPE_DOUBLE, (double)r->iou_pred,
                           "candidate", G_TYPE_INT, r->candidate, "box-valid", G_TYPE_BOOLEAN,
                           r->box_valid ? TRUE : FALSE, NULL));
  const gint mw = r->mask_width, mh = r->mask_height;
  GstBuffer *mb = r->mask && kt->mpool && mw > 0 && mh > 0
                      ? mask_buffer(kt, r->mask, mw, mh, r->mask_stride)
                      : NULL;
  if (!mb) return;
  gst_video_region_of_interest_meta_add_param(
      m, gst_structure_new("katana/mask", "width", G_TYPE_INT, mw, "height", G_TYPE_INT, mh, "data",
                           GST_TYPE_BUFFER, mb, NULL));
  gst_buffer_unref(mb);
}

static void draw_box(GstVideoFrame *f, const kat_track_result *r) {
  if (!r->box_valid) return;
  static const guint8 rgb[3][3] = {{255, 64, 32}, {255, 210, 0}, {160, 160, 160}};
  const guint8 *c = rgb[r->presence <= KAT_PRESENCE_LOST ? r->presence : 2];
  const int W = GST_VIDEO_FRAME_WIDTH(f), H = GST_VIDEO_FRAME_HEIGHT(f);
  int x0 = (int)r->box[0], y0 = (int)r->box[1];
  int x1 = (int)(r->box[0] + r->box[2]), y1 = (int)(r->box[1] + r->box[3]);
  x0 = CLAMP(x0, 0, W - 1), x1 = CLAMP(x1, 0, W - 1), y0 = CLAMP(y0, 0, H - 1);
  y1 = CLAMP(y1, 0, H - 1);
  const GstVideoFormat fmt = GST_VIDEO_FRAME_FORMAT(f);
  guint8 *p = GST_VIDEO_FRAME_PLANE_DATA(f, 0);
  const int st = GST_VIDEO_FRAME_PLANE_STRIDE(f, 0);
  /* BT.601 limited range, as katana reads NV12. */
  const int luma = (66 * c[0] + 129 * c[1] + 25 * c[2] + 128) / 256 + 16;
  const int cb = (-38 * c[0] - 74 * c[1] + 112 * c[2] + 128) / 256 + 128;
  const int cr = (112 * c[0] - 94 * c[1] - 18 * c[2] + 128) / 256 + 128;
  for (int y = y0; y <= y1; y++) {
    for (int x = x0; x <= x1; x++) {
      const int edge = y - y0 < 2 || y1 - y < 2 || x - x0 < 2 || x1 - x < 2;
      if (!edge) continue;
      guint8 *px = p + (size_t)y * (size_t)st;
      switch (fmt) {
        case GST_VIDEO_FORMAT_RGB: memcpy(px + x * 3, c, 3); break;
        case GST_VIDEO_FORMAT_RGBx: memcpy(px + x * 4, c, 3); break;
        case GST_VIDEO_FORMAT_BGRx:
          px[x * 4] = c[2], px[x * 4 + 1] = c[1], px[x * 4 + 2] = c[0];
          break;
        default: { /* NV12, I420: luma, and the chroma sample of the 2x2 block */
          px[x] = (guint8)luma;
          guint8 *c1 = (guint8 *)GST_VIDEO_FRAME_PLANE_DATA(f, 1) +
                       (size_t)(y / 2) * (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(f, 1);
          if (fmt == GST_VIDEO_FORMAT_NV12) {
            c1[(x / 2) * 2] = (guint8)cb;
            c1[(x / 2) * 2 + 1] = (guint8)cr;
          } else {
            guint8 *c2 = (guint8 *)GST_VIDEO_FRAME_PLANE_DATA(f, 2) +
                         (size_t)(y / 2) * (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(f, 2);
            c1[x / 2] = (guint8)cb;
            c2[x / 2] = (guint8)cr;
          }
          break;
        }
      }
    }
  }
}

/* Describes frame `f` as a kat_frame (converting into kt->conv where needed). */
static void to_kat_frame(KatanaTrack *kt, GstVideoFrame *f, kat_frame *k) {
  memset(k, 0, sizeof *k);
  const int W = GST_VIDEO_FRAME_WIDTH(f), H = GST_VIDEO_FRAME_HEIGHT(f);
  k->width = W;
  k->height = H;
  k->index = kt->frame_no - kt->stream_base;
  switch (GST_VIDEO_FRAME_FORMAT(f)) {
    case GST_VIDEO_FORMAT_RGB:
      k->format = KAT_PIXEL_RGB24;
      k->data[0] = GST_VIDEO_FRAME_PLANE_DATA(f, 0);
      k->stride[0] = (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(f, 0);
      break;
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_BGRx: {
      const int bgr = GST_VIDEO_FRAME_FORMAT(f) == GST_VIDEO_FORMAT_BGRx;
      const guint8 *src = GST_VIDEO_FRAME_PLANE_DATA(f, 0);
      const size_t ss = (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(f, 0);
      for (int y = 0; y < H; y++) {
        const guint8 *s = src + (size_t)y * ss;
        guint8 *d = kt->conv + (size_t)y * kt->conv_stride;
        for (int x = 0; x < W; x++, s += 4, d += 3) {
          d[0] = bgr ? s[2] : s[0];
          d[1] = s[1];
          d[2] = bgr ? s[0] : s[2];
        }
      }
      k->format = KAT_PIXEL_RGB24;
      k->data[0] = kt->conv;
      k->stride[0] = kt->conv_stride;
      break;
    }
    case GST_VIDEO_FORMAT_NV12:
      k->format = KAT_PIXEL_NV12;
      k->data[0] = GST_VIDEO_FRAME_PLANE_DATA(f, 0);
      k->stride[0] = (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(f, 0);
      k->data[1] = GST_VIDEO_FRAME_PLANE_DATA(f, 1);
      k->stride[1] = (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(f, 1);
      break;
    default: { /* I420: Y as it is, U and V interleaved into NV12's chroma plane */
      const guint8 *u = GST_VIDEO_FRAME_PLANE_DATA(f, 1), *v = GST_VIDEO_FRAME_PLANE_DATA(f, 2);
      const size_t us = (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(f, 1);
      const size_t vs = (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(f, 2);
      for (int y = 0; y < H / 2; y++) {
        guint8 *d = kt->conv + (size_t)y * kt->conv_stride;
        for (int x = 0; x < W / 2; x++) {
          d[2 * x] = u[(size_t)y * us + (size_t)x];
          d[2 * x + 1] = v[(size_t)y * vs + (size_t)x];
        }
      }
      k->format = KAT_PIXEL_NV12;
      k->data[0] = GST_VIDEO_FRAME_PLANE_DATA(f, 0);
      k->stride[0] = (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(f, 0);
      k->data[1] = kt->conv;
      k->stride[1] = kt->conv_stride;
      break;
    }
  }
}

/* ---- live mode: the worker thread ---- */

/* Live mode, worker: publishes the `count` records of kt->res for the streaming thread and
 * posts their message. */
static void publish(KatanaTrack *kt, kat_stream *s, gint count) {
  g_mutex_lock(&kt->lock);
  const gint64 frame = kt->stream_base + (count > 0 ? kt->res[0].source_index : 0);
  g_mutex_unlock(&kt->lock);
  kat_stream_stats st;
  guint64 dropped = 0;
  if (kat_stream_get_stats(s, &st) == 0) dropped = (guint64)st.dropped;
  g_mutex_lock(&kt->mbox_lock);
  dropped += kt->mbox_dropped;
  g_mutex_unlock(&kt->mbox_lock);
  const size_t plane = (size_t)kt->info_w * (size_t)kt->info_h;
  g_mutex_lock(&kt->res_lock);
  dropped += kt->refused;
  kt->dropped = dropped;
  kt->n_latest = count;
  kt->latest_frame = frame;
  for (gint i = 0; i < count; i++) {
    const kat_track_result *r = &kt->res[i];
    kt->latest[i] = *r;
    kt->latest[i].mask = NULL;
    if (kt->latest_masks && r->mask && (size_t)r->mask_width * (size_t)r->mask_height <= plane) {
      guint8 *d = kt->latest_masks + (size_t)i * plane;
      for (int y = 0; y < r->mask_height; y++)
        memcpy(d + (size_t)y * (size_t)r->mask_width, r->mask + (size_t)y * r->mask_stride,
               (size_t)r->mask_width);
      kt->latest[i].mask = d;
      kt->latest[i].mask_stride = (size_t)r->mask_width;
    }
  }
  g_mutex_unlock(&kt->res_lock);
  if (count > 0) post_results(kt, kt->res, count, frame, kt->tracked - 1, dropped);
}

static gpointer worker_main(gpointer data) {
  KatanaTrack *kt = data;
  kat_stream *s = NULL;
  const int orc = stream_open(kt, TRUE, &s);
  g_mutex_lock(&kt->lock);
  kt->opening = FALSE;
  kt->stream = orc == 0 && !kt->stop ? s : NULL;
  const gboolean run = kt->stream != NULL;
  g_mutex_unlock(&kt->lock);
  if (!run) {
    kat_stream_close(s); /* stopped while opening (NULL when the open failed) */
    return NULL;
  }
  for (;;) {
    g_mutex_lock(&kt->lock);
    const gboolean stop = kt->stop;
    g_mutex_unlock(&kt->lock);
    if (stop) break;
    /* Consumer side, on this thread only; the producer thread pushes under `lock`. */
    apply_prompts(kt, s);
    gint count = 0;
    const int rc = kat_stream_next_objects(s, kt->res, kt->cap, &count, 50);
    if (rc == KAT_EAGAIN) continue;
    if (rc) {
      if (rc != KAT_ECANCELED)
        GST_ELEMENT_WARNING(kt, STREAM, FAILED,
                            ("katanatrack: tracking stopped: %s", kat_stream_last_error(s)),
                            ("%s", kat_status_name(rc)));
      break;
    }
    kt->tracked++;
    publish(kt, s, count < kt->cap ? count : kt->cap);
  }
  g_mutex_lock(&kt->lock);
  kt->stream = NULL;
  g_mutex_unlock(&kt->lock);
  kat_stream_close(s);
  return NULL;
}

/* A kat_frame viewing mailbox slot i (RGB24 or NV12, see the struct). */
static void slot_frame(KatanaTrack *kt, int i, kat_frame *k) {
  memset(k, 0, sizeof *k);
  const int W = kt->info_w, H = kt->info_h;
  k->width = W;
  k->height = H;
  if (kt->info_fmt == GST_VIDEO_FORMAT_NV12 || kt->info_fmt == GST_VIDEO_FORMAT_I420) {
    k->format = KAT_PIXEL_NV12;
    k->data[0] = kt->slot[i];
    k->stride[0] = (size_t)W;
    k->data[1] = kt->slot[i] + (size_t)W * (size_t)H;
    k->stride[1] = (size_t)W;
  } else {
    k->format = KAT_PIXEL_RGB24;
    k->data[0] = kt->slot[i];
    k->stride[0] = (size_t)W * 3;
  }
}

/* Copies frame f into mailbox slot i, converted to the slot's RGB24 or NV12. */
static void slot_fill(KatanaTrack *kt, GstVideoFrame *f, int i) {
  kat_frame k;
  to_kat_frame(kt, f, &k); /* RGBx/BGRx/I420 converted into conv; the rest are views */
  kat_frame d;
  slot_frame(kt, i, &d);
  const int W = kt->info_w, H = kt->info_h;
  const size_t row0 = k.format == KAT_PIXEL_NV12 ? (size_t)W : (size_t)W * 3;
  for (int y = 0; y < H; y++)
    memcpy((guint8 *)d.data[0] + (size_t)y * d.stride[0], k.data[0] + (size_t)y * k.stride[0],
           row0);
  if (k.format == KAT_PIXEL_NV12)
    for (int y = 0; y < H / 2; y++)
      memcpy((guint8 *)d.data[1] + (size_t)y * d.stride[1], k.data[1] + (size_t)y * k.stride[1],
             (size_t)W);
}

/* Live mode, producer side: takes the newest frame of the mailbox and try-pushes it. */

/* Live mode, producer side: takes the newest frame of the mailbox and try-pushes it. */
static gpointer producer_main(gpointer data) {
  KatanaTrack *kt = data;
  for (;;) {
    g_mutex_lock(&kt->mbox_lock);
    while (!kt->pstop && !kt->has_ready) g_cond_wait(&kt->mbox_cond, &kt->mbox_lock);
    if (kt->pstop) {
      g_mutex_unlock(&kt->mbox_lock);
      break;
    }
    const int t = kt->b;
    kt->b = kt->r;
    kt->r = t;
    kt->has_ready = FALSE;
    const gint64 frame = kt->slot_frame[kt->b];
    g_mutex_unlock(&kt->mbox_lock);
    g_mutex_lock(&kt->lock);
    gboolean refused = TRUE; /* no stream (opening, or stopped by an error) */
    if (kt->stream) {
      if (kt->stream_base < 0) kt->stream_base = frame;
      kat_frame k;
      slot_frame(kt, kt->b, &k);
      k.index = frame - kt->stream_base;
      const int rc = kat_stream_try_push(kt->stream, &k);
      refused = rc == KAT_EAGAIN;
      if (rc && rc != KAT_EAGAIN && rc != KAT_ECANCELED) {
        GST_ELEMENT_WARNING(kt, STREAM, FAILED,
                            ("katanatrack: %s", kat_stream_push_error(kt->stream)),
                            ("%s", kat_status_name(rc)));
        kat_stream_cancel(kt->stream); /* the worker stops and closes it */
      }
    }
    g_mutex_unlock(&kt->lock);
    if (refused) {
      g_mutex_lock(&kt->res_lock);
      kt->refused++;
      g_mutex_unlock(&kt->res_lock);
    }
  }
  return NULL;
}

/* ---- GstVideoFilter ---- */

static void stop_all(KatanaTrack *kt) {
  if (kt->producer) {
    g_mutex_lock(&kt->mbox_lock);
    kt->pstop = TRUE;
    g_cond_broadcast(&kt->mbox_cond);
    g_mutex_unlock(&kt->mbox_lock);
    g_thread_join(kt->producer);
    kt->producer = NULL;
  }
  if (kt->worker) {
    g_mutex_lock(&kt->lock);
    kt->stop = TRUE;
    if (kt->stream) kat_stream_cancel(kt->stream);
    g_mutex_unlock(&kt->lock);
    g_thread_join(kt->worker);
    kt->worker = NULL;
  }
  kat_stream_close(kt->stream);
  kt->stream = NULL;
  for (int i = 0; i < 3; i++) {
    g_free(kt->slot[i]);
    kt->slot[i] = NULL;
  }
  g_free(kt->res);
  g_free(kt->latest);
  g_free(kt->latest_masks);
  kt->res = kt->latest = NULL;
  kt->latest_masks = NULL;
  kt->n_latest = 0;
  if (kt->mpool) {
    gst_buffer_pool_set_active(kt->mpool, FALSE);
    gst_object_unref(kt->mpool);
    kt->mpool = NULL;
  }
}

static gboolean kt_start(GstBaseTransform *bt) {
  KatanaTrack *kt = KATANA_TRACK(bt);
  kt->first_frame = TRUE;
  kt->frame_no = kt->tracked = 0;
  kt->stream_base = -1;
  kt->stop = kt->opening = FALSE;
  kt->dropped = kt->refused = kt->mbox_dropped = kt->masks_skipped = 0;
  GST_OBJECT_LOCK(kt);
  kt->pq_head = kt->pq_len = kt->n_ids = 0;
  kt->prompts_dropped = 0;
  if (kt->has_box) queue_locked(kt, OP_ADD, 0, kt->box);
  for (gint i = 0; i < kt->n_boxes; i++) {
    if (id_index(kt, kt->boxes[i].id) >= 0)
      GST_WARNING_OBJECT(kt, "boxes: object %d is also the box property's; box wins",
                         kt->boxes[i].id);
    else
      queue_locked(kt, OP_ADD, kt->boxes[i].id, kt->boxes[i].box);
  }
  GST_OBJECT_UNLOCK(kt);
  return TRUE;
}

static gboolean kt_stop(GstBaseTransform *bt) {
  KatanaTrack *kt = KATANA_TRACK(bt);
  stop_all(kt);
  g_free(kt->conv);
  kt->conv = NULL;
  return TRUE;
}

static gboolean kt_set_info(GstVideoFilter *vf, GstCaps *in, GstVideoInfo *ii, GstCaps *out,
                            GstVideoInfo *oi) {
  KatanaTrack *kt = KATANA_TRACK(vf);
  (void)in, (void)out, (void)oi;
  const int W = GST_VIDEO_INFO_WIDTH(ii), H = GST_VIDEO_INFO_HEIGHT(ii);
  const GstVideoFormat fmt = GST_VIDEO_INFO_FORMAT(ii);
  if ((fmt == GST_VIDEO_FORMAT_NV12 || fmt == GST_VIDEO_FORMAT_I420) && (W % 2 || H % 2)) {
    GST_ELEMENT_ERROR(kt, STREAM, FORMAT,
                      ("katanatrack: %s frames must have an even width and height, got %dx%d",
                       gst_video_format_to_string(fmt), W, H),
                      (NULL));
    return FALSE;
  }
  const gboolean started = kt->stream || kt->worker;
  if (started && (W != kt->info_w || H != kt->info_h || fmt != kt->info_fmt)) {
    GST_ELEMENT_ERROR(kt, STREAM, FORMAT,
                      ("katanatrack: the frame size or format changed mid-track (%dx%d %s to "
                       "%dx%d %s)",
                       kt->info_w, kt->info_h, gst_video_format_to_string(kt->info_fmt), W, H,
                       gst_video_format_to_string(fmt)),
                      (NULL));
    return FALSE;
  }
  if (started) return TRUE; /* the same caps again */
  kt->info_w = W;
  kt->info_h = H;
  kt->info_fmt = fmt;
  g_free(kt->conv);
  kt->conv = NULL;
  if (fmt == GST_VIDEO_FORMAT_RGBx || fmt == GST_VIDEO_FORMAT_BGRx) {
    kt->conv_stride = (size_t)W * 3;
    kt->conv = g_malloc(kt->conv_stride * (size_t)H);
  } else if (fmt == GST_VIDEO_FORMAT_I420) {
    kt->conv_stride = (size_t)W;
    kt->conv = g_malloc(kt->conv_stride * (size_t)(H / 2));
  }
  return TRUE;
}

/* Is upstream live? (the latency query of the sink pad's peer) */
static gboolean upstream_live(KatanaTrack *kt) {
  GstQuery *q = gst_query_new_latency();
  gboolean live = FALSE;
  if (gst_pad_peer_query(GST_BASE_TRANSFORM_SINK_PAD(kt), q))
    gst_query_parse_latency(q, &live, NULL, NULL);
  gst_query_unref(q);
  return live;
}

/* First frame: live or not, the per-frame records, the mask pool, and the stream (opened here
 * when not live, by the worker when live). FALSE after posting an error. */
static gboolean start_tracking(KatanaTrack *kt, live_mode lm) {
  GST_OBJECT_LOCK(kt);
  kt->cap = kt->max_objects;
  const gboolean masks = kt->masks;
  GST_OBJECT_UNLOCK(kt);
  kt->live = lm == LIVE_ON || (lm == LIVE_AUTO && upstream_live(kt));
  GST_INFO_OBJECT(kt, "%s mode, up to %d objects", kt->live ? "live (drop oldest)" : "every frame",
                  kt->cap);
  const size_t W = (size_t)kt->info_w, H = (size_t)kt->info_h;
  kt->res = g_new0(kat_track_result, kt->cap);
  if (masks) {
    /* Two frames' masks for every object, and two spare, held downstream at once. */
    const guint n = 2 * (guint)kt->cap + 2;
    kt->mpool = gst_buffer_pool_new();
    GstStructure *cfg = gst_buffer_pool_get_config(kt->mpool);
    gst_buffer_pool_config_set_params(cfg, NULL, (guint)(W * H), n, n);
    if (!gst_buffer_pool_set_config(kt->mpool, cfg) ||
        !gst_buffer_pool_set_active(kt->mpool, TRUE)) {
      GST_ELEMENT_ERROR(kt, RESOURCE, NO_SPACE_LEFT,
                        ("katanatrack: cannot allocate %u mask buffers of %zux%zu", n, W, H),
                        (NULL));
      return FALSE;
    }
  }
  if (!kt->live) {
    kt->stream_base = 0;
    return stream_open(kt, FALSE, &kt->stream) == 0;
  }
  kt->latest = g_new0(kat_track_result, kt->cap);
  kt->latest_masks = masks ? g_malloc0_n((gsize)kt->cap, W * H) : NULL;
  const gboolean yuv =
      kt->info_fmt == GST_VIDEO_FORMAT_NV12 || kt->info_fmt == GST_VIDEO_FORMAT_I420;
  for (int i = 0; i < 3; i++) kt->slot[i] = g_malloc(yuv ? W * H + W * (H / 2) : W * H * 3);
  kt->w = 0, kt->r = 1, kt->b = 2;
  kt->has_ready = kt->pstop = FALSE;
  kt->opening = TRUE;
  kt->worker = g_thread_new("katanatrack-next", worker_main, kt);
  kt->producer = g_thread_new("katanatrack-push", producer_main, kt);
  return TRUE;
}

/* Live mode, streaming thread: copies the frame into the mailbox (never waits for the
 * tracker; the mailbox lock is held only for an index swap) and attaches the newest results. */
static GstFlowReturn frame_live(KatanaTrack *kt, GstVideoFrame *f, gboolean draw) {
  slot_fill(kt, f, kt->w);
  g_mutex_lock(&kt->mbox_lock);
  kt->slot_frame[kt->w] = kt->frame_no;
  const int t = kt->w;
  kt->w = kt->r;
  kt->r = t;
  if (kt->has_ready) kt->mbox_dropped++; /* the producer had not taken the previous frame */
  kt->has_ready = TRUE;
  g_cond_signal(&kt->mbox_cond);
  g_mutex_unlock(&kt->mbox_lock);
  g_mutex_lock(&kt->res_lock);
  for (gint i = 0; i < kt->n_latest; i++) {
    attach_meta(kt, f->buffer, &kt->latest[i], kt->latest_frame);
    if (draw) draw_box(f, &kt->latest[i]);
  }
  g_mutex_unlock(&kt->res_lock);
  return GST_FLOW_OK;
}

/* Not live: pushes the frame and takes its own records before the buffer goes on. */
static GstFlowReturn frame_sync(KatanaTrack *kt, GstVideoFrame *f, gboolean draw) {
  if (!kt->stream) return GST_FLOW_ERROR; /* the open failed on the first frame */
  apply_prompts(kt, kt->stream);
  kat_frame k;
  to_kat_frame(kt, f, &k);
  int rc = kat_stream_push(kt->stream, &k);
  if (rc) {
    GST_ELEMENT_ERROR(kt, STREAM, FAILED, ("katanatrack: %s", kat_stream_push_error(kt->stream)),
                      ("%s", kat_status_name(rc)));
    return GST_FLOW_ERROR;
  }
  gint count = 0;
  rc = kat_stream_next_objects(kt->stream, kt->res, kt->cap, &count, -1);
  if (rc) {
    GST_ELEMENT_ERROR(kt, STREAM, FAILED, ("katanatrack: %s", kat_stream_last_error(kt->stream)),
                      ("%s", kat_status_name(rc)));
    return GST_FLOW_ERROR;
  }
  kt->tracked++;
  if (count > kt->cap) count = kt->cap;
  post_results(kt, kt->res, count, kt->frame_no, kt->tracked - 1, 0);
  for (gint i = 0; i < count; i++) {
    attach_meta(kt, f->buffer, &kt->res[i], kt->frame_no);
    if (draw) draw_box(f, &kt->res[i]);
  }
  return GST_FLOW_OK;
}

static GstFlowReturn kt_transform_frame_ip(GstVideoFilter *vf, GstVideoFrame *f) {
  KatanaTrack *kt = KATANA_TRACK(vf);
  GST_OBJECT_LOCK(kt);
  const gboolean draw = kt->draw;
  const live_mode lm = kt->live_prop;
  const gboolean first = kt->first_frame;
  kt->first_frame = FALSE;
  GST_OBJECT_UNLOCK(kt);
  if (first && !start_tracking(kt, lm)) return GST_FLOW_ERROR;
  GstFlowReturn ret = kt->live ? frame_live(kt, f, draw) : frame_sync(kt, f, draw);
  kt->frame_no++;
  return ret;
}

static gboolean kt_sink_event(GstBaseTransform *bt, GstEvent *ev) {
  KatanaTrack *kt = KATANA_TRACK(bt);
  if (GST_EVENT_TYPE(ev) == GST_EVENT_CUSTOM_DOWNSTREAM && prompt_event(kt, ev)) {
    gst_event_unref(ev);
    return TRUE;
  }
  return GST_BASE_TRANSFORM_CLASS(katana_track_parent_class)->sink_event(bt, ev);
}

static gboolean kt_src_event(GstBaseTransform *bt, GstEvent *ev) {
  KatanaTrack *kt = KATANA_TRACK(bt);
  if (GST_EVENT_TYPE(ev) == GST_EVENT_CUSTOM_UPSTREAM && prompt_event(kt, ev)) {
    gst_event_unref(ev);
    return TRUE;
  }
  return GST_BASE_TRANSFORM_CLASS(katana_track_parent_class)->src_event(bt, ev);
}

/* ---- GObject ---- */

static void kt_set_property(GObject *o, guint id, const GValue *v, GParamSpec *ps) {
  KatanaTrack *kt = KATANA_TRACK(o);
  GST_OBJECT_LOCK(kt);
  switch (id) {
    case PROP_MODEL:
      g_free(kt->model);
      kt->model = g_value_dup_string(v);
      break;
    case PROP_EP:
      g_free(kt->ep);
      kt->ep = g_value_dup_string(v);
      break;
    case PROP_BOX: {
      const gchar *s = g_value_get_string(v);
      gdouble b[4];
      if (!s || !*s) {
        kt->has_box = FALSE;
      } else if (parse_box(s, b)) {
        memcpy(kt->box, b, sizeof b);
        kt->has_box = TRUE;
      } else {
        GST_OBJECT_UNLOCK(kt);
        g_warning("katanatrack: box must be x,y,w,h (four numbers, w and h > 0), got '%s'", s);
        return;
      }
      break;
    }
    case PROP_BOXES: {
      const gchar *s = g_value_get_string(v);
      kt_prompt b[KT_PROMPT_QUEUE];
      gint n = 0;
      if (s && *s && !parse_boxes(s, b, &n)) {
        GST_OBJECT_UNLOCK(kt);
        g_warning(
            "katanatrack: boxes must be id:x,y,w,h;id:x,y,w,h (ids >= 0, distinct, at most "
            "%d; w and h > 0), got '%s'",
            KT_PROMPT_QUEUE, s);
        return;
      }
      memcpy(kt->boxes, b, sizeof b);
      kt->n_boxes = n;
      break;
    }
    case PROP_MAX_OBJECTS: kt->max_objects = g_value_get_int(v); break;
    case PROP_SELECTION: {
      const gchar *s = g_value_get_string(v);
      if (kat_selection_parse(s ? s : "") < 0) {
        GST_OBJECT_UNLOCK(kt);
        g_warning("katanatrack: selection must be samurai or sam2, got '%s'", s ? s : "");
        return;
      }
      g_free(kt->selection);
      kt->selection = g_strdup(s);
      break;
    }
    case PROP_DRAW: kt->draw = g_value_get_boolean(v); break;
    case PROP_THREADS: kt->threads = g_value_get_int(v); break;
    case PROP_PIPELINE: kt->pipeline = g_value_get_boolean(v); break;
    case PROP_MASKS: kt->masks = g_value_get_boolean(v); break;
    case PROP_LIVE: kt->live_prop = (live_mode)g_value_get_enum(v); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
  }
  GST_OBJECT_UNLOCK(kt);
}

static void kt_get_property(GObject *o, guint id, GValue *v, GParamSpec *ps) {
  KatanaTrack *kt = KATANA_TRACK(o);
  if (id == PROP_DROPPED) {
    g_mutex_lock(&kt->mbox_lock);
    const guint64 mbox = kt->mbox_dropped;
    g_mutex_unlock(&kt->mbox_lock);
    g_mutex_lock(&kt->res_lock);
    const guint64 now = kt->refused + mbox;
    g_value_set_uint64(v, kt->dropped > now ? kt->dropped : now);
    g_mutex_unlock(&kt->res_lock);
    return;
  }
  GST_OBJECT_LOCK(kt);
  switch (id) {
    case PROP_MODEL: g_value_set_string(v, kt->model); break;
    case PROP_EP: g_value_set_string(v, kt->ep); break;
    case PROP_BOX: {
      if (kt->has_box) {
        gchar s[128];
        g_snprintf(s, sizeof s, "%g,%g,%g,%g", kt->box[0], kt->box[1], kt->box[2], kt->box[3]);
        g_value_set_string(v, s);
      } else {
        g_value_set_string(v, NULL);
      }
      break;
    }
    case PROP_BOXES: {
      GString *str = g_string_new(NULL);
      for (gint i = 0; i < kt->n_boxes; i++)
        g_string_append_printf(str, "%s%d:%g,%g,%g,%g", i ? ";" : "", kt->boxes[i].id,
                               kt->boxes[i].box[0], kt->boxes[i].box[1], kt->boxes[i].box[2],
                               kt->boxes[i].box[3]);
      g_value_take_string(v, g_string_free(str, kt->n_boxes == 0));
      break;
    }
    case PROP_MAX_OBJECTS: g_value_set_int(v, kt->max_objects); break;
    case PROP_PROMPTS_DROPPED: g_value_set_uint64(v, kt->prompts_dropped); break;
    case PROP_SELECTION: g_value_set_string(v, kt->selection); break;
    case PROP_DRAW: g_value_set_boolean(v, kt->draw); break;
    case PROP_THREADS: g_value_set_int(v, kt->threads); break;
    case PROP_PIPELINE: g_value_set_boolean(v, kt->pipeline); break;
    case PROP_MASKS: g_value_set_boolean(v, kt->masks); break;
    case PROP_LIVE: g_value_set_enum(v, kt->live_prop); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
  }
  GST_OBJECT_UNLOCK(kt);
}

static void kt_finalize(GObject *o) {
  KatanaTrack *kt = KATANA_TRACK(o);
  stop_all(kt);
  g_free(kt->model);
  g_free(kt->ep);
  g_free(kt->selection);
  g_free(kt->conv);
  g_mutex_clear(&kt->lock);
  g_cond_clear(&kt->cond);
  g_mutex_clear(&kt->mbox_lock);
  g_cond_clear(&kt->mbox_cond);
  g_mutex_clear(&kt->res_lock);
  G_OBJECT_CLASS(katana_track_parent_class)->finalize(o);
}

static void katana_track_init(KatanaTrack *kt) {
  kt->ep = g_strdup("cpu");
  kt->selection = g_strdup("samurai");
  kt->pipeline = TRUE;
  kt->max_objects = 16;
  kt->first_frame = TRUE;
  g_mutex_init(&kt->lock);
  g_cond_init(&kt->cond);
  g_mutex_init(&kt->mbox_lock);
  g_cond_init(&kt->mbox_cond);
  g_mutex_init(&kt->res_lock);
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(kt), TRUE);
}

static void katana_track_class_init(KatanaTrackClass *klass) {
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  GstElementClass *ec = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *bc = GST_BASE_TRANSFORM_CLASS(klass);
  GstVideoFilterClass *vc = GST_VIDEO_FILTER_CLASS(klass);
  oc->set_property = kt_set_property;
  oc->get_property = kt_get_property;
  oc->finalize = kt_finalize;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
  g_object_class_install_property(
      oc, PROP_MODEL,
      g_param_spec_string("model", "Model", "Model bundle folder (empty: the default model)", NULL,
                          rw));
  g_object_class_install_property(
      oc, PROP_EP,
      g_param_spec_string("ep", "Execution provider", "cpu, cuda, tensorrt or mac", "cpu", rw));
  g_object_class_install_property(
      oc, PROP_BOX,
      g_param_spec_string("box", "Box", "x,y,w,h of object 0 on the first frame (pixels)", NULL,
                          rw));
  g_object_class_install_property(
      oc, PROP_BOXES,
      g_param_spec_string("boxes", "Boxes",
                          "Objects on the first frame: id:x,y,w,h;id:x,y,w,h (pixels)", NULL, rw));
  g_object_class_install_property(
      oc, PROP_MAX_OBJECTS,
      g_param_spec_int("max-objects", "Max objects", "Objects tracked at once", 1, KT_MAX_OBJECTS,
                       16, rw));
  g_object_class_install_property(
      oc, PROP_SELECTION,
      g_param_spec_string("selection", "Selection", "samurai or sam2", "samurai", rw));
  g_object_class_install_property(
      oc, PROP_DRAW,
      g_param_spec_boolean("draw", "Draw", "Draw the box on the frames", FALSE,
                           G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_CONTROLLABLE));
  g_object_class_install_property(
      oc, PROP_THREADS,
      g_param_spec_int("threads", "Threads",
                       "ONNX Runtime intra-op threads per module (0: its default)", 0, 1024, 0,
                       rw));
  g_object_class_install_property(
      oc, PROP_PIPELINE,
      g_param_spec_boolean("pipeline", "Pipeline",
                           "Run preprocess, image encoder and tracker as three stages", TRUE, rw));
  g_object_class_install_property(
      oc, PROP_MASKS,
      g_param_spec_boolean("masks", "Masks", "Attach the mask as a katana/mask ROI param", FALSE,
                           rw));
  g_object_class_install_property(
      oc, PROP_LIVE,
      g_param_spec_enum("live", "Live", "Never wait for the tracker (drop frames): auto, on, off",
                        live_mode_get_type(), LIVE_AUTO, rw));
  g_object_class_install_property(
      oc, PROP_DROPPED,
      g_param_spec_uint64("dropped", "Dropped", "Frames not tracked (live mode)", 0, G_MAXUINT64, 0,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(
      oc, PROP_PROMPTS_DROPPED,
      g_param_spec_uint64("prompts-dropped", "Prompts dropped",
                          "Prompts refused because the queue was full", 0, G_MAXUINT64, 0,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  signals[SIG_ADD] = g_signal_new_class_handler(
      "add-object", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK(on_add), NULL, NULL, NULL, G_TYPE_BOOLEAN, 5, G_TYPE_INT, G_TYPE_DOUBLE,
      G_TYPE_DOUBLE, G_TYPE_DOUBLE, G_TYPE_DOUBLE);
  signals[SIG_RESEED] = g_signal_new_class_handler(
      "reseed-object", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK(on_reseed), NULL, NULL, NULL, G_TYPE_BOOLEAN, 5, G_TYPE_INT, G_TYPE_DOUBLE,
      G_TYPE_DOUBLE, G_TYPE_DOUBLE, G_TYPE_DOUBLE);
  signals[SIG_REMOVE] = g_signal_new_class_handler(
      "remove-object", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK(on_remove), NULL, NULL, NULL, G_TYPE_BOOLEAN, 1, G_TYPE_INT);
  gst_element_class_set_static_metadata(
      ec, "katana object tracker", "Filter/Analyzer/Video",
      "Tracks objects with SAMURAI (libkatana) and attaches ROI metas and bus messages", "katana");
  GstCaps *caps = gst_caps_from_string(GST_VIDEO_CAPS_MAKE(KT_FORMATS));
  gst_element_class_add_pad_template(
      ec, gst_pad_template_new("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
  gst_element_class_add_pad_template(
      ec, gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
  gst_caps_unref(caps);
  bc->start = kt_start;
  bc->stop = kt_stop;
  bc->sink_event = kt_sink_event;
  bc->src_event = kt_src_event;
  vc->set_info = kt_set_info;
  vc->transform_frame_ip = kt_transform_frame_ip;
}

static gboolean plugin_init(GstPlugin *p) {
  GST_DEBUG_CATEGORY_INIT(katana_track_debug, "katanatrack", 0, "katana object tracker");
  return gst_element_register(p, "katanatrack", GST_RANK_NONE, KATANA_TYPE_TRACK);
}

#define PACKAGE "katana"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, katana,
                  "katana: SAMURAI video object tracking", plugin_init, KAT_VERSION_STRING,
                  "Proprietary", "katana", "katana")
