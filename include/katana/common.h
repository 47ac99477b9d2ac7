/*
 * katana common definitions: the export macro, status codes, logging and allocator hooks.
 *
 * Stability (every public header includes this one): the API and ABI are unstable before 1.0;
 * each 0.x minor release has its own SONAME (libkatana.so.0.MINOR). See docs/abi.md.
 *
 * Thread-safety: every function here is safe to call from any thread, except
 * kat_set_allocator(), which must be called before any other katana function.
 */
#ifndef KATANA_COMMON_H
#define KATANA_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "katana/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(KAT_STATIC)
#define KAT_API
#elif defined(_WIN32)
#ifdef KAT_BUILDING_LIBRARY
#define KAT_API __declspec(dllexport)
#else
#define KAT_API __declspec(dllimport)
#endif
#else
#define KAT_API __attribute__((visibility("default")))
#endif

/*
 * Status codes. 0 is success; every failure is negative. XX(name, value, message).
 */
#define KAT_STATUS_MAP(XX)                                                     \
  XX(OK, 0, "success")                                                         \
  XX(EINVAL, -1, "invalid argument")                                           \
  XX(ENOMEM, -2, "out of memory")                                              \
  XX(EIO, -3, "input/output error")                                            \
  XX(ENOENT, -4, "no such file or directory")                                  \
  XX(EFORMAT, -5, "malformed or unsupported file format")                      \
  XX(EMODEL, -6, "model bundle is invalid or does not match its manifest")     \
  XX(ECONTRACT, -7, "tensor name, dtype or shape does not match the contract") \
  XX(ERUNTIME, -8, "ONNX Runtime error")                                       \
  XX(EPROVIDER, -9, "execution provider unavailable or claims no nodes")       \
  XX(EMEDIA, -10, "media decode or encode error")                              \
  XX(ESTATE, -11, "call not valid in the object's current state")              \
  XX(ECANCELED, -12, "operation canceled")                                     \
  XX(EOF, -13, "end of stream")                                                \
  XX(ERANGE, -14, "value out of range")                                        \
  XX(ENOTSUP, -15, "operation not supported")                                  \
  XX(ECHECK, -16, "numeric check failed")                                      \
  XX(EINTERNAL, -17, "internal error")                                         \
  XX(EAGAIN, -18, "not ready now, try again later")

typedef enum kat_status {
#define KAT__STATUS_ENUM(name, value, msg) KAT_##name = (value),
  KAT_STATUS_MAP(KAT__STATUS_ENUM)
#undef KAT__STATUS_ENUM
} kat_status;

/*
 * The size of every error-message buffer katana fills: a caller's `err`/`err_size` buffer of this
 * many bytes never truncates a message, and the per-handle messages (kat_tracker_last_error,
 * kat_stream_last_error) are at most KAT_ERROR_SIZE - 1 characters. docs/errors.md lists what each
 * status means and what to do about it.
 */
#define KAT_ERROR_SIZE 1024

/* Returns a static, human-readable message for a status code ("unknown status" if unknown). */
KAT_API const char *kat_strerror(int status);
/* Returns the static symbolic name of a status code, e.g. "KAT_EINVAL" ("KAT_UNKNOWN" if unknown).
 */
KAT_API const char *kat_status_name(int status);

/* Log levels, in increasing severity. */
typedef enum kat_log_level {
  KAT_LOG_VERBOSE = 0,
  KAT_LOG_DEBUG = 1,
  KAT_LOG_INFO = 2,
  KAT_LOG_WARN = 3,
  KAT_LOG_ERROR = 4,
  KAT_LOG_OFF = 5
} kat_log_level;

/*
 * Log callback. `origin` is "katana" or "onnxruntime"; `msg` is borrowed for the call only.
 * It may be called from any thread katana or ONNX Runtime runs on, so it must be thread-safe.
 */
typedef void (*kat_log_fn)(void *user, kat_log_level level, const char *origin, const char *msg);

/*
 * Routes katana's and ONNX Runtime's log to `fn` (NULL restores the default, which writes to
 * stderr) and drops messages below `min_level`. `user` is passed through and not owned.
 */
KAT_API void kat_log_set(kat_log_fn fn, void *user, kat_log_level min_level);
/* Returns the current minimum log level. */
KAT_API kat_log_level kat_log_get_level(void);
/* Returns the log level named "verbose", "debug", "info", "warn", "error" or "off", or -1. */
KAT_API int kat_log_level_parse(const char *name);

/*
 * Allocator hooks for every heap allocation katana's own code makes (ONNX Runtime and FFmpeg
 * allocate through their own allocators). The functions follow the C library's contracts.
 */
typedef struct kat_allocator {
  void *(*malloc_fn)(void *user, size_t size);
  void *(*realloc_fn)(void *user, void *ptr, size_t size);
  void (*free_fn)(void *user, void *ptr);
  void *user;
} kat_allocator;

/*
 * Installs allocator hooks (NULL restores the C library's). Not thread-safe: call it before any
 * other katana function, or while no katana object exists. The struct is copied.
 */
KAT_API void kat_set_allocator(const kat_allocator *alloc);

/* Returns katana's version string, e.g. "0.1.0". */
KAT_API const char *kat_version(void);

#ifdef __cplusplus
}
#endif
#endif /* KATANA_COMMON_H */
