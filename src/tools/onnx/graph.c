/*
 * ONNX model reading, writing and editing over protobuf-c (see graph.h).
 *
 * Reading checks the wire format's nesting depth before protobuf-c unpacks it (protobuf-c recurses
 * once per nested message, so a hostile file could otherwise exhaust the stack), then checks the
 * few invariants the rest of src/tools/onnx relies on: a graph exists, every node has an op type,
 * and every name is a string. Anything else is left to ONNX Runtime.
 */
#include "tools/onnx/graph.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NESTING 64

static void *pb_alloc(void *user, size_t size) {
  (void)user;
  return kat__malloc(size ? size : 1);
}
static void pb_free(void *user, void *p) {
  (void)user;
  kat__free(p);
}
static ProtobufCAllocator g_pb_allocator = {pb_alloc, pb_free, NULL};

/* ---- wire-format depth check ---- */

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return false;
    uint8_t b = *(*p)++;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return true;
    }
  }
  return false;
}

/* True if the message bytes parse at the wire level and nest at most MAX_NESTING deep. */
static bool wire_ok(const uint8_t *p, const uint8_t *end, const ProtobufCMessageDescriptor *d,
                    int depth) {
  if (depth > MAX_NESTING) return false;
  while (p < end) {
    uint64_t key, len;
    if (!read_varint(&p, end, &key)) return false;
    uint32_t num = (uint32_t)(key >> 3);
    switch (key & 7) {
      case 0:
        if (!read_varint(&p, end, &len)) return false;
        break;
      case 1:
        if (end - p < 8) return false;
        p += 8;
        break;
      case 5:
        if (end - p < 4) return false;
        p += 4;
        break;
      case 2: {
        if (!read_varint(&p, end, &len) || len > (uint64_t)(end - p)) return false;
        const ProtobufCFieldDescriptor *f =
            d ? protobuf_c_message_descriptor_get_field(d, num) : NULL;
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
            !wire_ok(p, p + len, (const ProtobufCMessageDescriptor *)f->descriptor, depth + 1))
          return false;
        p += len;
        break;
      }
      default: return false; /* groups (3, 4) are not used by onnx.proto */
    }
  }
  return true;
}

/* ---- structural checks after unpacking ---- */

static bool value_infos_ok(size_t n, Onnx__ValueInfoProto **v) {
  for (size_t i = 0; i < n; i++)
    if (!v[i] || !v[i]->name) return false;
  return true;
}

static bool graph_ok(const Onnx__GraphProto *g, int depth) {
  if (!g || depth > 16) return false;
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (!n->op_type) return false;
    for (size_t j = 0; j < n->n_input; j++)
      if (!n->input[j]) return false;
    for (size_t j = 0; j < n->n_output; j++)
      if (!n->output[j]) return false;
    for (size_t j = 0; j < n->n_attribute; j++) {
      const Onnx__AttributeProto *a = n->attribute[j];
      if (!a->name) return false;
      if (a->g && !graph_ok(a->g, depth + 1)) return false;
      for (size_t k = 0; k < a->n_graphs; k++)
        if (!graph_ok(a->graphs[k], depth + 1)) return false;
    }
  }
  for (size_t i = 0; i < g->n_initializer; i++)
    if (!g->initializer[i]->name) return false;
  return value_infos_ok(g->n_input, g->input) && value_infos_ok(g->n_output, g->output) &&
         value_infos_ok(g->n_value_info, g->value_info);
}

/* ---- external data ---- */

static const char *ext_get(const Onnx__TensorProto *t, const char *key) {
  for (size_t i = 0; i < t->n_external_data; i++) {
    const Onnx__StringStringEntryProto *e = t->external_data[i];
    if (e->key && e->value && strcmp(e->key, key) == 0) return e->value;
  }
  return NULL;
}

static bool parse_u64(const char *s, uint64_t *v) {
  if (!s || !*s) return false;
  uint64_t r = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return false;
    if (r > (UINT64_MAX - 9) / 10) return false;
    r = r * 10 + (uint64_t)(*s - '0');
  }
  *v = r;
  return true;
}

/* Reads one external tensor's bytes into raw_data and marks it inline. */
static int resolve_external(kat__onnx_model *m, Onnx__TensorProto *t, kat__errbuf *eb) {
  const char *loc = ext_get(t, "location");
  uint64_t off = 0, len = 0;
  const char *soff = ext_get(t, "offset"), *slen = ext_get(t, "length");
  if (!loc || strstr(loc, "..") || loc[0] == '/' || (soff && !parse_u64(soff, &off)) ||
      (slen && !parse_u64(slen, &len)))
    return kat__fail(eb, KAT_EFORMAT, "%s: tensor '%s' has an invalid external_data entry", m->path,
                     t->name ? t->name : "");
  char file[KAT_ONNX_PATH_MAX];
  const char *slash = strrchr(m->path, '/');
  int dl = slash ? (int)(slash - m->path) : 1;
  int w = snprintf(file, sizeof file, "%.*s/%s", dl, slash ? m->path : ".", loc);
  if (w < 0 || (size_t)w >= sizeof file)
    return kat__fail(eb, KAT_EINVAL, "%s: external data path too long", m->path);
  FILE *f = fopen(file, "rb");
  if (!f)
    return kat__fail(eb, KAT_ENOENT, "%s: external data file %s of tensor '%s': %s", m->path, file,
                     t->name ? t->name : "", strerror(errno));
  int rc = KAT_OK;
  uint8_t *buf = NULL;
  if (!slen) {
    if (fseeko(f, 0, SEEK_END) != 0) goto io_fail;
    off_t end = ftello(f);
    if (end < 0 || (uint64_t)end < off) goto io_fail;
    len = (uint64_t)end - off;
  }
  if (len > SIZE_MAX - 1 || fseeko(f, (off_t)off, SEEK_SET) != 0) goto io_fail;
  buf = kat__malloc(len ? (size_t)len : 1);
  if (!buf) {
    rc = kat__fail(eb, KAT_ENOMEM, "%s: out of memory reading %s", m->path, file);
    goto done;
  }
  if (len && fread(buf, 1, (size_t)len, f) != (size_t)len) goto io_fail;
  if (t->has_raw_data) kat__free(t->raw_data.data);
  bool listed = false;
  for (int i = 0; i < m->n_ext_files; i++) listed = listed || strcmp(m->ext_files[i], loc) == 0;
  if (!listed && m->n_ext_files < 8)
    kat__strlcpy(m->ext_files[m->n_ext_files++], loc, sizeof m->ext_files[0]);
  t->raw_data.data = buf;
  t->raw_data.len = (size_t)len;
  t->has_raw_data = 1;
  buf = NULL;
  for (size_t i = 0; i < t->n_external_data; i++)
    protobuf_c_message_free_unpacked(&t->external_data[i]->base, &g_pb_allocator);
  kat__free(t->external_data);
  t->external_data = NULL;
  t->n_external_data = 0;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT;
  t->has_data_location = 0;
  goto done;
io_fail:
  rc = kat__fail(eb, KAT_EFORMAT, "%s: external data %s of tensor '%s' is truncated or unreadable",
                 m->path, file, t->name ? t->name : "");
done:
  kat__free(buf);
  fclose(f);
  return rc;
}

static int resolve_all_external(kat__onnx_model *m, kat__errbuf *eb) {
  Onnx__GraphProto *g = m->proto->graph;
  for (size_t i = 0; i < g->n_initializer; i++) {
    Onnx__TensorProto *t = g->initializer[i];
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
      m->n_external++;
      int rc = resolve_external(m, t, eb);
      if (rc) return rc;
    }
  }
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t j = 0; j < g->node[i]->n_attribute; j++) {
      Onnx__TensorProto *t = g->node[i]->attribute[j]->t;
      if (t && t->has_data_location &&
          t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        m->n_external++;
        int rc = resolve_external(m, t, eb);
        if (rc) return rc;
      }
    }
  return KAT_OK;
}

/* ---- load / save ---- */

static int parse_model(kat__onnx_model *m, kat__errbuf *eb) {
  if (m->size == 0) return kat__fail(eb, KAT_EFORMAT, "%s: empty file, not an ONNX model", m->path);
  if (!wire_ok(m->bytes, m->bytes + m->size, &onnx__model_proto__descriptor, 0))
    return kat__fail(eb, KAT_EFORMAT,
                     "%s: not an ONNX model (malformed or truncated protobuf, or nested too deep)",
                     m->path);
  m->proto = onnx__model_proto__unpack(&g_pb_allocator, m->size, m->bytes);
  if (!m->proto)
    return kat__fail(eb, KAT_EFORMAT, "%s: not an ONNX model (protobuf parse failed)", m->path);
  if (!m->proto->graph)
    return kat__fail(eb, KAT_EFORMAT, "%s: not an ONNX model (no graph)", m->path);
  if (!graph_ok(m->proto->graph, 0))
    return kat__fail(eb, KAT_EFORMAT, "%s: malformed ONNX graph (unnamed value or node)", m->path);
  return KAT_OK;
}

int kat__onnx_load_buffer(const void *data, size_t size, const char *label, kat__onnx_model **out,
                          kat__errbuf *eb) {
  *out = NULL;
  kat__onnx_model *m = kat__calloc(1, sizeof *m);
  if (!m) return kat__fail(eb, KAT_ENOMEM, "out of memory");
  kat__strlcpy(m->path, label ? label : "<memory>", sizeof m->path);
  m->bytes = kat__malloc(size ? size : 1);
  if (!m->bytes) {
    kat__free(m);
    return kat__fail(eb, KAT_ENOMEM, "out of memory");
  }
  if (size) memcpy(m->bytes, data, size);
  m->size = size;
  int rc = parse_model(m, eb);
  if (rc) {
    kat__onnx_destroy(m);
    return rc;
  }
  *out = m;
  return KAT_OK;
}

int kat__onnx_load(const char *path, bool resolve_ext, kat__onnx_model **out, kat__errbuf *eb) {
  *out = NULL;
  int rc = KAT_OK;
  kat__onnx_model *m = NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return kat__fail(eb, errno == ENOENT ? KAT_ENOENT : KAT_EIO, "%s: %s", path, strerror(errno));
  m = kat__calloc(1, sizeof *m);
  if (!m) {
    rc = kat__fail(eb, KAT_ENOMEM, "out of memory");
    goto fail;
  }
  if (kat__strlcpy(m->path, path, sizeof m->path) >= sizeof m->path) {
    rc = kat__fail(eb, KAT_EINVAL, "path too long: %s", path);
    goto fail;
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    rc = kat__fail(eb, KAT_EIO, "%s: not a regular file", path);
    goto fail;
  }
  m->size = (size_t)st.st_size;
  m->bytes = kat__malloc(m->size ? m->size : 1);
  if (!m->bytes) {
    rc = kat__fail(eb, KAT_ENOMEM, "%s: out of memory (%zu bytes)", path, m->size);
    goto fail;
  }
  if (m->size && fread(m->bytes, 1, m->size, f) != m->size) {
    rc = kat__fail(eb, KAT_EIO, "%s: read failed", path);
    goto fail;
  }
  rc = parse_model(m, eb);
  if (rc) goto fail;
  if (resolve_ext) {
    rc = resolve_all_external(m, eb);
    if (rc) goto fail;
  }
  fclose(f);
  *out = m;
  return KAT_OK;
fail:
  fclose(f);
  kat__onnx_destroy(m);
  return rc;
}

void kat__onnx_destroy(kat__onnx_model *m) {
  if (!m) return;
  if (m->proto) protobuf_c_message_free_unpacked(&m->proto->base, &g_pb_allocator);
  kat__free(m->bytes);
  kat__free(m);
}

int kat__onnx_serialize(const kat__onnx_model *m, uint8_t **buf, size_t *size, kat__errbuf *eb) {
  *buf = NULL;
  *size = 0;
  size_t n = protobuf_c_message_get_packed_size(&m->proto->base);
  if (n >= ((size_t)1 << 31))
    return kat__fail(eb, KAT_ENOTSUP,
                     "%s: the rewritten model is %zu bytes, over protobuf's 2 GB limit for inline "
                     "data",
                     m->path, n);
  uint8_t *b = kat__malloc(n ? n : 1);
  if (!b) return kat__fail(eb, KAT_ENOMEM, "out of memory (%zu bytes)", n);
  size_t w = protobuf_c_message_pack(&m->proto->base, b);
  if (w != n) {
    kat__free(b);
    return kat__fail(eb, KAT_EINTERNAL, "protobuf pack wrote %zu of %zu bytes", w, n);
  }
  *buf = b;
  *size = n;
  return KAT_OK;
}

int kat__onnx_write_file(const char *path, const void *data, size_t size, kat__errbuf *eb) {
  char tmp[KAT_ONNX_PATH_MAX];
  int w = snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
  if (w < 0 || (size_t)w >= sizeof tmp) return kat__fail(eb, KAT_EINVAL, "path too long: %s", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return kat__fail(eb, KAT_EIO, "%s: %s", tmp, strerror(errno));
  bool ok = (size == 0 || fwrite(data, 1, size, f) == size);
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    int e = errno;
    remove(tmp);
    return kat__fail(eb, KAT_EIO, "%s: write failed: %s", path, strerror(e));
  }
  return KAT_OK;
}

int64_t kat__onnx_opset(const kat__onnx_model *m, const char *domain) {
  bool want_default = !domain || !*domain || strcmp(domain, "ai.onnx") == 0;
  for (size_t i = 0; i < m->proto->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->proto->opset_import[i];
    const char *d = o->domain ? o->domain : "";
    bool is_default = !*d || strcmp(d, "ai.onnx") == 0;
    if (want_default ? is_default : strcmp(d, domain) == 0) return o->version;
  }
  return 0;
}

/* ---- lookups ---- */

const Onnx__AttributeProto *kat__onnx_attr(const Onnx__NodeProto *node, const char *name) {
  for (size_t i = 0; i < node->n_attribute; i++)
    if (strcmp(node->attribute[i]->name, name) == 0) return node->attribute[i];
  return NULL;
}

int64_t kat__onnx_attr_int(const Onnx__NodeProto *node, const char *name, int64_t def) {
  const Onnx__AttributeProto *a = kat__onnx_attr(node, name);
  return a && a->has_i ? a->i : def;
}

int kat__onnx_producer(const Onnx__GraphProto *g, const char *name) {
  if (!*name) return -1;
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t j = 0; j < g->node[i]->n_output; j++)
      if (strcmp(g->node[i]->output[j], name) == 0) return (int)i;
  return -1;
}

int kat__onnx_consumers(const Onnx__GraphProto *g, const char *name) {
  int c = 0;
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t j = 0; j < g->node[i]->n_input; j++)
      if (strcmp(g->node[i]->input[j], name) == 0) c++;
  return c;
}

bool kat__onnx_is_graph_output(const Onnx__GraphProto *g, const char *name) {
  for (size_t i = 0; i < g->n_output; i++)
    if (strcmp(g->output[i]->name, name) == 0) return true;
  return false;
}

bool kat__onnx_is_graph_input(const Onnx__GraphProto *g, const char *name) {
  for (size_t i = 0; i < g->n_input; i++)
    if (strcmp(g->input[i]->name, name) == 0) return true;
  return false;
}

const Onnx__TensorProto *kat__onnx_const(const Onnx__GraphProto *g, const char *name) {
  if (!*name) return NULL;
  for (size_t i = 0; i < g->n_initializer; i++)
    if (strcmp(g->initializer[i]->name, name) == 0) return g->initializer[i];
  int p = kat__onnx_producer(g, name);
  if (p < 0 || strcmp(g->node[p]->op_type, "Constant") != 0) return NULL;
  const Onnx__AttributeProto *a = kat__onnx_attr(g->node[p], "value");
  return a ? a->t : NULL;
}

bool kat__onnx_tensor_numel(const Onnx__TensorProto *t, size_t *n) {
  size_t r = 1;
  for (size_t i = 0; i < t->n_dims; i++) {
    if (t->dims[i] < 0 || !kat__size_mul(r, (size_t)t->dims[i], &r)) return false;
  }
  *n = r;
  return true;
}

int kat__onnx_tensor_ints(const Onnx__TensorProto *t, int64_t *out, size_t max, size_t *n) {
  size_t count;
  *n = 0;
  if (!kat__onnx_tensor_numel(t, &count) || count > max) return KAT_EFORMAT;
  int32_t dt = t->has_data_type ? t->data_type : 0;
  if (dt != KAT_ONNX_INT64 && dt != KAT_ONNX_INT32) return KAT_EFORMAT;
  size_t es = dt == KAT_ONNX_INT64 ? 8 : 4;
  if (t->has_raw_data && t->raw_data.len) {
    if (t->raw_data.len != count * es) return KAT_EFORMAT;
    for (size_t i = 0; i < count; i++) {
      if (es == 8) {
        int64_t v;
        memcpy(&v, t->raw_data.data + i * 8, 8);
        out[i] = v;
      } else {
        int32_t v;
        memcpy(&v, t->raw_data.data + i * 4, 4);
        out[i] = v;
      }
    }
  } else if (dt == KAT_ONNX_INT64) {
    if (t->n_int64_data != count) return KAT_EFORMAT;
    memcpy(out, t->int64_data, count * sizeof *out);
  } else {
    if (t->n_int32_data != count) return KAT_EFORMAT;
    for (size_t i = 0; i < count; i++) out[i] = t->int32_data[i];
  }
  *n = count;
  return KAT_OK;
}

void kat__onnx_value_shape(const Onnx__ValueInfoProto *v, kat__onnx_shape *s) {
  memset(s, 0, sizeof *s);
  s->rank = -1;
  if (!v->type || v->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
      !v->type->tensor_type)
    return;
  const Onnx__TypeProto__Tensor *tt = v->type->tensor_type;
  s->elem_type = tt->has_elem_type ? tt->elem_type : 0;
  if (!tt->shape || tt->shape->n_dim > KAT_ONNX_MAX_RANK) return;
  s->rank = (int)tt->shape->n_dim;
  for (int i = 0; i < s->rank; i++) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
    s->dims[i] = -1;
    if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value >= 0)
      s->dims[i] = d->dim_value;
    else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
      s->params[i] = d->dim_param;
  }
}

bool kat__onnx_shape_of(const Onnx__GraphProto *g, const char *name, kat__onnx_shape *s) {
  Onnx__ValueInfoProto **lists[3] = {g->input, g->output, g->value_info};
  size_t counts[3] = {g->n_input, g->n_output, g->n_value_info};
  for (int l = 0; l < 3; l++)
    for (size_t i = 0; i < counts[l]; i++)
      if (strcmp(lists[l][i]->name, name) == 0) {
        kat__onnx_value_shape(lists[l][i], s);
        return true;
      }
  for (size_t i = 0; i < g->n_initializer; i++) {
    const Onnx__TensorProto *t = g->initializer[i];
    if (strcmp(t->name, name) == 0 && t->n_dims <= KAT_ONNX_MAX_RANK) {
      memset(s, 0, sizeof *s);
      s->rank = (int)t->n_dims;
      for (size_t d = 0; d < t->n_dims; d++) s->dims[d] = t->dims[d];
      s->elem_type = t->data_type;
      return true;
    }
  }
  return false;
}

bool kat__onnx_name_used(const Onnx__GraphProto *g, const char *name) {
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    for (size_t j = 0; j < n->n_output; j++)
      if (strcmp(n->output[j], name) == 0) return true;
    for (size_t j = 0; j < n->n_input; j++)
      if (strcmp(n->input[j], name) == 0) return true;
    if (n->name && strcmp(n->name, name) == 0) return true;
  }
  for (size_t i = 0; i < g->n_initializer; i++)
    if (strcmp(g->initializer[i]->name, name) == 0) return true;
  return kat__onnx_is_graph_input(g, name) || kat__onnx_is_graph_output(g, name);
}

void kat__onnx_fresh_name(const Onnx__GraphProto *g, const char *base, unsigned *counter, char *out,
                          size_t out_size) {
  for (;;) {
    snprintf(out, out_size, "%s__kat%u", base, (*counter)++);
    if (!kat__onnx_name_used(g, out)) return;
  }
}

size_t kat__onnx_count_op(const Onnx__GraphProto *g, const char *op_type) {
  size_t c = 0;
  for (size_t i = 0; i < g->n_node; i++)
    if (strcmp(g->node[i]->op_type, op_type) == 0) c++;
  return c;
}

/* ---- edits ---- */

int kat__onnx_set_str(char **slot, const char *value) {
  char *s = kat__strdup(value);
  if (!s) return KAT_ENOMEM;
  kat__free(*slot);
  *slot = s;
  return KAT_OK;
}

static char **dup_strs(size_t n, const char *const *s) {
  char **r = kat__calloc(n ? n : 1, sizeof *r);
  if (!r) return NULL;
  for (size_t i = 0; i < n; i++) {
    r[i] = kat__strdup(s[i]);
    if (!r[i]) {
      for (size_t j = 0; j < i; j++) kat__free(r[j]);
      kat__free(r);
      return NULL;
    }
  }
  return r;
}

Onnx__NodeProto *kat__onnx_node_new(const char *op_type, const char *name, size_t n_in,
                                    const char *const *in, size_t n_out, const char *const *out) {
  Onnx__NodeProto *n = kat__calloc(1, sizeof *n);
  if (!n) return NULL;
  onnx__node_proto__init(n);
  n->op_type = kat__strdup(op_type);
  n->name = kat__strdup(name ? name : "");
  n->input = dup_strs(n_in, in);
  n->n_input = n->input ? n_in : 0;
  n->output = dup_strs(n_out, out);
  n->n_output = n->output ? n_out : 0;
  if (!n->op_type || !n->name || !n->input || !n->output) {
    protobuf_c_message_free_unpacked(&n->base, &g_pb_allocator);
    return NULL;
  }
  return n;
}

static Onnx__AttributeProto *node_new_attr(Onnx__NodeProto *n, const char *name) {
  Onnx__AttributeProto *a = kat__calloc(1, sizeof *a);
  if (!a) return NULL;
  onnx__attribute_proto__init(a);
  a->name = kat__strdup(name);
  Onnx__AttributeProto **arr = kat__realloc(n->attribute, (n->n_attribute + 1) * sizeof *arr);
  if (!a->name || !arr) {
    if (arr) n->attribute = arr;
    protobuf_c_message_free_unpacked(&a->base, &g_pb_allocator);
    return NULL;
  }
  n->attribute = arr;
  n->attribute[n->n_attribute++] = a;
  return a;
}

int kat__onnx_node_set_int(Onnx__NodeProto *n, const char *name, int64_t v) {
  Onnx__AttributeProto *a = node_new_attr(n, name);
  if (!a) return KAT_ENOMEM;
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  a->has_i = 1;
  a->i = v;
  return KAT_OK;
}

int kat__onnx_node_set_ints(Onnx__NodeProto *n, const char *name, const int64_t *v, size_t count) {
  Onnx__AttributeProto *a = node_new_attr(n, name);
  if (!a) return KAT_ENOMEM;
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  a->ints = kat__malloc((count ? count : 1) * sizeof *v);
  if (!a->ints) return KAT_ENOMEM;
  if (count) memcpy(a->ints, v, count * sizeof *v);
  a->n_ints = count;
  return KAT_OK;
}

int kat__onnx_node_set_tensor(Onnx__NodeProto *n, const char *name, Onnx__TensorProto *t) {
  Onnx__AttributeProto *a = node_new_attr(n, name);
  if (!a) {
    protobuf_c_message_free_unpacked(&t->base, &g_pb_allocator);
    return KAT_ENOMEM;
  }
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
  a->t = t;
  return KAT_OK;
}

int kat__onnx_graph_insert(Onnx__GraphProto *g, size_t pos, Onnx__NodeProto *n) {
  Onnx__NodeProto **arr = kat__realloc(g->node, (g->n_node + 1) * sizeof *arr);
  if (!arr) {
    protobuf_c_message_free_unpacked(&n->base, &g_pb_allocator);
    return KAT_ENOMEM;
  }
  g->node = arr;
  if (pos > g->n_node) pos = g->n_node;
  memmove(arr + pos + 1, arr + pos, (g->n_node - pos) * sizeof *arr);
  arr[pos] = n;
  g->n_node++;
  return KAT_OK;
}

void kat__onnx_free_message(void *msg) {
  if (msg) protobuf_c_message_free_unpacked((ProtobufCMessage *)msg, &g_pb_allocator);
}

void kat__onnx_graph_replace(Onnx__GraphProto *g, size_t pos, Onnx__NodeProto *n) {
  protobuf_c_message_free_unpacked(&g->node[pos]->base, &g_pb_allocator);
  g->node[pos] = n;
}

void kat__onnx_graph_remove(Onnx__GraphProto *g, size_t pos) {
  if (pos >= g->n_node) return;
  protobuf_c_message_free_unpacked(&g->node[pos]->base, &g_pb_allocator);
  memmove(g->node + pos, g->node + pos + 1, (g->n_node - pos - 1) * sizeof *g->node);
  g->n_node--;
}

Onnx__TensorProto *kat__onnx_tensor_i64(const char *name, const int64_t *dims, size_t rank,
                                        const int64_t *values, size_t count) {
  Onnx__TensorProto *t = kat__calloc(1, sizeof *t);
  if (!t) return NULL;
  onnx__tensor_proto__init(t);
  t->name = kat__strdup(name ? name : "");
  t->dims = kat__malloc((rank ? rank : 1) * sizeof *dims);
  t->raw_data.data = kat__malloc(count ? count * 8 : 1);
  if (!t->name || !t->dims || !t->raw_data.data) {
    protobuf_c_message_free_unpacked(&t->base, &g_pb_allocator);
    return NULL;
  }
  if (rank) memcpy(t->dims, dims, rank * sizeof *dims);
  t->n_dims = rank;
  t->has_data_type = 1;
  t->data_type = KAT_ONNX_INT64;
  if (count) memcpy(t->raw_data.data, values, count * 8);
  t->raw_data.len = count * 8;
  t->has_raw_data = 1;
  return t;
}

int kat__onnx_graph_add_initializer(Onnx__GraphProto *g, Onnx__TensorProto *t) {
  Onnx__TensorProto **arr = kat__realloc(g->initializer, (g->n_initializer + 1) * sizeof *arr);
  if (!arr) {
    protobuf_c_message_free_unpacked(&t->base, &g_pb_allocator);
    return KAT_ENOMEM;
  }
  g->initializer = arr;
  arr[g->n_initializer++] = t;
  return KAT_OK;
}

int kat__onnx_graph_add_output(Onnx__GraphProto *g, const char *name, int32_t elem,
                               const kat__onnx_shape *shape) {
  Onnx__ValueInfoProto *v = kat__calloc(1, sizeof *v);
  Onnx__TypeProto *tp = kat__calloc(1, sizeof *tp);
  Onnx__TypeProto__Tensor *tt = kat__calloc(1, sizeof *tt);
  if (!v || !tp || !tt) goto oom;
  onnx__value_info_proto__init(v);
  onnx__type_proto__init(tp);
  onnx__type_proto__tensor__init(tt);
  v->type = tp;
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  tt = NULL;
  tp = NULL;
  v->type->tensor_type->has_elem_type = 1;
  v->type->tensor_type->elem_type = elem;
  v->name = kat__strdup(name);
  if (!v->name) goto oom;
  if (shape && shape->rank >= 0) {
    Onnx__TensorShapeProto *sp = kat__calloc(1, sizeof *sp);
    if (!sp) goto oom;
    onnx__tensor_shape_proto__init(sp);
    v->type->tensor_type->shape = sp;
    sp->dim = kat__calloc((size_t)shape->rank + 1, sizeof *sp->dim);
    if (!sp->dim) goto oom;
    for (int i = 0; i < shape->rank; i++) {
      Onnx__TensorShapeProto__Dimension *d = kat__calloc(1, sizeof *d);
      if (!d) goto oom;
      onnx__tensor_shape_proto__dimension__init(d);
      sp->dim[sp->n_dim++] = d;
      if (shape->dims[i] >= 0) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = shape->dims[i];
      } else if (shape->params[i]) {
        d->dim_param = kat__strdup(shape->params[i]);
        if (!d->dim_param) goto oom;
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      }
    }
  }
  Onnx__ValueInfoProto **arr = kat__realloc(g->output, (g->n_output + 1) * sizeof *arr);
  if (!arr) goto oom;
  g->output = arr;
  arr[g->n_output++] = v;
  return KAT_OK;
oom:
  kat__free(tt);
  kat__free(tp);
  if (v) protobuf_c_message_free_unpacked(&v->base, &g_pb_allocator);
  return KAT_ENOMEM;
}

size_t kat__onnx_prune_dead(Onnx__GraphProto *g) {
  size_t removed = 0;
  bool again = true;
  while (again) {
    again = false;
    /* One sweep: the set of consumed names (node inputs and graph outputs), then every node
     * none of whose outputs is in it goes. Keys are borrowed from the graph and the set is
     * dropped before anything is freed. */
    kat__onnx_types *used = NULL;
    if (kat__onnx_map_create(g, &used) != KAT_OK) return removed;
    bool *dead = kat__calloc(g->n_node + 1, sizeof *dead);
    if (!dead) {
      kat__onnx_types_destroy(used);
      return removed;
    }
    for (size_t i = 0; i < g->n_node; i++)
      for (size_t j = 0; j < g->node[i]->n_input; j++)
        kat__onnx_map_set(used, g->node[i]->input[j], 1);
    for (size_t i = 0; i < g->n_output; i++) kat__onnx_map_set(used, g->output[i]->name, 1);
    for (size_t i = 0; i < g->n_node; i++) {
      const Onnx__NodeProto *n = g->node[i];
      bool live = false;
      for (size_t j = 0; j < n->n_output && !live; j++)
        live = *n->output[j] && kat__onnx_types_get(used, n->output[j]) != 0;
      dead[i] = !live;
    }
    kat__onnx_types_destroy(used);
    for (size_t i = g->n_node; i-- > 0;)
      if (dead[i]) {
        kat__onnx_graph_remove(g, i);
        removed++;
        again = true;
      }
    kat__free(dead);
  }
  return removed;
}

size_t kat__onnx_prune_initializers(Onnx__GraphProto *g) {
  size_t removed = 0;
  for (size_t i = g->n_initializer; i-- > 0;) {
    const char *name = g->initializer[i]->name;
    if (kat__onnx_consumers(g, name) > 0 || kat__onnx_is_graph_output(g, name) ||
        kat__onnx_is_graph_input(g, name))
      continue;
    protobuf_c_message_free_unpacked(&g->initializer[i]->base, &g_pb_allocator);
    memmove(g->initializer + i, g->initializer + i + 1,
            (g->n_initializer - i - 1) * sizeof *g->initializer);
    g->n_initializer--;
    removed++;
  }
  return removed;
}

/* ---- element types ---- */

typedef struct type_slot {
  const char *key; /* borrowed from the graph */
  int32_t elem;
} type_slot;

struct kat__onnx_types {
  type_slot *slots;
  size_t cap;  /* power of two */
  size_t used; /* kept below cap / 2 so probing always ends */
};

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

static type_slot *types_find(const kat__onnx_types *t, const char *key) {
  size_t i = (size_t)hash_str(key) & (t->cap - 1);
  for (;;) {
    type_slot *s = &t->slots[i];
    if (!s->key || strcmp(s->key, key) == 0) return s;
    i = (i + 1) & (t->cap - 1);
  }
}

static void types_set(kat__onnx_types *t, const char *key, int32_t elem, bool override) {
  if (!*key || elem == 0) return;
  type_slot *s = types_find(t, key);
  if (s->key && !override) return;
  if (!s->key) {
    if (2 * (t->used + 1) > t->cap) return; /* cannot happen with map_create's sizing */
    t->used++;
  }
  s->key = key;
  s->elem = elem;
}

int32_t kat__onnx_types_get(const kat__onnx_types *t, const char *name) {
  const type_slot *s = types_find(t, name);
  return s->key ? s->elem : 0;
}

void kat__onnx_types_destroy(kat__onnx_types *t) {
  if (!t) return;
  kat__free(t->slots);
  kat__free(t);
}

static int32_t attr_tensor_type(const Onnx__NodeProto *n, const char *name, int32_t def) {
  const Onnx__AttributeProto *a = kat__onnx_attr(n, name);
  return a && a->t && a->t->has_data_type ? a->t->data_type : def;
}

/* Output element type of node output `o` from its inputs' types (0 when it cannot tell). */
static int32_t infer_output(const kat__onnx_types *t, const Onnx__NodeProto *n, size_t o) {
  const char *op = n->op_type;
  int32_t in0 = n->n_input > 0 ? kat__onnx_types_get(t, n->input[0]) : 0;
  if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx") != 0) return in0;
  if (!strcmp(op, "Shape") || !strcmp(op, "Size") || !strcmp(op, "ArgMax") ||
      !strcmp(op, "ArgMin") || !strcmp(op, "NonZero") || !strcmp(op, "NonMaxSuppression"))
    return KAT_ONNX_INT64;
  if (!strcmp(op, "Cast")) return (int32_t)kat__onnx_attr_int(n, "to", 0);
  if (!strcmp(op, "CastLike")) return n->n_input > 1 ? kat__onnx_types_get(t, n->input[1]) : 0;
  if (!strcmp(op, "Equal") || !strcmp(op, "Less") || !strcmp(op, "Greater") ||
      !strcmp(op, "LessOrEqual") || !strcmp(op, "GreaterOrEqual") || !strcmp(op, "And") ||
      !strcmp(op, "Or") || !strcmp(op, "Xor") || !strcmp(op, "Not") || !strcmp(op, "IsNaN") ||
      !strcmp(op, "IsInf"))
    return KAT_ONNX_BOOL;
  if (!strcmp(op, "Constant")) {
    if (kat__onnx_attr(n, "value_float") || kat__onnx_attr(n, "value_floats"))
      return KAT_ONNX_FLOAT;
    if (kat__onnx_attr(n, "value_int") || kat__onnx_attr(n, "value_ints")) return KAT_ONNX_INT64;
    return attr_tensor_type(n, "value", 0);
  }
  if (!strcmp(op, "ConstantOfShape")) return attr_tensor_type(n, "value", KAT_ONNX_FLOAT);
  if (!strcmp(op, "Where")) return n->n_input > 1 ? kat__onnx_types_get(t, n->input[1]) : 0;
  if (!strcmp(op, "OneHot")) return n->n_input > 2 ? kat__onnx_types_get(t, n->input[2]) : 0;
  if (!strcmp(op, "TopK") || !strcmp(op, "Unique")) return o == 0 ? in0 : KAT_ONNX_INT64;
  if (!strcmp(op, "MaxPool") && o == 1) return KAT_ONNX_INT64;
  if (!strcmp(op, "RandomNormal") || !strcmp(op, "RandomUniform") || !strcmp(op, "EyeLike") ||
      !strcmp(op, "RandomNormalLike") || !strcmp(op, "RandomUniformLike"))
    return (int32_t)kat__onnx_attr_int(n, "dtype", in0 ? in0 : KAT_ONNX_FLOAT);
  if (!strcmp(op, "DequantizeLinear")) return KAT_ONNX_FLOAT;
  if (!strcmp(op, "QuantizeLinear"))
    return n->n_input > 2 ? kat__onnx_types_get(t, n->input[2]) : KAT_ONNX_UINT8;
  return in0; /* element-wise, movement and reduction ops keep their first input's type */
}

int kat__onnx_map_create(const Onnx__GraphProto *g, kat__onnx_types **out) {
  *out = NULL;
  size_t n = g->n_input + g->n_output + g->n_value_info + g->n_initializer;
  for (size_t i = 0; i < g->n_node; i++) n += g->node[i]->n_output + g->node[i]->n_input;
  size_t cap = 16;
  while (cap < 2 * n + 16) cap *= 2;
  kat__onnx_types *t = kat__calloc(1, sizeof *t);
  if (t) t->slots = kat__calloc(cap, sizeof *t->slots);
  if (!t || !t->slots) {
    kat__onnx_types_destroy(t);
    return KAT_ENOMEM;
  }
  t->cap = cap;
  *out = t;
  return KAT_OK;
}

void kat__onnx_map_set(kat__onnx_types *t, const char *key, int32_t value) {
  types_set(t, key, value, true);
}

int kat__onnx_types_infer(const Onnx__GraphProto *g, kat__onnx_types **out, kat__errbuf *eb) {
  *out = NULL;
  kat__onnx_types *t = NULL;
  if (kat__onnx_map_create(g, &t) != KAT_OK) return kat__fail(eb, KAT_ENOMEM, "out of memory");
  Onnx__ValueInfoProto **lists[3] = {g->input, g->output, g->value_info};
  size_t counts[3] = {g->n_input, g->n_output, g->n_value_info};
  for (int l = 0; l < 3; l++)
    for (size_t i = 0; i < counts[l]; i++) {
      kat__onnx_shape s;
      kat__onnx_value_shape(lists[l][i], &s);
      types_set(t, lists[l][i]->name, s.elem_type, true);
    }
  for (size_t i = 0; i < g->n_initializer; i++)
    types_set(t, g->initializer[i]->name, g->initializer[i]->data_type, true);
  /* Nodes are topologically sorted in valid models; a few sweeps cover those that are not. */
  for (int sweep = 0; sweep < 4; sweep++) {
    bool changed = false;
    for (size_t i = 0; i < g->n_node; i++) {
      const Onnx__NodeProto *nd = g->node[i];
      for (size_t o = 0; o < nd->n_output; o++) {
        if (!*nd->output[o] || kat__onnx_types_get(t, nd->output[o])) continue;
        int32_t e = infer_output(t, nd, o);
        if (e) {
          types_set(t, nd->output[o], e, false);
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  *out = t;
  return KAT_OK;
}

const char *kat__onnx_elem_name(int32_t elem) {
  switch (elem) {
    case KAT_ONNX_FLOAT: return "float32";
    case KAT_ONNX_UINT8: return "uint8";
    case KAT_ONNX_INT8: return "int8";
    case KAT_ONNX_INT32: return "int32";
    case KAT_ONNX_INT64: return "int64";
    case KAT_ONNX_STRING: return "string";
    case KAT_ONNX_BOOL: return "bool";
    case KAT_ONNX_FLOAT16: return "float16";
    case KAT_ONNX_DOUBLE: return "float64";
    case 4: return "uint16";
    case 5: return "int16";
    case 12: return "uint32";
    case 13: return "uint64";
    case 16: return "bfloat16";
    default: return "unknown";
  }
}

size_t kat__onnx_elem_size(int32_t elem) {
  switch (elem) {
    case KAT_ONNX_FLOAT:
    case KAT_ONNX_INT32:
    case 12: return 4;
    case KAT_ONNX_UINT8:
    case KAT_ONNX_INT8:
    case KAT_ONNX_BOOL: return 1;
    case KAT_ONNX_INT64:
    case KAT_ONNX_DOUBLE:
    case 13: return 8;
    case KAT_ONNX_FLOAT16:
    case 4:
    case 5:
    case 16: return 2;
    default: return 0;
  }
}
