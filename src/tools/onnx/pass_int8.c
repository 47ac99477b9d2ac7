/*
 * int8: dynamic quantization of MatMul and Gemm nodes whose weight is a constant float matrix.
 *
 * DESIGN. A MatMul Y = A x W with W a float initializer of shape [K,N] (or a Gemm with
 * transA = 0, alpha = beta = 1, a constant B and a bias C of N elements or none) becomes
 *   W_q   [K,N] int8:  round(W[k,n] / s[n]) clamped to [-q, q], q = 127, or 63 with reduce_range
 *   s     [N]   f32:   max_k |W[k,n]| / q (1 where the column is all zeros); zero points all 0
 * and, with the fused form (the default), one com.microsoft DynamicQuantizeMatMul(A, W_q, s, 0[,
 * bias]) node, which quantizes A per tensor to uint8 at run time and accumulates in int32. The
 * plain form emits the standard ops instead: DynamicQuantizeLinear(A) -> MatMulInteger -> Cast ->
 * Mul(a_scale * s) [-> Add(bias)], which ORT may fuse itself.
 *
 * reduce_range keeps weights to 7 bits so that u8 x s8 pair sums fit in int16: AVX2 without VNNI
 * computes them with VPMADDUBSW, which saturates (255 * 127 * 2 > 32767).
 *
 * Everything else stays FP32: Conv (ORT has no fast ConvInteger), MatMuls of two activations
 * (attention scores, which feed Softmax), LayerNorm and Softmax. Nodes whose name contains one of
 * opt->int8_exclude stay FP32 too (e.g. an attention key projection with bimodal activations).
 * The float weights are removed when nothing else uses them.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tools/onnx/passes.h"

/* A tensor `name` of element type `elem` with `dims` and `nbytes` of raw little-endian data
 * (copied); NULL when out of memory. */
static Onnx__TensorProto *tensor_new(const char *name, int32_t elem, const int64_t *dims,
                                     size_t rank, const void *raw, size_t nbytes) {
  Onnx__TensorProto *t = kat__calloc(1, sizeof *t);
  if (!t) return NULL;
  onnx__tensor_proto__init(t);
  t->name = kat__strdup(name);
  t->dims = kat__malloc((rank ? rank : 1) * sizeof *dims);
  t->raw_data.data = kat__malloc(nbytes ? nbytes : 1);
  if (!t->name || !t->dims || !t->raw_data.data) {
    kat__onnx_free_message(t);
    return NULL;
  }
  if (rank) memcpy(t->dims, dims, rank * sizeof *dims);
  t->n_dims = rank;
  t->has_data_type = 1;
  t->data_type = elem;
  if (nbytes) memcpy(t->raw_data.data, raw, nbytes);
  t->raw_data.len = nbytes;
  t->has_raw_data = 1;
  return t;
}

/* Element i of an FP32 or FP16 constant tensor as f32 (raw_data, float_data or, for FP16, the
 * 16-bit patterns in int32_data). */
typedef struct wview {
  const uint8_t *raw;  /* raw_data or float_data, or NULL */
  const int32_t *bits; /* FP16 patterns in int32_data, or NULL */
  int32_t elem;
} wview;

static float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else { /* subnormal: normalise */
      int e = -1;
      do {
        e++;
        mant <<= 1;
      } while (!(mant & 0x400));
      x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    x = sign | 0x7f800000u | (mant << 13);
  } else {
    x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  memcpy(&f, &x, 4);
  return f;
}

/* Views the data of `t` when it is an FP32 or FP16 tensor whose data is all there. */
static bool weight_view(const Onnx__TensorProto *t, size_t *n, wview *v) {
  memset(v, 0, sizeof *v);
  if (!t || (t->data_type != KAT_ONNX_FLOAT && t->data_type != KAT_ONNX_FLOAT16) ||
      !kat__onnx_tensor_numel(t, n) || *n > SIZE_MAX / 4)
    return false;
  v->elem = t->data_type;
  size_t es = t->data_type == KAT_ONNX_FLOAT ? 4 : 2;
  if (t->has_raw_data && t->raw_data.len) {
    v->raw = t->raw_data.data;
    return t->raw_data.len == *n * es;
  }
  if (t->data_type == KAT_ONNX_FLOAT) {
    v->raw = (const uint8_t *)t->float_data;
    return t->n_float_data == *n;
  }
  v->bits = t->int32_data;
  return t->n_int32_data == *n;
}

static float wview_get(const wview *v, size_t i) {
  if (v->elem == KAT_ONNX_FLOAT) {
    float f;
    memcpy(&f, v->raw + i * 4, 4);
    return f;
  }
  uint16_t h;
  if (v->raw)
    memcpy(&h, v->raw + i * 2, 2);
  else
    h = (uint16_t)v->bits[i];
  return f16_to_f32(h);
}

static const Onnx__TensorProto *initializer(const Onnx__GraphProto *g, const char *name) {
  if (kat__onnx_is_graph_input(g, name)) return NULL; /* overridable: not a constant */
  for (size_t i = 0; i < g->n_initializer; i++)
    if (!strcmp(g->initializer[i]->name, name)) return g->initializer[i];
  return NULL;
}

/* Follows Identity nodes, and a Cast to FLOAT of an FP16 initializer (FP16 weight storage),
 * back from `name` to an initializer. */
static const Onnx__TensorProto *constant_through_identity(const Onnx__GraphProto *g,
                                                          const char *name) {
  for (int hops = 0; hops < 16; hops++) {
    const Onnx__TensorProto *t = initializer(g, name);
    if (t) return t;
    int p = kat__onnx_producer(g, name);
    if (p < 0 || g->node[p]->n_input != 1) return NULL;
    const Onnx__NodeProto *pn = g->node[p];
    if (!strcmp(pn->op_type, "Cast")) {
      const Onnx__TensorProto *src = initializer(g, pn->input[0]);
      return src && src->data_type == KAT_ONNX_FLOAT16 &&
                     kat__onnx_attr_int(pn, "to", 0) == KAT_ONNX_FLOAT
                 ? src
                 : NULL;
    }
    if (strcmp(pn->op_type, "Identity") != 0) return NULL;
    name = pn->input[0];
  }
  return NULL;
}

static bool excluded(const Onnx__NodeProto *nd, const kat__onnx_rewrite_options *o) {
  for (int i = 0; i < o->n_int8_exclude; i++)
    if (o->int8_exclude[i] && o->int8_exclude[i][0] && nd->name &&
        strstr(nd->name, o->int8_exclude[i]))
      return true;
  return false;
}

static double attr_float(const Onnx__NodeProto *n, const char *name, double def) {
  const Onnx__AttributeProto *a = kat__onnx_attr(n, name);
  return a ? (double)a->f : def;
}

/* The site of one node: weight W [K,N] f32 (row-major, transposed from Gemm's B when transB),
 * optional bias [N] f32. */
typedef struct site {
  const char *src; /* borrowed: the weight initializer's name */
  bool trans;
  int64_t K, N;
  float *w;    /* owned, [K,N] */
  float *bias; /* owned, [N] or NULL */
} site;

static void site_free(site *s) {
  kat__free(s->w);
  kat__free(s->bias);
}

/* Fills `s` for node `nd` when it can be quantized: 1 yes, 0 no, negative on no memory. */
static int match(const Onnx__GraphProto *g, const Onnx__NodeProto *nd, site *s) {
  memset(s, 0, sizeof *s);
  bool gemm = !strcmp(nd->op_type, "Gemm");
  if ((!gemm && strcmp(nd->op_type, "MatMul") != 0) || (nd->domain && nd->domain[0])) return 0;
  if (nd->n_input < 2 || nd->n_output != 1 || (!gemm && nd->n_input != 2)) return 0;
  const Onnx__TensorProto *b = constant_through_identity(g, nd->input[1]);
  size_t n;
  wview bv, cv;
  if (!weight_view(b, &n, &bv) || b->n_dims != 2 || b->dims[0] <= 0 || b->dims[1] <= 0) return 0;
  bool trans_b = false;
  const Onnx__TensorProto *c = NULL;
  if (gemm) {
    if (kat__onnx_attr_int(nd, "transA", 0) != 0 || attr_float(nd, "alpha", 1.0) != 1.0) return 0;
    trans_b = kat__onnx_attr_int(nd, "transB", 0) != 0;
    if (nd->n_input > 2 && nd->input[2][0]) {
      if (attr_float(nd, "beta", 1.0) != 1.0) return 0;
      c = constant_through_identity(g, nd->input[2]);
      size_t nc;
      if (!weight_view(c, &nc, &cv)) return 0;
    }
  }
  s->src = b->name;
  s->trans = trans_b;
  s->K = trans_b ? b->dims[1] : b->dims[0];
  s->N = trans_b ? b->dims[0] : b->dims[1];
  if (c) {
    size_t nc;
    weight_view(c, &nc, &cv);
    if (nc != (size_t)s->N || c->n_dims < 1 || c->dims[c->n_dims - 1] != s->N) return 0;
    if (!(s->bias = kat__malloc((size_t)s->N * sizeof *s->bias))) return -1;
    for (int64_t j = 0; j < s->N; j++) s->bias[j] = wview_get(&cv, (size_t)j);
  }
  if (!(s->w = kat__malloc(n * sizeof *s->w))) {
    site_free(s);
    return -1;
  }
  for (int64_t k = 0; k < s->K; k++)
    for (int64_t j = 0; j < s->N; j++)
      s->w[k * s->N + j] = wview_get(&bv, (size_t)(trans_b ? j * s->K + k : k * s->N + j));
  return 1;
}

void kat__int8_quantize_weights(const float *w, int64_t K, int64_t N, bool reduce_range, int8_t *q,
                                float *scale) {
  const float qmax = reduce_range ? 63.0f : 127.0f;
  for (int64_t j = 0; j < N; j++) {
    float amax = 0.0f;
    for (int64_t k = 0; k < K; k++) amax = fmaxf(amax, fabsf(w[k * N + j]));
    scale[j] = amax > 0.0f && isfinite(amax) ? amax / qmax : 1.0f;
  }
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < N; j++) {
      float v = nearbyintf(w[k * N + j] / scale[j]);
      if (!(v >= -qmax)) v = -qmax; /* also NaN */
      if (v > qmax) v = qmax;
      q[k * N + j] = (int8_t)v;
    }
}

static int add_opset(Onnx__ModelProto *mp, const char *domain, int64_t version) {
  for (size_t i = 0; i < mp->n_opset_import; i++)
    if (mp->opset_import[i]->domain && !strcmp(mp->opset_import[i]->domain, domain)) return KAT_OK;
  Onnx__OperatorSetIdProto *o = kat__calloc(1, sizeof *o);
  if (!o) return KAT_ENOMEM;
  onnx__operator_set_id_proto__init(o);
  o->domain = kat__strdup(domain);
  o->has_version = 1;
  o->version = version;
  Onnx__OperatorSetIdProto **arr =
      kat__realloc(mp->opset_import, (mp->n_opset_import + 1) * sizeof *arr);
  if (!o->domain || !arr) {
    if (arr) mp->opset_import = arr;
    kat__onnx_free_message(o);
    return KAT_ENOMEM;
  }
  mp->opset_import = arr;
  arr[mp->n_opset_import++] = o;
  return KAT_OK;
}

/* Appends node `n` to the list being built (its capacity is reserved up front: at most
 * MAX_EMIT nodes per original node); frees `n` on failure. */
#define MAX_EMIT 6
static int push(Onnx__NodeProto ***list, size_t *len, size_t *cap, Onnx__NodeProto *n) {
  if (!n) return KAT_ENOMEM;
  if (*len == *cap) {
    kat__onnx_free_message(n);
    return KAT_EINTERNAL;
  }
  (*list)[(*len)++] = n;
  return KAT_OK;
}

/* Quantized weights already made, by source initializer (a weight shared by several nodes is
 * stored once). */
typedef struct qweight {
  const char *src; /* borrowed initializer name */
  bool trans;
  char nq[256], ns[256], nz[256];
} qweight;

typedef struct qcache {
  qweight *e;
  size_t n, cap;
} qcache;

/* Emits the quantized replacement of node `nd` (site `s`) into the new node list. */
static int emit(Onnx__GraphProto *g, kat__pass_ctx *c, const Onnx__NodeProto *nd, const site *s,
                qcache *qc, Onnx__NodeProto ***list, size_t *len, size_t *cap) {
  const kat__onnx_rewrite_options *o = c->opt;
  size_t kn = (size_t)s->K * (size_t)s->N, N = (size_t)s->N;
  int8_t *q = NULL, *zp = NULL;
  float *scale = NULL;
  int rc = KAT_ENOMEM;
  char base[200], nb[256];
  int64_t vd[1] = {s->N};
  qweight *qw = NULL;
  for (size_t k = 0; k < qc->n && !qw; k++)
    if (qc->e[k].trans == s->trans && !strcmp(qc->e[k].src, s->src)) qw = &qc->e[k];
  if (!qw) {
    if (qc->n == qc->cap) {
      size_t ncap = qc->cap ? 2 * qc->cap : 16;
      qweight *ne = kat__realloc(qc->e, ncap * sizeof *ne);
      if (!ne) goto done;
      qc->e = ne;
      qc->cap = ncap;
    }
    qw = &qc->e[qc->n];
    qw->src = s->src;
    qw->trans = s->trans;
    q = kat__malloc(kn);
    scale = kat__malloc(N * sizeof *scale);
    zp = kat__calloc(N, 1);
    if (!q || !scale || !zp) goto done;
    kat__int8_quantize_weights(s->w, s->K, s->N, o->int8_reduce_range != 0, q, scale);
    snprintf(base, sizeof base, "%.150s_int8", s->src);
    kat__onnx_fresh_name(g, base, &c->names, qw->nq, sizeof qw->nq);
    kat__onnx_fresh_name(g, "int8_scale", &c->names, qw->ns, sizeof qw->ns);
    kat__onnx_fresh_name(g, "int8_zero_point", &c->names, qw->nz, sizeof qw->nz);
    int64_t wd[2] = {s->K, s->N};
    Onnx__TensorProto *tq = tensor_new(qw->nq, KAT_ONNX_INT8, wd, 2, q, kn);
    if (!tq || kat__onnx_graph_add_initializer(g, tq)) goto done;
    Onnx__TensorProto *ts = tensor_new(qw->ns, KAT_ONNX_FLOAT, vd, 1, scale, N * 4);
    if (!ts || kat__onnx_graph_add_initializer(g, ts)) goto done;
    Onnx__TensorProto *tz = tensor_new(qw->nz, KAT_ONNX_INT8, vd, 1, zp, N);
    if (!tz || kat__onnx_graph_add_initializer(g, tz)) goto done;
    qc->n++;
  }
  const char *nq = qw->nq, *ns = qw->ns, *nz = qw->nz;
  nb[0] = 0;
  if (s->bias) {
    kat__onnx_fresh_name(g, "int8_bias", &c->names, nb, sizeof nb);
    Onnx__TensorProto *tb = tensor_new(nb, KAT_ONNX_FLOAT, vd, 1, s->bias, N * 4);
    if (!tb || kat__onnx_graph_add_initializer(g, tb)) goto done;
  }
  const char *y = nd->output[0], *a = nd->input[0];
  if (o->int8_form == 0) {
    const char *in[5] = {a, nq, ns, nz, nb};
    Onnx__NodeProto *n =
        kat__onnx_node_new("DynamicQuantizeMatMul", nd->name, s->bias ? 5 : 4, in, 1, &y);
    if (!n || kat__onnx_set_str(&n->domain, "com.microsoft")) {
      kat__onnx_free_message(n);
      goto done;
    }
    rc = push(list, len, cap, n);
    goto done;
  }
  char aq[256], as[256], az[256], yi[256], yf[256], sc[256], ym[256];
  kat__onnx_fresh_name(g, "int8_a", &c->names, aq, sizeof aq);
  kat__onnx_fresh_name(g, "int8_a_scale", &c->names, as, sizeof as);
  kat__onnx_fresh_name(g, "int8_a_zero_point", &c->names, az, sizeof az);
  kat__onnx_fresh_name(g, "int8_acc", &c->names, yi, sizeof yi);
  kat__onnx_fresh_name(g, "int8_accf", &c->names, yf, sizeof yf);
  kat__onnx_fresh_name(g, "int8_out_scale", &c->names, sc, sizeof sc);
  kat__onnx_fresh_name(g, "int8_mul", &c->names, ym, sizeof ym);
  const char *dq_o[3] = {aq, as, az}, *mi_i[4] = {aq, nq, az, nz}, *mul1[2] = {as, ns},
             *mul2[2] = {yf, sc}, *add[2] = {ym, nb}, *o_yi[1] = {yi}, *o_yf[1] = {yf},
             *o_sc[1] = {sc}, *o_mul[1] = {s->bias ? ym : y};
  if ((rc = push(list, len, cap, kat__onnx_node_new("DynamicQuantizeLinear", aq, 1, &a, 3, dq_o))))
    goto done;
  if ((rc = push(list, len, cap, kat__onnx_node_new("MatMulInteger", yi, 4, mi_i, 1, o_yi))))
    goto done;
  Onnx__NodeProto *cast = kat__onnx_node_new("Cast", yf, 1, o_yi, 1, o_yf);
  if (cast && kat__onnx_node_set_int(cast, "to", KAT_ONNX_FLOAT)) {
    kat__onnx_free_message(cast);
    cast = NULL;
  }
  if ((rc = push(list, len, cap, cast))) goto done;
  if ((rc = push(list, len, cap, kat__onnx_node_new("Mul", sc, 2, mul1, 1, o_sc)))) goto done;
  if ((rc = push(list, len, cap, kat__onnx_node_new("Mul", nd->name, 2, mul2, 1, o_mul))))
    goto done;
  if (s->bias) rc = push(list, len, cap, kat__onnx_node_new("Add", ym, 2, add, 1, &y));
done:
  kat__free(q);
  kat__free(scale);
  kat__free(zp);
  return rc;
}

int kat__pass_int8(kat__onnx_model *m, kat__pass_ctx *c, int *changed, kat__errbuf *eb) {
  Onnx__GraphProto *g = m->proto->graph;
  Onnx__NodeProto **list = NULL;
  bool *replaced = NULL;
  qcache qc = {0};
  size_t len = 0, cap = 0, N = g->n_node;
  int rc = KAT_OK, kept_act = 0, kept_excl = 0, n_conv = 0;
  *changed = 0;
  /* The graph stays untouched until the end (fresh names look at its nodes); `list` collects
   * the new node order: original nodes kept, and the replacements of the others. */
  if (N > (SIZE_MAX / sizeof *list - 1) / MAX_EMIT ||
      !(list = kat__malloc((N * MAX_EMIT + 1) * sizeof *list)) ||
      !(replaced = kat__calloc(N + 1, sizeof *replaced))) {
    kat__free(list);
    return kat__fail(eb, KAT_ENOMEM, "int8: out of memory");
  }
  cap = N * MAX_EMIT + 1;
  for (size_t i = 0; i < N && rc == KAT_OK; i++) {
    Onnx__NodeProto *nd = g->node[i];
    site s;
    int hit = match(g, nd, &s);
    if (hit < 0) {
      rc = KAT_ENOMEM;
      break;
    }
    if (!strcmp(nd->op_type, "Conv")) n_conv++;
    if (hit && excluded(nd, c->opt)) {
      kept_excl++;
      hit = 0;
      site_free(&s);
    } else if (!hit && (!strcmp(nd->op_type, "MatMul") || !strcmp(nd->op_type, "Gemm"))) {
      kept_act++;
    }
    if (!hit) {
      list[len++] = nd; /* cannot overflow: cap >= MAX_EMIT * N */
      continue;
    }
    rc = emit(g, c, nd, &s, &qc, &list, &len, &cap);
    site_free(&s);
    replaced[i] = true;
    (*changed)++;
  }
  if (rc) {
    /* Free only the new nodes; the graph keeps its own (unused new initializers are pruned by
     * nobody, but the model is discarded by the caller on failure). */
    for (size_t k = 0; k < len; k++) {
      bool orig = false;
      for (size_t i = 0; i < N && !orig; i++) orig = list[k] == g->node[i];
      if (!orig) kat__onnx_free_message(list[k]);
    }
    kat__free(list);
    kat__free(replaced);
    kat__free(qc.e);
    *changed = 0;
    return kat__fail(eb, rc, "int8: %s", rc == KAT_ENOMEM ? "out of memory" : "internal error");
  }
  for (size_t i = 0; i < N; i++)
    if (replaced[i]) kat__onnx_free_message(g->node[i]);
  kat__free(replaced);
  size_t n_weights = qc.n;
  kat__free(qc.e);
  kat__free(g->node);
  g->node = list;
  g->n_node = len;
  if (*changed && (rc = add_opset(m->proto, "com.microsoft", 1)))
    return kat__fail(eb, rc, "int8: out of memory");
  size_t pruned_nodes = kat__onnx_prune_dead(g), pruned = kat__onnx_prune_initializers(g);
  kat__sb_printf(
      c->log,
      "  int8: %d MatMul/Gemm quantized (%s form, %s-bit weights, per output channel), "
      "%zu weight matrices; %d activation MatMul/Gemm and %d excluded kept in FP32, %d Conv "
      "in FP32; %zu float weights and %zu dead nodes removed\n",
      *changed, c->opt->int8_form ? "plain" : "fused", c->opt->int8_reduce_range ? "7" : "8",
      n_weights, kept_act, kept_excl, n_conv, pruned, pruned_nodes);
  return KAT_OK;
}
