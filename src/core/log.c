/*
 * Logging: one process-wide sink (a user callback or stderr) and a minimum level, shared by
 * katana and, through the runtime's custom logger, by ONNX Runtime. The sink is swapped under a
 * mutex so a callback can be changed while other threads log.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static kat_log_fn g_log_fn = NULL;
static void *g_log_user = NULL;
static kat_log_level g_log_min = KAT_LOG_WARN;

static const char *level_name(kat_log_level l) {
  switch (l) {
    case KAT_LOG_VERBOSE: return "verbose";
    case KAT_LOG_DEBUG: return "debug";
    case KAT_LOG_INFO: return "info";
    case KAT_LOG_WARN: return "warn";
    case KAT_LOG_ERROR: return "error";
    default: return "off";
  }
}

void kat_log_set(kat_log_fn fn, void *user, kat_log_level min_level) {
  pthread_mutex_lock(&g_log_mu);
  g_log_fn = fn;
  g_log_user = user;
  g_log_min = min_level;
  pthread_mutex_unlock(&g_log_mu);
}

kat_log_level kat_log_get_level(void) {
  pthread_mutex_lock(&g_log_mu);
  kat_log_level l = g_log_min;
  pthread_mutex_unlock(&g_log_mu);
  return l;
}

int kat_log_level_parse(const char *name) {
  static const char *names[] = {"verbose", "debug", "info", "warn", "error", "off"};
  if (!name) return -1;
  for (int i = 0; i < 6; i++)
    if (strcmp(name, names[i]) == 0) return i;
  return -1;
}

void kat__log_raw(kat_log_level level, const char *origin, const char *msg) {
  pthread_mutex_lock(&g_log_mu);
  kat_log_fn fn = g_log_fn;
  void *user = g_log_user;
  kat_log_level min = g_log_min;
  pthread_mutex_unlock(&g_log_mu);
  if (level < min || level >= KAT_LOG_OFF) return;
  if (fn) {
    fn(user, level, origin, msg);
  } else {
    fprintf(stderr, "[%s] %s: %s\n", origin, level_name(level), msg);
  }
}

void kat__vlog(kat_log_level level, const char *fmt, va_list ap) {
  if (level < kat_log_get_level()) return;
  char buf[2048];
  vsnprintf(buf, sizeof buf, fmt, ap);
  kat__log_raw(level, "katana", buf);
}

void kat__log(kat_log_level level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  kat__vlog(level, fmt, ap);
  va_end(ap);
}

int kat__fail(kat__errbuf *eb, int status, const char *fmt, ...) {
  char buf[KAT_ERRBUF_SIZE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (eb) kat__strlcpy(eb->msg, buf, sizeof eb->msg);
  kat__log(KAT_LOG_DEBUG, "%s: %s", kat_status_name(status), buf);
  return status;
}

void kat__errbuf_clear(kat__errbuf *eb) {
  if (eb) eb->msg[0] = '\0';
}

uint64_t kat__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double kat__now_ms(void) {
  return (double)kat__now_ns() / 1e6;
}
