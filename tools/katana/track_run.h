/*
 * One tracking run into a results folder, shared by katana track (one run per process) and
 * katana batch (one run per manifest line, several at once on threads): it opens the stream (on a
 * loaded model or from a bundle folder), queues every prompt, replaces the previous run's files
 * in the folder and writes, per frame, boxes.txt, results.jsonl and (with masks) masks/NNNNN.png;
 * with several objects each object's files go to DIR/objects/<id>/ and DIR/tracks.txt lists every
 * object's boxes; an overlay video when asked. This is the katana track layout (docs/cli.md).
 *
 * Errors are not printed: the message goes into the outcome's buffer (the caller adds its own
 * "katana track: " or ERROR file), so runs on several threads never interleave their messages.
 *
 * Thread-safety: kat_cli_track_run may run on several threads at once with different jobs and
 * folders (the model, when given, is shared: katana/model.h). The callbacks are called on the
 * thread that runs the job.
 */
#ifndef KAT_CLI_TRACK_RUN_H
#define KAT_CLI_TRACK_RUN_H

#include <stddef.h>

#include "katana/katana.h"

/* What to run. Every pointer is borrowed for the call. */
typedef struct kat_cli_track_job {
  kat_model *model;        /* open the stream on this model (kat_stream_open_on_model), or NULL: */
  const char *bundle;      /* open the bundle in this folder (kat_stream_open) */
  const char *input;       /* the source: a video, URL, frame folder, device, or "-" (raw) */
  kat_stream_options sopt; /* tracker, source, pipeline, keep_frames, max_frames */
  const kat_prompt_entry *prompts; /* [n_prompts] every prompt, in the order they are queued */
  size_t n_prompts;
  const char (*origin)[64]; /* [n_prompts] where each prompt came from, for messages; one that
                               starts with "--prompts " names a prompt of `prompts_path` */
  const char *prompts_path; /* the prompts file, or NULL */
  int classic;              /* 1: one box for object 0 on frame 0 (`box`), opened with the box */
  double box[4];            /* x, y, w, h in source pixels (classic only) */
  const char *out_dir;      /* the results folder (created; the previous run's files replaced) */
  int masks;                /* 1: write masks/NNNNN.png (sopt.tracker.want_masks must be set) */
  const char *overlay;      /* an overlay video to write, or NULL (sopt.keep_frames must be set) */
  /* Callbacks, each may be NULL; `ctx` is passed to them. */
  void *ctx;
  void (*on_stream)(void *ctx, kat_stream *st); /* after the open (st), before the close (NULL):
                                                   e.g. to cancel it from a signal watcher */
  int (*interrupted)(void *ctx); /* nonzero after a signal: KAT_ECANCELED then ends the run as
                                    interrupted, not as a failure */
  /* After frame i's files are written (`total`: the frames expected, or <= 0 when unknown;
   * res[0..count-1]: that frame's records, borrowed for the call). */
  void (*on_frame)(void *ctx, size_t i, long total, const kat_track_result *res, int count);
} kat_cli_track_job;

/* What the run did. */
typedef struct kat_cli_track_outcome {
  size_t frames;              /* frames whose results were written */
  int objects;                /* distinct object ids among the prompts */
  size_t prompts_not_applied; /* prompts for a frame at or past the end of the video */
  int looped;                 /* 1: the frame loop started (a progress line may be showing) */
  int interrupted;            /* 1: ended by KAT_ECANCELED after `interrupted` said so */
  double elapsed_ms;          /* wall time from the first frame to the last */
  kat_stream_stats stats;     /* the stream's statistics at the end (valid when looped) */
  char error[KAT_ERROR_SIZE + 4608]; /* the message of a failure ("" otherwise) */
} kat_cli_track_outcome;

/*
 * Runs `job`. 0 on success or an interruption (out->interrupted), 2 when the input or a prompt
 * is unusable (KAT_EINVAL at open, a prompt the stream refuses, a mask of the wrong size), 1 on
 * any other failure; the message is in out->error. Files already written stay (every line is
 * whole). Allocates its buffers once, before the first frame.
 */
int kat_cli_track_run(const kat_cli_track_job *job, kat_cli_track_outcome *out);

#endif /* KAT_CLI_TRACK_RUN_H */
