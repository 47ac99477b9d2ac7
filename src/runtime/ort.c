/*
 * The process-wide ONNX Runtime environment. ORT's log goes through katana's log router (custom
 * logger); during session creation a thread-local capture also parses ORT's verbose node-placement
 * lines, so katana can report which execution provider holds how many nodes. A per-thread tap
 * hands every message to a listener (coverage reads the per-node placement list and the
 * providers' reasons from it).
 */
#include "runtime/ort.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const OrtApi *g_api;
static OrtEnv *g_env;
static char g_init_error[512];
static _Thread_local kat__ort_capture *tl_capture;
static _Thread_local int tl_quiet;
static _Thread_local kat__ort_tap_fn tl_tap;
static _Thread_local void *tl_tap_user;

static kat_log_level map_level(OrtLoggingLevel s) {
  switch (s) {
    case ORT_LOGGING_LEVEL_VERBOSE: return KAT_LOG_VERBOSE;
    case ORT_LOGGING_LEVEL_INFO: return KAT_LOG_DEBUG;
    case ORT_LOGGING_LEVEL_WARNING: return KAT_LOG_WARN;
    default: return KAT_LOG_ERROR;
  }
}

/* Parses " ... placed on [CPUExecutionProvider]. Number of nodes: 3". */
static void capture_line(kat__ort_capture *cap, const char *msg) {
  const char *p = strstr(msg, "placed on [");
  if (!p || cap->count >= 8) return;
  p += strlen("placed on [");
  const char *e = strchr(p, ']');
  const char *n = strstr(msg, "Number of nodes: ");
  if (!e || !n) return;
  size_t len = (size_t)(e - p);
  if (len >= sizeof cap->ep[0]) len = sizeof cap->ep[0] - 1;
  memcpy(cap->ep[cap->count], p, len);
  cap->ep[cap->count][len] = '\0';
  cap->nodes[cap->count] = (int)strtol(n + strlen("Number of nodes: "), NULL, 10);
  cap->count++;
}

static void ORT_API_CALL ort_logger(void *param, OrtLoggingLevel severity, const char *category,
                                    const char *logid, const char *code_location,
                                    const char *message) {
  (void)param;
  (void)category;
  (void)logid;
  (void)code_location;
  if (tl_capture) capture_line(tl_capture, message);
  if (tl_tap && message) tl_tap(tl_tap_user, message);
  if (tl_quiet) return;
  /* Verbose session output requested for the capture is not forwarded unless asked for. */
  kat__log_raw(map_level(severity), "onnxruntime", message);
}

static void init_once(void) {
  const OrtApiBase *base = OrtGetApiBase();
  g_api = base ? base->GetApi(ORT_API_VERSION) : NULL;
  if (!g_api) {
    snprintf(g_init_error, sizeof g_init_error, "ONNX Runtime %s does not provide C API version %d",
             base ? base->GetVersionString() : "?", ORT_API_VERSION);
    return;
  }
  OrtStatus *st = g_api->CreateEnvWithCustomLogger(ort_logger, NULL, ORT_LOGGING_LEVEL_WARNING,
                                                   "katana", &g_env);
  if (st) {
    snprintf(g_init_error, sizeof g_init_error, "creating the ONNX Runtime environment: %s",
             g_api->GetErrorMessage(st));
    g_api->ReleaseStatus(st);
    g_env = NULL;
  }
}

int kat__ort_get(const OrtApi **api, OrtEnv **env, kat__errbuf *eb) {
  pthread_once(&g_once, init_once);
  if (!g_api || !g_env) return kat__fail(eb, KAT_ERUNTIME, "%s", g_init_error);
  if (api) *api = g_api;
  if (env) *env = g_env;
  return KAT_OK;
}

int kat__ort_check(OrtStatus *st, kat__errbuf *eb, int status_if_error, const char *what) {
  if (!st) return KAT_OK;
  /* ORT's messages may end in spaces or newlines: trim them. */
  const char *m = g_api->GetErrorMessage(st);
  size_t len = strlen(m);
  while (len > 0 && (m[len - 1] == '\n' || m[len - 1] == ' ' || m[len - 1] == '\r')) len--;
  int rc = kat__fail(eb, status_if_error ? status_if_error : KAT_ERUNTIME, "%s: %.*s", what,
                     (int)len, m);
  g_api->ReleaseStatus(st);
  return rc;
}

void kat__ort_capture_begin(kat__ort_capture *cap) {
  memset(cap, 0, sizeof *cap);
  tl_capture = cap;
}

void kat__ort_capture_end(void) {
  tl_capture = NULL;
}

void kat__ort_quiet(int on) {
  tl_quiet = on;
}

void kat__ort_tap(kat__ort_tap_fn fn, void *user) {
  tl_tap = fn;
  tl_tap_user = fn ? user : NULL;
}

int kat__ort_env_log_level(OrtLoggingLevel level, kat__errbuf *eb) {
  const OrtApi *api = NULL;
  OrtEnv *env = NULL;
  int rc = kat__ort_get(&api, &env, eb);
  if (rc) return rc;
  return kat__ort_check(api->UpdateEnvWithCustomLogLevel(env, level), eb, 0, "ORT log level");
}

const char *kat_ort_version(void) {
  const OrtApiBase *base = OrtGetApiBase();
  return base ? base->GetVersionString() : "unknown";
}

int kat_ort_providers(char *buf, size_t buf_size) {
  const OrtApi *api = NULL;
  if (!buf || buf_size == 0) return KAT_EINVAL;
  buf[0] = '\0';
  if (kat__ort_get(&api, NULL, NULL) != KAT_OK) return KAT_ERUNTIME;
  char **names = NULL;
  int n = 0;
  OrtStatus *st = api->GetAvailableProviders(&names, &n);
  if (st) {
    api->ReleaseStatus(st);
    return KAT_ERUNTIME;
  }
  size_t used = 0;
  for (int i = 0; i < n; i++) {
    int w = snprintf(buf + used, buf_size - used, "%s%s", i ? "," : "", names[i]);
    if (w < 0 || (size_t)w >= buf_size - used) break;
    used += (size_t)w;
  }
  st = api->ReleaseAvailableProviders(names, n);
  if (st) api->ReleaseStatus(st);
  return KAT_OK;
}
