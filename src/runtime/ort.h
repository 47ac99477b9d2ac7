/*
 * The process-wide ONNX Runtime environment: API table, environment with katana's logger, and a
 * per-thread capture of ORT's session log used to learn node placement.
 *
 * Thread-safety: kat__ort_get() initialises once (pthread_once) and is safe from any thread.
 * A capture is per thread: session creation on one thread never sees another's messages.
 */
#ifndef KAT_RUNTIME_ORT_H
#define KAT_RUNTIME_ORT_H

#include <onnxruntime_c_api.h>

#include "core/core.h"
#include "katana/runtime.h"

/* Returns the ORT API table and environment, or a status with the reason in `eb`. */
int kat__ort_get(const OrtApi **api, OrtEnv **env, kat__errbuf *eb);

/*
 * Copies ORT's message of `st` into `eb` prefixed by `what`, releases `st` and returns
 * KAT_ERUNTIME (or `status_if_error`). Returns KAT_OK and does nothing when `st` is NULL.
 */
int kat__ort_check(OrtStatus *st, kat__errbuf *eb, int status_if_error, const char *what);

/* Collects "placed on [EP]. Number of nodes: N" lines logged while active on this thread. */
typedef struct kat__ort_capture {
  int count;
  char ep[8][48];
  int nodes[8];
} kat__ort_capture;
void kat__ort_capture_begin(kat__ort_capture *cap);
void kat__ort_capture_end(void);

/* While on (per thread), ORT's log messages are dropped: used when probing providers. */
void kat__ort_quiet(int on);

/*
 * A per-thread tap: while set, every ORT log message delivered on this thread (whatever its
 * severity, before the quiet filter and katana's log level) is also passed to `fn` with `user`.
 * `msg` is borrowed for the call only. Pass fn = NULL to remove the tap. Used by
 * `katana onnx coverage` to read the per-node placement list and the providers' reasons.
 * Independent of kat__ort_capture_begin(); both may be active at once.
 */
typedef void (*kat__ort_tap_fn)(void *user, const char *msg);
void kat__ort_tap(kat__ort_tap_fn fn, void *user);

/*
 * Sets the severity of ORT's default (process-wide) logger. Providers log their GetCapability
 * findings (kernel not found, partition counts) through it, and the environment is created at
 * WARNING, so coverage raises it to VERBOSE for one session creation and restores WARNING.
 * Process-wide: other threads' ORT messages at the new level also reach katana's log router,
 * which still filters them by katana's own level.
 */
int kat__ort_env_log_level(OrtLoggingLevel level, kat__errbuf *eb);

#endif /* KAT_RUNTIME_ORT_H */
