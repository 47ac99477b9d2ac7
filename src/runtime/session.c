/*
 * ONNX Runtime session wrapper. One session per ONNX module. Inputs and outputs are OrtValues
 * created over caller-owned buffers and re-created only when a buffer or shape changes, so a
 * steady-state kat__session_run() makes no heap allocation in katana's code. Session creation
 * captures ORT's node-placement log to report which provider holds how many nodes, and refuses a
 * silent fallback to CPU unless the profile says KAT_EP_FALLBACK_WARN.
 */
#include "runtime/session.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/ep.h"
#include "runtime/ort.h"

typedef struct io_binding {
  OrtValue *value; /* owned; NULL when unbound (outputs: ORT allocates) */
  void *data;      /* borrowed caller buffer */
  int rank;
  int64_t shape[KAT_MAX_RANK];
} io_binding;

struct kat__session {
  const OrtApi *api;
  OrtSession *session;
  OrtMemoryInfo *mem;
  char label[64];
  int n_in, n_out;
  kat__tensor_spec in[KAT_MAX_IO], out[KAT_MAX_IO];
  const char *in_names[KAT_MAX_IO], *out_names[KAT_MAX_IO];
  io_binding bin[KAT_MAX_IO], bout[KAT_MAX_IO];
  OrtValue *run_out[KAT_MAX_IO]; /* what Run fills: bound values or ORT-allocated ones */
  kat__placement placement;
  double last_ms;
  OrtIoBinding *iob; /* owned; used when use_iob is set and every output is bound */
  int use_iob;
  int iob_dirty; /* a binding changed since the IoBinding was last filled */
  int is_view;   /* 1: `session` and `mem` are borrowed from the session the view was made of */
};

size_t kat__dtype_size(kat__dtype dt) {
  switch (dt) {
    case KAT_DT_F32:
    case KAT_DT_I32: return 4;
    case KAT_DT_U8:
    case KAT_DT_I8:
    case KAT_DT_BOOL: return 1;
    case KAT_DT_I64: return 8;
    case KAT_DT_F16: return 2;
    default: return 0;
  }
}

static const struct {
  kat__dtype dt;
  const char *name;
} k_dtypes[] = {{KAT_DT_F32, "float32"}, {KAT_DT_U8, "uint8"},  {KAT_DT_I8, "int8"},
                {KAT_DT_I32, "int32"},   {KAT_DT_I64, "int64"}, {KAT_DT_BOOL, "bool"},
                {KAT_DT_F16, "float16"}};

const char *kat__dtype_name(kat__dtype dt) {
  for (size_t i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
    if (k_dtypes[i].dt == dt) return k_dtypes[i].name;
  return "undefined";
}

kat__dtype kat__dtype_parse(const char *name) {
  if (!name) return KAT_DT_UNDEFINED;
  for (size_t i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
    if (strcmp(k_dtypes[i].name, name) == 0) return k_dtypes[i].dt;
  if (strcmp(name, "float") == 0) return KAT_DT_F32;
  return KAT_DT_UNDEFINED;
}

/* Bytes read for cache keys since the process started (kat__session_bytes_hashed). */
static atomic_ullong g_bytes_hashed;

uint64_t kat__session_bytes_hashed(void) {
  return atomic_load(&g_bytes_hashed);
}

static uint64_t hash_bytes(const void *p, size_t n) {
  const unsigned char *b = p;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  atomic_fetch_add(&g_bytes_hashed, (unsigned long long)n);
  return h;
}

/* 64-bit FNV-1a over a file's bytes (cache keys); 0 when unreadable. */
static uint64_t hash_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  uint64_t h = 1469598103934665603ull;
  unsigned char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    for (size_t i = 0; i < n; i++) h = (h ^ buf[i]) * 1099511628211ull;
    atomic_fetch_add(&g_bytes_hashed, (unsigned long long)n);
  }
  fclose(f);
  return h;
}

/*
 * Creates the cache folder `dir` and its missing parents. KAT_EIO naming the folder and the
 * reason when a part cannot be created or exists but is not a folder.
 */
static int make_cache_dir(const char *dir, const char *label, kat__errbuf *eb) {
  char buf[sizeof((kat_ep_config *)0)->cache_dir];
  if (!dir[0]) return kat__fail(eb, KAT_EINVAL, "%s: the cache folder is empty", label);
  if (strlen(dir) >= sizeof buf)
    return kat__fail(eb, KAT_EINVAL, "%s: the cache folder name is too long", label);
  kat__strlcpy(buf, dir, sizeof buf);
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char c = *p;
    *p = '\0';
    struct stat st;
    if (mkdir(buf, 0775) != 0) {
      int e = errno;
      if (e != EEXIST)
        return kat__fail(eb, KAT_EIO, "%s: cannot create cache folder '%s': %s", label, buf,
                         strerror(e));
      if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return kat__fail(eb, KAT_EIO, "%s: cache folder '%s': '%s' exists and is not a folder",
                         label, dir, buf);
    }
    *p = c;
    if (!c) break;
  }
  return KAT_OK;
}

/* Reads the declared name/dtype/shape of input or output `i`. */
static int read_spec(kat__session *s, int is_input, int i, kat__tensor_spec *spec,
                     kat__errbuf *eb) {
  const OrtApi *api = s->api;
  OrtAllocator *alloc = NULL;
  char *name = NULL;
  OrtTypeInfo *ti = NULL;
  const OrtTensorTypeAndShapeInfo *tsi = NULL;
  int rc = kat__ort_check(api->GetAllocatorWithDefaultOptions(&alloc), eb, 0, "allocator");
  if (rc) return rc;
  rc = kat__ort_check(is_input ? api->SessionGetInputName(s->session, (size_t)i, alloc, &name)
                               : api->SessionGetOutputName(s->session, (size_t)i, alloc, &name),
                      eb, 0, "tensor name");
  if (rc) goto done;
  memset(spec, 0, sizeof *spec);
  kat__strlcpy(spec->name, name, sizeof spec->name);
  rc = kat__ort_check(is_input ? api->SessionGetInputTypeInfo(s->session, (size_t)i, &ti)
                               : api->SessionGetOutputTypeInfo(s->session, (size_t)i, &ti),
                      eb, 0, "type info");
  if (rc) goto done;
  rc = kat__ort_check(api->CastTypeInfoToTensorInfo(ti, &tsi), eb, 0, "tensor info");
  if (rc) goto done;
  if (!tsi) {
    rc = kat__fail(eb, KAT_ECONTRACT, "%s: '%s' is not a tensor", s->label, spec->name);
    goto done;
  }
  ONNXTensorElementDataType et;
  size_t rank = 0;
  if ((rc = kat__ort_check(api->GetTensorElementType(tsi, &et), eb, 0, "element type"))) goto done;
  if ((rc = kat__ort_check(api->GetDimensionsCount(tsi, &rank), eb, 0, "rank"))) goto done;
  if (rank > KAT_MAX_RANK) {
    rc = kat__fail(eb, KAT_ECONTRACT, "%s: '%s' has rank %zu > %d", s->label, spec->name, rank,
                   KAT_MAX_RANK);
    goto done;
  }
  spec->dtype = (kat__dtype)et;
  spec->rank = (int)rank;
  rc = kat__ort_check(api->GetDimensions(tsi, spec->dims, rank), eb, 0, "dims");
  for (int d = 0; d < spec->rank; d++)
    if (spec->dims[d] < 0) spec->dims[d] = -1;
done:
  if (ti) api->ReleaseTypeInfo(ti);
  if (name && alloc) alloc->Free(alloc, name);
  return rc;
}

static int fill_io(kat__session *s, kat__errbuf *eb) {
  const OrtApi *api = s->api;
  size_t n_in = 0, n_out = 0;
  int rc = kat__ort_check(api->SessionGetInputCount(s->session, &n_in), eb, 0, "input count");
  if (!rc) rc = kat__ort_check(api->SessionGetOutputCount(s->session, &n_out), eb, 0, "outputs");
  if (rc) return rc;
  if (n_in > KAT_MAX_IO || n_out > KAT_MAX_IO)
    return kat__fail(eb, KAT_ECONTRACT, "%s: %zu inputs / %zu outputs exceed %d", s->label, n_in,
                     n_out, KAT_MAX_IO);
  s->n_in = (int)n_in;
  s->n_out = (int)n_out;
  for (int i = 0; i < s->n_in; i++) {
    if ((rc = read_spec(s, 1, i, &s->in[i], eb))) return rc;
    s->in_names[i] = s->in[i].name;
  }
  for (int i = 0; i < s->n_out; i++) {
    if ((rc = read_spec(s, 0, i, &s->out[i], eb))) return rc;
    s->out_names[i] = s->out[i].name;
  }
  return KAT_OK;
}

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Creates options for `ep`; on a provider error with fallback=warn, retries with CPU. */
static int make_options(const OrtApi *api, const kat_ep_config *ep, kat_ep_fallback fallback,
                        const char *label, const char *key, OrtSessionOptions **out, int *fell_back,
                        kat__errbuf *eb) {
  OrtSessionOptions *so = NULL;
  int rc = kat__ort_check(api->CreateSessionOptions(&so), eb, 0, "session options");
  if (rc) return rc;
  /* Verbose session log during creation: katana reads the node placements from it. */
  if ((rc = kat__ort_check(api->SetSessionLogSeverityLevel(so, ORT_LOGGING_LEVEL_VERBOSE), eb, 0,
                           "session log level")))
    goto fail;
  rc = kat__ep_apply(api, so, ep, label, key, eb);
  if (rc == KAT_EPROVIDER && fallback == KAT_EP_FALLBACK_WARN && ep->kind != KAT_EP_CPU) {
    kat__log(KAT_LOG_WARN, "%s: %s; falling back to CPU as asked (--ep-fallback=warn)", label,
             eb ? eb->msg : "provider unavailable");
    api->ReleaseSessionOptions(so);
    so = NULL;
    kat_ep_config cpu = *ep;
    cpu.kind = KAT_EP_CPU;
    *fell_back = 1;
    return make_options(api, &cpu, fallback, label, key, out, fell_back, eb);
  }
  if (rc) goto fail;
  *out = so;
  return KAT_OK;
fail:
  api->ReleaseSessionOptions(so);
  return rc;
}

int kat__session_create(const char *path, const void *model_data, size_t model_size,
                        const kat_ep_config *ep, kat_ep_fallback fallback, const char *label,
                        kat__session **out, kat__errbuf *eb) {
  return kat__session_create_keyed(path, model_data, model_size, NULL, ep, fallback, label, out,
                                   eb);
}

/* Whether the config writes or reads files in ep->cache_dir keyed by the model. */
static int uses_keyed_cache(const kat_ep_config *ep, const char *path) {
  return ep->kind == KAT_EP_TENSORRT || (ep->save_optimized && ep->kind == KAT_EP_CPU && path);
}

int kat__session_create_keyed(const char *path, const void *model_data, size_t model_size,
                              const char *model_sha256, const kat_ep_config *ep,
                              kat_ep_fallback fallback, const char *label, kat__session **out,
                              kat__errbuf *eb) {
  const OrtApi *api = NULL;
  OrtEnv *env = NULL;
  OrtSessionOptions *so = NULL;
  kat__session *s = NULL;
  int rc;
  if (!out || !ep || (!path && (!model_data || model_size == 0)))
    return kat__fail(eb, KAT_EINVAL, "session: no model given");
  *out = NULL;
  if ((rc = kat__ort_get(&api, &env, eb))) return rc;
  if (path && !file_exists(path))
    return kat__fail(eb, KAT_ENOENT, "%s: model file '%s' not found", label ? label : "model",
                     path);
  s = kat__calloc(1, sizeof *s);
  if (!s) return kat__fail(eb, KAT_ENOMEM, "session: out of memory");
  s->api = api;
  kat__strlcpy(s->label, label ? label : "model", sizeof s->label);

  /*
   * Cache key: model identity + options + ORT version, for engine and optimised-model files. It
   * is made only when a cache is used; the identity is the manifest's (verified) SHA-256 when the
   * caller has one, else a hash of the model's bytes.
   */
  char key[160] = "";
  const int keyed = uses_keyed_cache(ep, path);
  if (keyed) {
    char id[24];
    if (model_sha256 && strlen(model_sha256) >= 16)
      snprintf(id, sizeof id, "%.16s", model_sha256);
    else
      snprintf(id, sizeof id, "%016llx",
               (unsigned long long)(path ? hash_file(path) : hash_bytes(model_data, model_size)));
    snprintf(key, sizeof key, "%s-%s-%s-o%d-fp%d-ort%s", s->label, id, kat__ep_short_name(ep->kind),
             ep->graph_opt_level, ep->trt_fp16, kat_ort_version());
  }
  int fell_back = 0;
  if ((rc = make_options(api, ep, fallback, s->label, keyed ? key : NULL, &so, &fell_back, eb)))
    goto fail;
  /* The folder must exist before ORT writes to it; a provider that fell back to CPU writes none. */
  const int cpu_cache = ep->save_optimized && ep->kind == KAT_EP_CPU && path;
  const int ep_cache = !fell_back && (ep->kind == KAT_EP_TENSORRT || ep->kind == KAT_EP_COREML);
  if ((cpu_cache || ep_cache) && (rc = make_cache_dir(ep->cache_dir, s->label, eb))) goto fail;

  const char *load_path = path;
  char opt_path[768];
  if (cpu_cache) {
    snprintf(opt_path, sizeof opt_path, "%s/%s.opt.onnx", ep->cache_dir, key);
    if (file_exists(opt_path)) {
      load_path = opt_path; /* already optimised: skip the optimisers */
      rc = kat__ort_check(api->SetSessionGraphOptimizationLevel(so, ORT_DISABLE_ALL), eb, 0,
                          "graph optimisation level");
    } else {
      rc = kat__ort_check(api->SetOptimizedModelFilePath(so, opt_path), eb, 0,
                          "optimised model path");
    }
    if (rc) goto fail;
  }

  kat__ort_capture cap;
  kat__ort_capture_begin(&cap);
  OrtStatus *st = load_path
                      ? api->CreateSession(env, load_path, so, &s->session)
                      : api->CreateSessionFromArray(env, model_data, model_size, so, &s->session);
  kat__ort_capture_end();
  if (st) {
    char what[128];
    snprintf(what, sizeof what, "%s: cannot create session", s->label);
    rc = kat__ort_check(st, eb, KAT_ERUNTIME, what);
    goto fail;
  }

  s->placement.count = cap.count;
  s->placement.fell_back = fell_back;
  for (int i = 0; i < cap.count; i++) {
    kat__strlcpy(s->placement.ep[i], cap.ep[i], sizeof s->placement.ep[i]);
    s->placement.nodes[i] = cap.nodes[i];
    s->placement.total_nodes += cap.nodes[i];
  }
  if (ep->kind != KAT_EP_CPU && !fell_back) {
    int claimed = 0;
    for (int i = 0; i < cap.count; i++)
      if (strcmp(cap.ep[i], kat_ep_ort_name(ep->kind)) == 0) claimed = cap.nodes[i];
    if (claimed == 0 && cap.count > 0) {
      if (fallback == KAT_EP_FALLBACK_WARN) {
        kat__log(KAT_LOG_WARN, "%s: %s claims no node; everything runs on CPU", s->label,
                 kat_ep_ort_name(ep->kind));
        s->placement.fell_back = 1;
      } else {
        rc = kat__fail(eb, KAT_EPROVIDER, "%s: %s claims none of the %d nodes", s->label,
                       kat_ep_ort_name(ep->kind), s->placement.total_nodes);
        goto fail;
      }
    }
  }

  if ((rc = kat__ort_check(api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &s->mem),
                           eb, 0, "memory info")))
    goto fail;
  if ((rc = fill_io(s, eb))) goto fail;
  api->ReleaseSessionOptions(so);
  *out = s;
  return KAT_OK;
fail:
  if (so) api->ReleaseSessionOptions(so);
  kat__session_destroy(s);
  return rc;
}

void kat__session_destroy(kat__session *s) {
  if (!s) return;
  const OrtApi *api = s->api;
  for (int i = 0; i < KAT_MAX_IO; i++) {
    if (s->bin[i].value) api->ReleaseValue(s->bin[i].value);
    if (s->bout[i].value)
      api->ReleaseValue(s->bout[i].value);
    else if (s->run_out[i])
      api->ReleaseValue(s->run_out[i]);
  }
  if (s->iob) api->ReleaseIoBinding(s->iob);
  if (!s->is_view) {
    if (s->mem) api->ReleaseMemoryInfo(s->mem);
    if (s->session) api->ReleaseSession(s->session);
  }
  kat__free(s);
}

int kat__session_view_create(const kat__session *src, kat__session **out, kat__errbuf *eb) {
  if (!src || !out) return kat__fail(eb, KAT_EINVAL, "session: no session to view");
  *out = NULL;
  kat__session *s = kat__calloc(1, sizeof *s);
  if (!s) return kat__fail(eb, KAT_ENOMEM, "%s: out of memory", src->label);
  s->api = src->api;
  s->session = src->session;
  s->mem = src->mem;
  s->is_view = 1;
  memcpy(s->label, src->label, sizeof s->label);
  s->n_in = src->n_in;
  s->n_out = src->n_out;
  memcpy(s->in, src->in, sizeof s->in);
  memcpy(s->out, src->out, sizeof s->out);
  for (int i = 0; i < s->n_in; i++) s->in_names[i] = s->in[i].name;
  for (int i = 0; i < s->n_out; i++) s->out_names[i] = s->out[i].name;
  s->placement = src->placement;
  *out = s;
  return KAT_OK;
}

int kat__session_input_count(const kat__session *s) {
  return s->n_in;
}
int kat__session_output_count(const kat__session *s) {
  return s->n_out;
}
const kat__tensor_spec *kat__session_input(const kat__session *s, int i) {
  return (i >= 0 && i < s->n_in) ? &s->in[i] : NULL;
}
const kat__tensor_spec *kat__session_output(const kat__session *s, int i) {
  return (i >= 0 && i < s->n_out) ? &s->out[i] : NULL;
}

int kat__session_input_index(const kat__session *s, const char *name) {
  for (int i = 0; i < s->n_in; i++)
    if (strcmp(s->in[i].name, name) == 0) return i;
  return -1;
}

int kat__session_output_index(const kat__session *s, const char *name) {
  for (int i = 0; i < s->n_out; i++)
    if (strcmp(s->out[i].name, name) == 0) return i;
  return -1;
}

static void format_shape(const kat__tensor_spec *t, char *buf, size_t n) {
  size_t used = 0;
  used += (size_t)snprintf(buf, n, "[");
  for (int d = 0; d < t->rank && used < n; d++) {
    if (t->dims[d] < 0)
      used += (size_t)snprintf(buf + used, n - used, "%s?", d ? "," : "");
    else
      used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? "," : "", (long long)t->dims[d]);
  }
  if (used < n) snprintf(buf + used, n - used, "]");
}

static int check_list(const kat__session *s, const char *kind, const kat__tensor_spec *model,
                      int n_model, const kat__tensor_spec *want, int n_want, kat__errbuf *eb) {
  for (int w = 0; w < n_want; w++) {
    const kat__tensor_spec *m = NULL;
    for (int i = 0; i < n_model; i++)
      if (strcmp(model[i].name, want[w].name) == 0) m = &model[i];
    if (!m)
      return kat__fail(eb, KAT_ECONTRACT, "%s: the model has no %s tensor '%s'", s->label, kind,
                       want[w].name);
    if (m->dtype != want[w].dtype)
      return kat__fail(eb, KAT_ECONTRACT, "%s: %s tensor '%s' is %s, expected %s", s->label, kind,
                       want[w].name, kat__dtype_name(m->dtype), kat__dtype_name(want[w].dtype));
    char a[96], b[96];
    format_shape(m, a, sizeof a);
    format_shape(&want[w], b, sizeof b);
    if (m->rank != want[w].rank)
      return kat__fail(eb, KAT_ECONTRACT, "%s: %s tensor '%s' has rank %d %s, expected rank %d %s",
                       s->label, kind, want[w].name, m->rank, a, want[w].rank, b);
    for (int d = 0; d < m->rank; d++)
      if (m->dims[d] >= 0 && want[w].dims[d] >= 0 && m->dims[d] != want[w].dims[d])
        return kat__fail(eb, KAT_ECONTRACT, "%s: %s tensor '%s' has shape %s, expected %s",
                         s->label, kind, want[w].name, a, b);
  }
  return KAT_OK;
}

int kat__session_check(const kat__session *s, const kat__tensor_spec *inputs, int n_inputs,
                       const kat__tensor_spec *outputs, int n_outputs, kat__errbuf *eb) {
  int rc = check_list(s, "input", s->in, s->n_in, inputs, n_inputs, eb);
  if (!rc) rc = check_list(s, "output", s->out, s->n_out, outputs, n_outputs, eb);
  return rc;
}

static int bind(kat__session *s, io_binding *b, const kat__tensor_spec *spec, void *data,
                const int64_t *shape, int rank, kat__errbuf *eb) {
  if (!data || rank < 0 || rank > KAT_MAX_RANK)
    return kat__fail(eb, KAT_EINVAL, "%s: bad binding for '%s'", s->label, spec->name);
  if (rank != spec->rank)
    return kat__fail(eb, KAT_ECONTRACT, "%s: '%s' bound with rank %d, model has rank %d", s->label,
                     spec->name, rank, spec->rank);
  if (b->value && b->data == data && b->rank == rank &&
      memcmp(b->shape, shape, sizeof(int64_t) * (size_t)rank) == 0)
    return KAT_OK;
  size_t count = 1;
  for (int d = 0; d < rank; d++) {
    if (shape[d] < 0 || (spec->dims[d] >= 0 && shape[d] != spec->dims[d]))
      return kat__fail(eb, KAT_ECONTRACT, "%s: '%s' dim %d bound as %lld, model has %lld", s->label,
                       spec->name, d, (long long)shape[d], (long long)spec->dims[d]);
    if (!kat__size_mul(count, (size_t)shape[d], &count))
      return kat__fail(eb, KAT_ERANGE, "%s: '%s' is too large", s->label, spec->name);
  }
  size_t bytes;
  if (!kat__size_mul(count, kat__dtype_size(spec->dtype), &bytes))
    return kat__fail(eb, KAT_ERANGE, "%s: '%s' is too large", s->label, spec->name);
  if (b->value) {
    s->api->ReleaseValue(b->value);
    b->value = NULL;
  }
  int rc = kat__ort_check(
      s->api->CreateTensorWithDataAsOrtValue(s->mem, data, bytes, shape, (size_t)rank,
                                             (ONNXTensorElementDataType)spec->dtype, &b->value),
      eb, 0, "binding a tensor");
  if (rc) return rc;
  b->data = data;
  b->rank = rank;
  memcpy(b->shape, shape, sizeof(int64_t) * (size_t)rank);
  s->iob_dirty = 1;
  return KAT_OK;
}

int kat__session_set_iobinding(kat__session *s, int on, kat__errbuf *eb) {
  if (on && !s->iob) {
    int rc = kat__ort_check(s->api->CreateIoBinding(s->session, &s->iob), eb, 0, "IoBinding");
    if (rc) return rc;
  }
  s->use_iob = on;
  s->iob_dirty = 1;
  return KAT_OK;
}

/* Refills the IoBinding from the current bindings (only after a binding changed). */
static int refresh_iobinding(kat__session *s, kat__errbuf *eb) {
  const OrtApi *api = s->api;
  api->ClearBoundInputs(s->iob);
  api->ClearBoundOutputs(s->iob);
  int rc = KAT_OK;
  for (int i = 0; i < s->n_in && !rc; i++)
    rc = kat__ort_check(api->BindInput(s->iob, s->in[i].name, s->bin[i].value), eb, 0,
                        "IoBinding input");
  for (int i = 0; i < s->n_out && !rc; i++)
    rc = kat__ort_check(api->BindOutput(s->iob, s->out[i].name, s->bout[i].value), eb, 0,
                        "IoBinding output");
  if (!rc) s->iob_dirty = 0;
  return rc;
}

int kat__session_bind_input(kat__session *s, int i, void *data, const int64_t *shape, int rank,
                            kat__errbuf *eb) {
  if (i < 0 || i >= s->n_in) return kat__fail(eb, KAT_EINVAL, "%s: no input %d", s->label, i);
  return bind(s, &s->bin[i], &s->in[i], data, shape, rank, eb);
}

int kat__session_bind_output(kat__session *s, int i, void *data, const int64_t *shape, int rank,
                             kat__errbuf *eb) {
  if (i < 0 || i >= s->n_out) return kat__fail(eb, KAT_EINVAL, "%s: no output %d", s->label, i);
  if (!s->bout[i].value && s->run_out[i]) {
    s->api->ReleaseValue(s->run_out[i]);
    s->run_out[i] = NULL;
  }
  int rc = bind(s, &s->bout[i], &s->out[i], data, shape, rank, eb);
  if (!rc) s->run_out[i] = s->bout[i].value;
  return rc;
}

int kat__session_run(kat__session *s, kat__errbuf *eb) {
  const OrtValue *inputs[KAT_MAX_IO];
  for (int i = 0; i < s->n_in; i++) {
    if (!s->bin[i].value)
      return kat__fail(eb, KAT_ESTATE, "%s: input '%s' is not bound", s->label, s->in[i].name);
    inputs[i] = s->bin[i].value;
  }
  for (int i = 0; i < s->n_out; i++) {
    if (!s->bout[i].value && s->run_out[i]) {
      s->api->ReleaseValue(s->run_out[i]);
      s->run_out[i] = NULL;
    }
  }
  int all_out_bound = 1;
  for (int i = 0; i < s->n_out; i++) all_out_bound &= s->bout[i].value != NULL;
  if (s->use_iob && all_out_bound) {
    if (s->iob_dirty) {
      int rc = refresh_iobinding(s, eb);
      if (rc) return rc;
    }
    double t0 = kat__now_ms();
    OrtStatus *st = s->api->RunWithBinding(s->session, NULL, s->iob);
    s->last_ms = kat__now_ms() - t0;
    if (st) {
      char what[128];
      snprintf(what, sizeof what, "%s: run failed", s->label);
      return kat__ort_check(st, eb, KAT_ERUNTIME, what);
    }
    return KAT_OK;
  }
  double t0 = kat__now_ms();
  OrtStatus *st = s->api->Run(s->session, NULL, s->in_names, inputs, (size_t)s->n_in, s->out_names,
                              (size_t)s->n_out, s->run_out);
  s->last_ms = kat__now_ms() - t0;
  if (st) {
    char what[128];
    snprintf(what, sizeof what, "%s: run failed", s->label);
    return kat__ort_check(st, eb, KAT_ERUNTIME, what);
  }
  return KAT_OK;
}

const void *kat__session_output_data(const kat__session *s, int i, int64_t *shape, int *rank) {
  if (i < 0 || i >= s->n_out || !s->run_out[i]) return NULL;
  const OrtApi *api = s->api;
  if (s->bout[i].value) {
    if (rank) *rank = s->bout[i].rank;
    if (shape) memcpy(shape, s->bout[i].shape, sizeof(int64_t) * (size_t)s->bout[i].rank);
    return s->bout[i].data;
  }
  void *data = NULL;
  OrtStatus *st = api->GetTensorMutableData(s->run_out[i], &data);
  if (st) {
    api->ReleaseStatus(st);
    return NULL;
  }
  if (shape || rank) {
    OrtTensorTypeAndShapeInfo *info = NULL;
    st = api->GetTensorTypeAndShape(s->run_out[i], &info);
    if (st) {
      api->ReleaseStatus(st);
      return NULL;
    }
    size_t r = 0;
    st = api->GetDimensionsCount(info, &r);
    if (!st && r <= KAT_MAX_RANK) {
      if (rank) *rank = (int)r;
      if (shape) st = api->GetDimensions(info, shape, r);
    }
    if (st) api->ReleaseStatus(st);
    api->ReleaseTensorTypeAndShapeInfo(info);
  }
  return data;
}

const kat__placement *kat__session_placement(const kat__session *s) {
  return &s->placement;
}

double kat__session_last_run_ms(const kat__session *s) {
  return s->last_ms;
}
