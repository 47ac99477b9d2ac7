/*
 * katana onnx inspect: a static report on one model (no ONNX Runtime needed), and the pattern
 * findings that coverage reuses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/onnx/inspect.h"

bool kat__match_reshape_rank(const Onnx__GraphProto *g, size_t i, int *rank) {
  const Onnx__NodeProto *n = g->node[i];
  if (strcmp(n->op_type, "Reshape") != 0 || n->n_input < 2) return false;
  const Onnx__TensorProto *t = kat__onnx_const(g, n->input[1]);
  size_t count;
  if (t && kat__onnx_tensor_numel(t, &count) && count > 5) {
    *rank = (int)count;
    return true;
  }
  kat__onnx_shape s;
  if (n->n_output == 1 && kat__onnx_shape_of(g, n->output[0], &s) && s.rank > 5) {
    *rank = s.rank;
    return true;
  }
  return false;
}

bool kat__op_is_complex(const char *op) {
  static const char *const ops[] = {"DFT",  "STFT",  "MelWeightMatrix", "FFT",           "IFFT",
                                    "Rfft", "Irfft", "ComplexMul",      "ComplexMulConj"};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (strcmp(op, ops[i]) == 0) return true;
  return false;
}

static void print_shape(kat__sb *b, const kat__onnx_shape *s) {
  if (s->rank < 0) {
    kat__sb_printf(b, "[?]");
    return;
  }
  kat__sb_printf(b, "[");
  for (int d = 0; d < s->rank; d++) {
    if (d) kat__sb_printf(b, ",");
    if (s->dims[d] >= 0)
      kat__sb_printf(b, "%lld", (long long)s->dims[d]);
    else if (s->params[d])
      kat__sb_printf(b, "%s", s->params[d]);
    else
      kat__sb_printf(b, "?");
  }
  kat__sb_printf(b, "]");
}

void kat__onnx_patterns(const Onnx__GraphProto *g, int64_t opset, kat__sb *b, const char *indent) {
  int n_gather = 0, n_scatter = 0, n_reshape = 0, n_complex = 0;
  kat__onnx_shapes *sh = NULL;
  kat__errbuf eb = {{0}};
  if (kat__onnx_shapes_infer(g, opset, &sh, &eb) != KAT_OK) {
    b->oom = true; /* the only failure is out of memory */
    return;
  }
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    int64_t axis, index, dim;
    int rank;
    const char *name = n->name && *n->name ? n->name : n->n_output ? n->output[0] : "?";
    if (kat__match_gather_last(g, sh, i, &axis, &index, &dim)) {
      if (n_gather++ < 8)
        kat__sb_printf(b,
                       "%slast-axis Gather with scalar constant index %lld: %s (axis size %s%lld) "
                       "[fix: rewrite --pass gather-to-split]\n",
                       indent, (long long)index, name, dim < 0 ? "unknown " : "",
                       (long long)(dim < 0 ? 0 : dim));
    } else if (!strcmp(n->op_type, "ScatterND")) {
      if (n_scatter++ < 8)
        kat__sb_printf(b,
                       "%sScatterND: %s [fix: rewrite --pass scatternd-to-concat when it writes "
                       "a leading slice]\n",
                       indent, name);
    } else if (kat__match_reshape_rank(g, i, &rank)) {
      if (n_reshape++ < 8)
        kat__sb_printf(b,
                       "%sReshape to rank %d (> 5; CoreML and some TensorRT layers stop at 5): "
                       "%s\n",
                       indent, rank, name);
    } else if (kat__op_is_complex(n->op_type)) {
      if (n_complex++ < 8) kat__sb_printf(b, "%scomplex/FFT op %s: %s\n", indent, n->op_type, name);
    }
  }
  kat__sb_printf(b,
                 "%spatterns: %d last-axis Gather, %d ScatterND, %d Reshape above rank 5, %d "
                 "complex ops\n",
                 indent, n_gather, n_scatter, n_reshape, n_complex);
  kat__onnx_shapes_destroy(sh);
}

typedef struct op_count {
  const char *op;
  int n;
} op_count;

static int cmp_count(const void *a, const void *b) {
  const op_count *x = a, *y = b;
  if (x->n != y->n) return y->n - x->n;
  return strcmp(x->op, y->op);
}

static size_t tensor_bytes(const Onnx__TensorProto *t) {
  if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    for (size_t i = 0; i < t->n_external_data; i++)
      if (t->external_data[i]->key && !strcmp(t->external_data[i]->key, "length") &&
          t->external_data[i]->value)
        return (size_t)strtoull(t->external_data[i]->value, NULL, 10);
    size_t n;
    return kat__onnx_tensor_numel(t, &n) ? n * kat__onnx_elem_size(t->data_type) : 0;
  }
  if (t->has_raw_data) return t->raw_data.len;
  return t->n_float_data * 4 + t->n_int32_data * 4 + t->n_int64_data * 8 + t->n_double_data * 8 +
         t->n_uint64_data * 8;
}

int kat__onnx_inspect_text(const kat__onnx_model *m, kat__sb *b) {
  const Onnx__GraphProto *g = m->proto->graph;
  kat__sb_printf(b, "model: %s (%zu bytes)\n", m->path, m->size);
  kat__sb_printf(b, "producer: %s %s, ir_version %lld\n",
                 m->proto->producer_name ? m->proto->producer_name : "?",
                 m->proto->producer_version ? m->proto->producer_version : "",
                 (long long)m->proto->ir_version);
  kat__sb_printf(b, "opsets:");
  for (size_t i = 0; i < m->proto->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->proto->opset_import[i];
    kat__sb_printf(b, " %s=%lld", o->domain && *o->domain ? o->domain : "ai.onnx",
                   (long long)o->version);
  }
  kat__sb_printf(b, "\n");
  int dynamic = 0;
  for (int io = 0; io < 2; io++) {
    size_t n = io ? g->n_output : g->n_input;
    Onnx__ValueInfoProto **v = io ? g->output : g->input;
    kat__sb_printf(b, "%s:\n", io ? "outputs" : "inputs");
    for (size_t i = 0; i < n; i++) {
      if (!io && kat__onnx_const(g, v[i]->name)) continue; /* initializer listed as input */
      kat__onnx_shape s;
      kat__onnx_value_shape(v[i], &s);
      kat__sb_printf(b, "  %s %s ", v[i]->name, kat__onnx_elem_name(s.elem_type));
      print_shape(b, &s);
      kat__sb_printf(b, "\n");
      if (!io)
        for (int d = 0; d < s.rank; d++) dynamic += s.dims[d] < 0;
    }
  }
  kat__sb_printf(b, "nodes: %zu\n", g->n_node);
  op_count *hist = kat__calloc(g->n_node + 1, sizeof *hist);
  if (!hist) return KAT_ENOMEM;
  size_t n_ops = 0;
  for (size_t i = 0; i < g->n_node; i++) {
    size_t k = 0;
    while (k < n_ops && strcmp(hist[k].op, g->node[i]->op_type) != 0) k++;
    if (k == n_ops) hist[n_ops++].op = g->node[i]->op_type;
    hist[k].n++;
  }
  qsort(hist, n_ops, sizeof *hist, cmp_count);
  kat__sb_printf(b, "op histogram:");
  for (size_t k = 0; k < n_ops; k++)
    kat__sb_printf(b, "%s %s=%d", k % 6 == 0 ? "\n " : "", hist[k].op, hist[k].n);
  kat__sb_printf(b, "\n");
  kat__free(hist);
  size_t bytes = 0;
  for (size_t i = 0; i < g->n_initializer; i++) bytes += tensor_bytes(g->initializer[i]);
  kat__sb_printf(b, "initializers: %zu, %zu bytes (%.1f MiB)\n", g->n_initializer, bytes,
                 (double)bytes / (1024.0 * 1024.0));
  /* External data files, each once. */
  int n_ext = 0;
  for (size_t i = 0; i < g->n_initializer; i++) {
    const Onnx__TensorProto *t = g->initializer[i];
    if (!t->has_data_location || t->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
      continue;
    const char *loc = NULL;
    for (size_t k = 0; k < t->n_external_data; k++)
      if (t->external_data[k]->key && !strcmp(t->external_data[k]->key, "location"))
        loc = t->external_data[k]->value;
    if (!loc) continue;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) {
      const Onnx__TensorProto *u = g->initializer[j];
      for (size_t k = 0; k < u->n_external_data; k++)
        if (u->external_data[k]->key && !strcmp(u->external_data[k]->key, "location") &&
            u->external_data[k]->value && !strcmp(u->external_data[k]->value, loc))
          seen = true;
    }
    if (seen) continue;
    char path[KAT_ONNX_PATH_MAX];
    const char *slash = strrchr(m->path, '/');
    snprintf(path, sizeof path, "%.*s/%s", slash ? (int)(slash - m->path) : 1,
             slash ? m->path : ".", loc);
    struct stat st;
    bool exists = stat(path, &st) == 0;
    kat__sb_printf(b, "external data: %s (%s)\n", loc, exists ? "present" : "MISSING");
    n_ext++;
  }
  for (int i = 0; i < m->n_ext_files; i++, n_ext++)
    kat__sb_printf(b, "external data: %s (present, %d tensor(s) read in total)\n", m->ext_files[i],
                   m->n_external);
  if (!n_ext) kat__sb_printf(b, "external data: none\n");
  if (dynamic) {
    kat__sb_printf(b, "dynamic dims: %d on the inputs:", dynamic);
    for (size_t i = 0; i < g->n_input; i++) {
      if (kat__onnx_const(g, g->input[i]->name)) continue;
      kat__onnx_shape s;
      kat__onnx_value_shape(g->input[i], &s);
      for (int d = 0; d < s.rank; d++)
        if (s.dims[d] < 0)
          kat__sb_printf(b, " %s[%d]=%s", g->input[i]->name, d, s.params[d] ? s.params[d] : "?");
    }
    kat__sb_printf(b,
                   "\n  TensorRT needs an optimisation profile (min/opt/max) for each, CoreML "
                   "fixed or enumerated shapes [fix: rewrite --pass fixed-memory for "
                   "memory_attention's memory length]\n");
  } else
    kat__sb_printf(b, "dynamic dims: none (static shapes)\n");
  kat__onnx_patterns(g, kat__onnx_opset(m, ""), b, "");
  return b->oom ? KAT_ENOMEM : KAT_OK;
}
