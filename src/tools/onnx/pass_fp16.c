/*
 * fp16: stores float initializers and computes float tensors in FP16, keeping numerically
 * sensitive ops in FP32 with Casts at the boundaries. Graph inputs and outputs stay FP32.
 *
 * DESIGN. Every float value gets a precision, 16 or 32, and every node one too:
 *  1. Kept nodes run in FP32: the op types of the keep list (LayerNormalization, Softmax and the
 *     user's), ops whose ONNX or ORT kernels want FP32 arguments (Range, Resize, Upsample, TopK,
 *     CumSum, RoiAlign, NonMaxSuppression, Min, Max, random ops), every node of a decomposed
 *     LayerNorm (ReduceMean -> Sub -> Pow -> ReduceMean -> Add -> Sqrt -> Div), and the MatMul
 *     feeding a Softmax with the scaling/masking Mul/Div/Add between them.
 *  2. "Data" values are graph inputs, float initializers/constants of more than one element and
 *     everything computed from them; float values computed only from integers (Cast of a shape,
 *     ConstantOfShape) are shape arithmetic and stay FP32 so sizes above 2048 stay exact.
 *  3. Other nodes with a float data input run in FP16; the rest in FP32. Shape and Size accept
 *     either. A node's float outputs have its precision; an initializer or Constant takes FP16
 *     when every consumer runs in FP16.
 *  4. Where a consumer's precision differs from its input's, one shared Cast per (value,
 *     precision) is inserted before the first such consumer; FP16 graph outputs are renamed
 *     internally and Cast back to FP32 under their own name. Cast(to=FLOAT) in an FP16 node
 *     becomes Cast(to=FLOAT16). Graphs with subgraphs (If/Loop/Scan) are refused.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tools/onnx/passes.h"

enum { P32 = 32, P16 = 16, DATA_NO = 1, DATA_YES = 2 };

static const char *const k_default_keep[] = {"LayerNormalization", "Softmax"};
static const char *const k_always32[] = {"Range",
                                         "Resize",
                                         "Upsample",
                                         "TopK",
                                         "CumSum",
                                         "RoiAlign",
                                         "NonMaxSuppression",
                                         "Min",
                                         "Max",
                                         "RandomNormal",
                                         "RandomUniform",
                                         "RandomNormalLike",
                                         "RandomUniformLike",
                                         "Multinomial"};

static uint16_t f32_to_f16(float f) {
  if (isnan(f)) return 0x7e00;
  if (f > 65504.0f) f = 65504.0f;
  if (f < -65504.0f) f = -65504.0f;
  uint32_t x;
  memcpy(&x, &f, 4);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffff;
  if (exp <= 0) { /* subnormal or zero */
    if (exp < -10) return sign;
    mant |= 0x800000;
    uint32_t shift = (uint32_t)(14 - exp);
    uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((uint32_t)exp << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* may carry into the exponent: fine */
  return (uint16_t)(sign | h);
}

/* Converts a float tensor in place to FLOAT16 (raw_data). */
static int tensor_to_f16(Onnx__TensorProto *t) {
  size_t n;
  if (!kat__onnx_tensor_numel(t, &n) || n > SIZE_MAX / 4) return KAT_EFORMAT;
  const float *src = NULL;
  if (t->has_raw_data && t->raw_data.len) {
    if (t->raw_data.len != n * 4) return KAT_EFORMAT;
    src = (const float *)(const void *)t->raw_data.data;
  } else {
    if (t->n_float_data != n) return KAT_EFORMAT;
    src = t->float_data;
  }
  uint8_t *dst = kat__malloc(n ? n * 2 : 1);
  if (!dst) return KAT_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    float v;
    memcpy(&v, (const uint8_t *)src + i * 4, 4);
    uint16_t h = f32_to_f16(v);
    memcpy(dst + i * 2, &h, 2);
  }
  kat__free(t->raw_data.data);
  kat__free(t->float_data);
  t->float_data = NULL;
  t->n_float_data = 0;
  t->raw_data.data = dst;
  t->raw_data.len = n * 2;
  t->has_raw_data = 1;
  t->data_type = KAT_ONNX_FLOAT16;
  return KAT_OK;
}

static bool in_list(const char *op, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (list[i] && strcmp(op, list[i]) == 0) return true;
  return false;
}

static const Onnx__NodeProto *producer_node(const Onnx__GraphProto *g, const char *name, int *idx) {
  int p = kat__onnx_producer(g, name);
  if (idx) *idx = p;
  return p >= 0 ? g->node[p] : NULL;
}

/* True for a node of type `op` with at least one output and two inputs (the binary ops the
 * matchers below walk through), or one input for unary `Sqrt`/`ReduceMean`/`MatMul` checks. */
static bool op_is(const Onnx__NodeProto *n, const char *op) {
  size_t need = (!strcmp(op, "Sqrt") || !strcmp(op, "ReduceMean")) ? 1 : 2;
  return n && n->n_output >= 1 && n->n_input >= need && strcmp(n->op_type, op) == 0;
}

/* Marks the nodes of a decomposed LayerNorm ending in Div node `d`. */
static void mark_decomposed_ln(const Onnx__GraphProto *g, size_t d, bool *keep) {
  const Onnx__NodeProto *div = g->node[d];
  if (div->n_input != 2) return;
  int i_sqrt, i_add, i_rm2, i_pow, i_sub, i_rm1;
  const Onnx__NodeProto *sq = producer_node(g, div->input[1], &i_sqrt);
  if (!op_is(sq, "Sqrt")) return;
  const Onnx__NodeProto *add = producer_node(g, sq->input[0], &i_add);
  if (!op_is(add, "Add")) return;
  const Onnx__NodeProto *rm2 = producer_node(g, add->input[0], &i_rm2);
  if (!op_is(rm2, "ReduceMean")) rm2 = producer_node(g, add->input[1], &i_rm2);
  if (!op_is(rm2, "ReduceMean")) return;
  const Onnx__NodeProto *pw = producer_node(g, rm2->input[0], &i_pow);
  if (!op_is(pw, "Pow") && !op_is(pw, "Mul")) return;
  const Onnx__NodeProto *sub = producer_node(g, div->input[0], &i_sub);
  if (!op_is(sub, "Sub") || strcmp(pw->input[0], div->input[0]) != 0) return;
  const Onnx__NodeProto *rm1 = producer_node(g, sub->input[1], &i_rm1);
  if (!op_is(rm1, "ReduceMean")) return;
  keep[d] = keep[i_sqrt] = keep[i_add] = keep[i_rm2] = keep[i_pow] = keep[i_sub] = keep[i_rm1] =
      true;
}

/* Marks the MatMul feeding Softmax node `s` (through at most two Mul/Div/Add). */
static void mark_softmax_matmul(const Onnx__GraphProto *g, size_t s, bool *keep) {
  if (g->node[s]->n_input < 1) return;
  const char *t = g->node[s]->input[0];
  int chain[3], n = 0;
  for (int step = 0; step < 3; step++) {
    int idx;
    const Onnx__NodeProto *p = producer_node(g, t, &idx);
    if (!p) return;
    if (op_is(p, "MatMul")) {
      keep[idx] = true;
      for (int k = 0; k < n; k++) keep[chain[k]] = true;
      return;
    }
    if (!op_is(p, "Mul") && !op_is(p, "Div") && !op_is(p, "Add")) return;
    chain[n++] = idx;
    /* Follow the input that is not a constant. */
    t = kat__onnx_const(g, p->input[0]) && p->n_input > 1 ? p->input[1] : p->input[0];
  }
}

static bool is_float(const kat__onnx_types *ty, const char *name) {
  return *name && kat__onnx_types_get(ty, name) == KAT_ONNX_FLOAT;
}

typedef struct cast_entry {
  char *src; /* owned */
  int prec;
  char *name; /* owned */
  bool emitted;
} cast_entry;

/*
 * Long on purpose (about 300 lines): its numbered phases (1 kept nodes, 2 data values, 3 node
 * precisions, 4a stored data, 4b casts, 4c outputs) share five name maps and the node array, and
 * 4c renames strings the maps use as keys, so the order of frees is easiest to check in one
 * function with one exit. Splitting it needs a pass-state struct first (issue 18, left to do).
 */
int kat__pass_fp16(kat__onnx_model *m, kat__pass_ctx *c, int *changed, kat__errbuf *eb) {
  Onnx__GraphProto *g = m->proto->graph;
  *changed = 0;
  int rc = KAT_OK;
  kat__onnx_types *ty = NULL, *data = NULL, *prec_of = NULL;
  bool *keep = NULL;
  int *prec = NULL;
  cast_entry *casts = NULL;
  size_t n_casts = 0, cap_casts = 0;
  Onnx__NodeProto **newnodes = NULL;
  size_t n_new = 0;
  size_t N = g->n_node;

  for (size_t i = 0; i < N; i++)
    for (size_t a = 0; a < g->node[i]->n_attribute; a++)
      if (g->node[i]->attribute[a]->g || g->node[i]->attribute[a]->n_graphs)
        return kat__fail(eb, KAT_ENOTSUP, "fp16: %s has subgraphs (%s), not supported", m->path,
                         g->node[i]->op_type);
  if ((rc = kat__onnx_types_infer(g, &ty, eb)) != KAT_OK) return rc;
  if (kat__onnx_map_create(g, &data) || kat__onnx_map_create(g, &prec_of) ||
      !(keep = kat__calloc(N + 1, sizeof *keep)) || !(prec = kat__calloc(N + 1, sizeof *prec))) {
    rc = kat__fail(eb, KAT_ENOMEM, "out of memory");
    goto done;
  }
  /* 1. kept nodes */
  for (size_t i = 0; i < N; i++) {
    const char *op = g->node[i]->op_type;
    if (in_list(op, k_default_keep, sizeof k_default_keep / sizeof *k_default_keep) ||
        in_list(op, k_always32, sizeof k_always32 / sizeof *k_always32) ||
        in_list(op, c->opt->fp16_keep, (size_t)c->opt->n_fp16_keep))
      keep[i] = true;
    if (!strcmp(op, "Div")) mark_decomposed_ln(g, i, keep);
    if (!strcmp(op, "Softmax")) mark_softmax_matmul(g, i, keep);
  }
  /* 2. data values */
  for (size_t i = 0; i < g->n_input; i++)
    if (is_float(ty, g->input[i]->name)) kat__onnx_map_set(data, g->input[i]->name, DATA_YES);
  for (size_t i = 0; i < g->n_initializer; i++) {
    size_t n;
    if (kat__onnx_tensor_numel(g->initializer[i], &n) && n > 1)
      kat__onnx_map_set(data, g->initializer[i]->name, DATA_YES);
  }
  for (int sweep = 0; sweep < 4; sweep++) {
    bool moved = false;
    for (size_t i = 0; i < N; i++) {
      const Onnx__NodeProto *nd = g->node[i];
      bool d = false;
      if (!strcmp(nd->op_type, "Constant")) {
        const Onnx__AttributeProto *v = kat__onnx_attr(nd, "value");
        size_t n;
        d = v && v->t && kat__onnx_tensor_numel(v->t, &n) && n > 1;
      } else if (strcmp(nd->op_type, "Cast") != 0 || (nd->n_input && is_float(ty, nd->input[0]))) {
        for (size_t j = 0; j < nd->n_input; j++)
          d = d ||
              (is_float(ty, nd->input[j]) && kat__onnx_types_get(data, nd->input[j]) == DATA_YES);
      }
      for (size_t o = 0; o < nd->n_output && d; o++)
        if (kat__onnx_types_get(data, nd->output[o]) != DATA_YES) {
          kat__onnx_map_set(data, nd->output[o], DATA_YES);
          moved = true;
        }
    }
    if (!moved) break;
  }
  /* 3. node precisions (0 = not a float node / either) */
  for (size_t i = 0; i < N; i++) {
    const Onnx__NodeProto *nd = g->node[i];
    bool has_float = false, has_data = false;
    for (size_t j = 0; j < nd->n_input; j++)
      if (is_float(ty, nd->input[j])) {
        has_float = true;
        has_data = has_data || kat__onnx_types_get(data, nd->input[j]) == DATA_YES;
      }
    for (size_t o = 0; o < nd->n_output; o++) has_float = has_float || is_float(ty, nd->output[o]);
    if (!has_float || !strcmp(nd->op_type, "Shape") || !strcmp(nd->op_type, "Size") ||
        !strcmp(nd->op_type, "Constant"))
      prec[i] = 0;
    else if (keep[i])
      prec[i] = P32;
    else
      prec[i] = has_data ? P16 : P32;
    for (size_t o = 0; o < nd->n_output && prec[i]; o++)
      if (is_float(ty, nd->output[o])) kat__onnx_map_set(prec_of, nd->output[o], prec[i]);
  }
  /* Initializers and Constants: FP16 when every float-consuming node runs in FP16. */
  for (int pass = 0; pass < 2; pass++) {
    size_t count = pass == 0 ? g->n_initializer : N;
    for (size_t k = 0; k < count; k++) {
      const char *name;
      if (pass == 0) {
        if (g->initializer[k]->data_type != KAT_ONNX_FLOAT) continue;
        name = g->initializer[k]->name;
      } else {
        const Onnx__AttributeProto *v = kat__onnx_attr(g->node[k], "value");
        if (strcmp(g->node[k]->op_type, "Constant") != 0 || g->node[k]->n_output < 1 || !v ||
            !v->t || v->t->data_type != KAT_ONNX_FLOAT)
          continue;
        name = g->node[k]->output[0];
      }
      int users = 0, users16 = 0;
      for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < g->node[i]->n_input; j++)
          if (prec[i] && strcmp(g->node[i]->input[j], name) == 0) {
            users++;
            users16 += prec[i] == P16;
          }
      kat__onnx_map_set(prec_of, name, users > 0 && users == users16 ? P16 : P32);
    }
  }
  for (size_t i = 0; i < g->n_input; i++)
    if (is_float(ty, g->input[i]->name)) kat__onnx_map_set(prec_of, g->input[i]->name, P32);

  /* 4a. convert stored data */
  for (size_t k = 0; k < g->n_initializer && rc == KAT_OK; k++) {
    Onnx__TensorProto *t = g->initializer[k];
    if (t->data_type == KAT_ONNX_FLOAT && kat__onnx_types_get(prec_of, t->name) == P16 &&
        !kat__onnx_is_graph_input(g, t->name)) {
      rc = tensor_to_f16(t);
      (*changed)++;
    }
  }
  for (size_t i = 0; i < N && rc == KAT_OK; i++) {
    Onnx__NodeProto *nd = g->node[i];
    if (!strcmp(nd->op_type, "Constant") && nd->n_output >= 1 &&
        kat__onnx_types_get(prec_of, nd->output[0]) == P16) {
      const Onnx__AttributeProto *v = kat__onnx_attr(nd, "value");
      if (v && v->t && v->t->data_type == KAT_ONNX_FLOAT) {
        rc = tensor_to_f16(v->t);
        (*changed)++;
      }
    } else if (prec[i] == P16 && !strcmp(nd->op_type, "Cast")) {
      for (size_t a = 0; a < nd->n_attribute; a++)
        if (!strcmp(nd->attribute[a]->name, "to") && nd->attribute[a]->i == KAT_ONNX_FLOAT)
          nd->attribute[a]->i = KAT_ONNX_FLOAT16;
    } else if (prec[i] == P16 && !strcmp(nd->op_type, "ConstantOfShape")) {
      const Onnx__AttributeProto *v = kat__onnx_attr(nd, "value");
      if (v && v->t && v->t->data_type == KAT_ONNX_FLOAT) rc = tensor_to_f16(v->t);
    }
  }
  if (rc) {
    rc = kat__fail(eb, rc, "fp16: %s: could not convert a float tensor", m->path);
    goto done;
  }
  /* 4b. casts before consumers whose precision differs */
  cap_casts = 64;
  casts = kat__calloc(cap_casts, sizeof *casts);
  newnodes = kat__calloc(2 * N + 16, sizeof *newnodes);
  if (!casts || !newnodes) {
    rc = kat__fail(eb, KAT_ENOMEM, "out of memory");
    goto done;
  }
  size_t cap_new = 2 * N + 16;
  int n16 = 0, n32 = 0;
  for (size_t i = 0; i < N && rc == KAT_OK; i++) {
    Onnx__NodeProto *nd = g->node[i];
    if (prec[i] == P16) n16++;
    if (prec[i] == P32) n32++;
    for (size_t j = 0; prec[i] && j < nd->n_input && rc == KAT_OK; j++) {
      const char *in = nd->input[j];
      if (!is_float(ty, in)) continue;
      int have = kat__onnx_types_get(prec_of, in);
      if (!have) have = P32;
      if (have == prec[i]) continue;
      cast_entry *ce = NULL;
      for (size_t k = 0; k < n_casts && !ce; k++)
        if (casts[k].prec == prec[i] && strcmp(casts[k].src, in) == 0) ce = &casts[k];
      if (!ce) {
        if (n_casts == cap_casts) {
          cast_entry *nc = kat__realloc(casts, 2 * cap_casts * sizeof *nc);
          if (!nc) {
            rc = KAT_ENOMEM;
            break;
          }
          casts = nc;
          cap_casts *= 2;
        }
        ce = &casts[n_casts++];
        memset(ce, 0, sizeof *ce);
        char nm[256];
        kat__onnx_fresh_name(g, prec[i] == P16 ? "to_fp16" : "to_fp32", &c->names, nm, sizeof nm);
        ce->prec = prec[i];
        if (!(ce->name = kat__strdup(nm)) || !(ce->src = kat__strdup(in))) {
          rc = KAT_ENOMEM;
          break;
        }
      }
      if (!ce->emitted) {
        const char *ci[1] = {ce->src}, *co[1] = {ce->name};
        Onnx__NodeProto *cn = kat__onnx_node_new("Cast", ce->name, 1, ci, 1, co);
        if (!cn ||
            kat__onnx_node_set_int(cn, "to", ce->prec == P16 ? KAT_ONNX_FLOAT16 : KAT_ONNX_FLOAT)) {
          kat__onnx_free_message(cn);
          rc = KAT_ENOMEM;
          break;
        }
        if (n_new + 2 > cap_new) {
          Onnx__NodeProto **nn = kat__realloc(newnodes, 2 * cap_new * sizeof *nn);
          if (!nn) {
            kat__onnx_free_message(cn);
            rc = KAT_ENOMEM;
            break;
          }
          newnodes = nn;
          cap_new *= 2;
        }
        newnodes[n_new++] = cn;
        ce->emitted = true;
      }
      rc = kat__onnx_set_str(&nd->input[j], ce->name);
      (*changed)++;
    }
    if (n_new + 1 > cap_new) {
      Onnx__NodeProto **nn = kat__realloc(newnodes, 2 * cap_new * sizeof *nn);
      if (!nn) {
        rc = KAT_ENOMEM;
        break;
      }
      newnodes = nn;
      cap_new *= 2;
    }
    newnodes[n_new++] = nd;
  }
  if (rc) {
    /* Nodes already moved stay owned by g; free only the new Casts. */
    for (size_t k = 0; k < n_new; k++) {
      bool own = true;
      for (size_t i = 0; i < N && own; i++) own = newnodes[k] != g->node[i];
      if (own) kat__onnx_free_message(newnodes[k]);
    }
    rc = kat__fail(eb, KAT_ENOMEM, "fp16: out of memory");
    goto done;
  }
  kat__free(g->node);
  g->node = newnodes;
  g->n_node = n_new;
  newnodes = NULL;
  /* value_info of converted values */
  for (size_t k = 0; k < g->n_value_info; k++) {
    Onnx__ValueInfoProto *v = g->value_info[k];
    if (v->type && v->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
        v->type->tensor_type && v->type->tensor_type->elem_type == KAT_ONNX_FLOAT &&
        kat__onnx_types_get(prec_of, v->name) == P16 && !kat__onnx_is_graph_output(g, v->name))
      v->type->tensor_type->elem_type = KAT_ONNX_FLOAT16;
  }
  /* 4c. FP16 graph outputs: rename the internal value and Cast back under the output's name. */
  /* Decide first: renaming frees strings the maps use as keys. */
  bool *out16 = kat__calloc(g->n_output + 1, sizeof *out16);
  if (!out16) {
    rc = kat__fail(eb, KAT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t k = 0; k < g->n_output; k++)
    out16[k] =
        is_float(ty, g->output[k]->name) && kat__onnx_types_get(prec_of, g->output[k]->name) == P16;
  for (size_t k = 0; k < g->n_output && rc == KAT_OK; k++) {
    const char *out = g->output[k]->name;
    if (!out16[k]) continue;
    char nm[256];
    kat__onnx_fresh_name(g, "fp16_out", &c->names, nm, sizeof nm);
    for (size_t i = 0; i < g->n_node && rc == KAT_OK; i++) {
      Onnx__NodeProto *nd = g->node[i];
      for (size_t j = 0; j < nd->n_input && rc == KAT_OK; j++)
        if (!strcmp(nd->input[j], out)) rc = kat__onnx_set_str(&nd->input[j], nm);
      for (size_t j = 0; j < nd->n_output && rc == KAT_OK; j++)
        if (!strcmp(nd->output[j], out)) rc = kat__onnx_set_str(&nd->output[j], nm);
    }
    const char *ci[1] = {nm}, *co[1] = {out};
    Onnx__NodeProto *cn = kat__onnx_node_new("Cast", out, 1, ci, 1, co);
    if (rc == KAT_OK && (!cn || kat__onnx_node_set_int(cn, "to", KAT_ONNX_FLOAT))) rc = KAT_ENOMEM;
    if (rc == KAT_OK) {
      rc = kat__onnx_graph_insert(g, g->n_node, cn);
      cn = NULL;
    }
    kat__onnx_free_message(cn);
    (*changed)++;
  }
  kat__free(out16);
  if (rc) {
    rc = kat__fail(eb, KAT_ENOMEM, "fp16: out of memory");
    goto done;
  }
  kat__sb_printf(c->log, "  fp16: %d nodes in FP16, %d kept in FP32, %zu Casts inserted\n", n16,
                 n32, n_casts);
done:
  for (size_t k = 0; k < n_casts; k++) {
    kat__free(casts[k].name);
    kat__free(casts[k].src);
  }
  kat__free(casts);
  kat__free(newnodes);
  kat__free(keep);
  kat__free(prec);
  kat__onnx_types_destroy(ty);
  kat__onnx_types_destroy(data);
  kat__onnx_types_destroy(prec_of);
  return rc;
}
