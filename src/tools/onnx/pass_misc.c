/*
 * expose-multimask and fixed-memory passes.
 *
 * expose-multimask. Public SAM 2.1 decoder exports compute every mask token's mask and IoU, then
 * keep one (a Slice of candidates 1..3, or a Gather at the ArgMax of the IoUs). SAMURAI must see
 * all candidates to combine IoU with the Kalman-filter score. Heuristic, per float graph output:
 * walk up through selection and reshaping ops (Slice, Gather, GatherElements, GatherND, Squeeze,
 * Unsqueeze, Reshape, Identity) on the data input; if at least one selection was crossed, the
 * tensor that fed the furthest-up selection holds all candidates and is exposed as a new output
 * "<output>_all" (through an Identity). Tokens: a Slice of a rank-3 float tensor on axis 1 with
 * constant start 1 (the mask tokens follow the IoU token in the decoder's token sequence) whose
 * output is not already exposed becomes "mask_tokens_all". Nothing else changes, so the original
 * outputs are compared exactly.
 *
 * fixed-memory. memory_attention takes `memory`/`memory_pos` of a dynamic length M. The pass
 * replaces that symbolic dim by the fixed size N everywhere it is declared (inputs, outputs,
 * value_info), so a provider that needs static shapes can build one engine. The check runs the
 * dynamic graph with M = N against the fixed one. `num_obj_ptr_tokens` is a value, not a dim, and
 * stays an input.
 */
#include <stdio.h>
#include <string.h>

#include "tools/onnx/passes.h"

static bool is_selection(const char *op) {
  return !strcmp(op, "Slice") || !strcmp(op, "Gather") || !strcmp(op, "GatherElements") ||
         !strcmp(op, "GatherND");
}
static bool is_passthrough(const char *op) {
  return !strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze") || !strcmp(op, "Reshape") ||
         !strcmp(op, "Identity");
}

static int expose(Onnx__GraphProto *g, kat__pass_ctx *c, const char *tensor, const char *base,
                  int32_t elem) {
  char name[256];
  snprintf(name, sizeof name, "%s_all", base);
  if (kat__onnx_name_used(g, name)) kat__onnx_fresh_name(g, name, &c->names, name, sizeof name);
  kat__onnx_shape s;
  bool have = kat__onnx_shape_of(g, tensor, &s);
  const char *in[1] = {tensor}, *out[1] = {name};
  Onnx__NodeProto *id = kat__onnx_node_new("Identity", name, 1, in, 1, out);
  if (!id) return KAT_ENOMEM;
  int rc = kat__onnx_graph_insert(g, g->n_node, id);
  if (rc == KAT_OK) rc = kat__onnx_graph_add_output(g, name, elem, have ? &s : NULL);
  if (rc == KAT_OK)
    kat__sb_printf(c->log, "  expose-multimask: %s -> new output %s\n", tensor, name);
  return rc;
}

int kat__pass_expose_multimask(kat__onnx_model *m, kat__pass_ctx *c, int *changed,
                               kat__errbuf *eb) {
  Onnx__GraphProto *g = m->proto->graph;
  *changed = 0;
  kat__onnx_types *types = NULL;
  kat__onnx_shapes *shapes = NULL; /* declared + inferred: naive exports declare no ranks */
  int rc = kat__onnx_types_infer(g, &types, eb);
  if (rc) return rc;
  rc = kat__onnx_shapes_infer(g, kat__onnx_opset(m, ""), &shapes, eb);
  if (rc) {
    kat__onnx_types_destroy(types);
    return rc;
  }
  size_t n_out0 = g->n_output;
  for (size_t o = 0; o < n_out0 && rc == KAT_OK; o++) {
    const char *out_name = g->output[o]->name;
    int32_t elem = kat__onnx_types_get(types, out_name);
    if (elem != KAT_ONNX_FLOAT && elem != KAT_ONNX_FLOAT16) continue;
    const char *t = out_name, *cand = NULL;
    for (int steps = 0; steps < 16; steps++) {
      int p = kat__onnx_producer(g, t);
      if (p < 0 || g->node[p]->n_input == 0) break;
      const char *op = g->node[p]->op_type;
      if (is_selection(op))
        cand = g->node[p]->input[0];
      else if (!is_passthrough(op))
        break;
      t = g->node[p]->input[0];
    }
    if (!cand || kat__onnx_is_graph_output(g, cand)) continue;
    char base[200];
    kat__strlcpy(base, out_name, sizeof base);
    rc = expose(g, c, cand, base, elem);
    if (rc == KAT_OK) (*changed)++;
  }
  /* Mask tokens: Slice(axis 1, start 1) of a rank-3 float tensor. */
  for (size_t i = 0; i < g->n_node && rc == KAT_OK && *changed > 0; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (strcmp(n->op_type, "Slice") != 0 || n->n_input < 4 || n->n_output < 1) continue;
    kat__onnx_shape s;
    if (!kat__onnx_shapes_get(shapes, n->input[0], &s) || s.rank != 3) continue;
    if (kat__onnx_types_get(types, n->input[0]) != KAT_ONNX_FLOAT) continue;
    const Onnx__TensorProto *st = kat__onnx_const(g, n->input[1]);
    const Onnx__TensorProto *ax = kat__onnx_const(g, n->input[3]);
    int64_t sv = 0, av = 0;
    size_t cnt1 = 0, cnt2 = 0;
    if (!st || !ax || kat__onnx_tensor_ints(st, &sv, 1, &cnt1) ||
        kat__onnx_tensor_ints(ax, &av, 1, &cnt2) || cnt1 != 1 || cnt2 != 1 || sv != 1 ||
        (av != 1 && av != -2))
      continue;
    if (kat__onnx_is_graph_output(g, n->output[0])) continue;
    rc = expose(g, c, n->output[0], "mask_tokens", KAT_ONNX_FLOAT);
    if (rc == KAT_OK) (*changed)++;
    break;
  }
  kat__onnx_types_destroy(types);
  kat__onnx_shapes_destroy(shapes);
  if (rc) return kat__fail(eb, rc, "expose-multimask: out of memory");
  if (*changed == 0)
    kat__sb_printf(c->log,
                   "  expose-multimask: no selection of candidates found before an output\n");
  return KAT_OK;
}

/* Finds the dim to pin: the option's name, else axis 1 of input "memory", else the first
 * dim_param shared by two inputs. Returns a borrowed name or NULL. */
static const char *pick_dim(const Onnx__GraphProto *g, const char *want) {
  if (want) return want;
  kat__onnx_shape s;
  if (kat__onnx_shape_of(g, "memory", &s) && s.rank >= 2 && s.params[1]) return s.params[1];
  for (size_t i = 0; i < g->n_input; i++) {
    kat__onnx_value_shape(g->input[i], &s);
    for (int d = 0; d < s.rank; d++) {
      if (!s.params[d]) continue;
      for (size_t j = i + 1; j < g->n_input; j++) {
        kat__onnx_shape t;
        kat__onnx_value_shape(g->input[j], &t);
        for (int e = 0; e < t.rank; e++)
          if (t.params[e] && strcmp(t.params[e], s.params[d]) == 0) return s.params[d];
      }
    }
  }
  return NULL;
}

static int pin_list(Onnx__ValueInfoProto **v, size_t n, const char *param, int64_t value) {
  int pinned = 0;
  for (size_t i = 0; i < n; i++) {
    if (!v[i]->type || v[i]->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !v[i]->type->tensor_type || !v[i]->type->tensor_type->shape)
      continue;
    Onnx__TensorShapeProto *sp = v[i]->type->tensor_type->shape;
    for (size_t d = 0; d < sp->n_dim; d++) {
      Onnx__TensorShapeProto__Dimension *dim = sp->dim[d];
      if (dim->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM ||
          strcmp(dim->dim_param, param) != 0)
        continue;
      kat__free(dim->dim_param);
      dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      dim->dim_value = value;
      pinned++;
    }
  }
  return pinned;
}

int kat__pass_fixed_memory(kat__onnx_model *m, kat__pass_ctx *c, int *changed, kat__errbuf *eb) {
  Onnx__GraphProto *g = m->proto->graph;
  *changed = 0;
  int64_t n = c->opt->fixed_memory;
  if (n <= 0)
    return kat__fail(eb, KAT_EINVAL, "fixed-memory needs the memory length (--fixed-memory N)");
  const char *p = pick_dim(g, c->opt->fixed_memory_dim);
  if (!p) {
    kat__sb_printf(c->log, "  fixed-memory: no symbolic memory dim found on the inputs\n");
    return KAT_OK;
  }
  char param[128];
  kat__strlcpy(param, p, sizeof param); /* p is freed while pinning */
  kat__strlcpy(c->pinned_dim, param, sizeof c->pinned_dim);
  int k = pin_list(g->input, g->n_input, param, n);
  if (k == 0) {
    kat__sb_printf(c->log, "  fixed-memory: no input has the dim '%s'\n", param);
    return KAT_OK;
  }
  int o = pin_list(g->output, g->n_output, param, n);
  int v = pin_list(g->value_info, g->n_value_info, param, n);
  *changed = k + o + v;
  kat__sb_printf(c->log,
                 "  fixed-memory: '%s' = %lld on %d input dims, %d output dims, %d "
                 "value_info dims\n",
                 param, (long long)n, k, o, v);
  return KAT_OK;
}
