/*
 * Local static shape inference (see shape.h for the rules and docs/internals/onnx.md for why).
 * One forward sweep over the nodes in file order (ONNX requires topological order; a second
 * sweep picks up the few graphs that break the rule), each op computing its outputs' ranks,
 * sizes and, for small integer vectors, known element values from what its inputs have.
 */
#include <stdint.h>
#include <string.h>

#include "tools/onnx/shape.h"

#define R KAT_ONNX_MAX_RANK

typedef struct info {
  kat__onnx_shape s; /* rank -1: unknown */
  int nval;          /* element count of a tracked small integer value, -1 when not tracked */
  int64_t val[R];
  bool known[R];
} info;

typedef struct entry {
  char *key; /* owned */
  info v;
} entry;

struct kat__onnx_shapes {
  entry *slots;
  size_t cap;  /* power of two */
  size_t used; /* kept below cap / 2 */
};

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

static entry *find(const kat__onnx_shapes *t, const char *key) {
  size_t i = (size_t)hash_str(key) & (t->cap - 1);
  for (;;) {
    entry *e = &t->slots[i];
    if (!e->key || strcmp(e->key, key) == 0) return e;
    i = (i + 1) & (t->cap - 1);
  }
}

static void unknown(info *o) {
  memset(o, 0, sizeof *o);
  o->s.rank = -1;
  o->nval = -1;
}

/* Records `v` for `key`. What is already known (a declared shape) wins; unknown sizes and
 * values are filled in from `v`. */
static int put(kat__onnx_shapes *t, const char *key, const info *v) {
  if (!key || !*key || v->s.rank < 0) return KAT_OK;
  entry *e = find(t, key);
  if (!e->key) {
    if (2 * (t->used + 1) > t->cap) return KAT_OK; /* cannot happen with the sizing below */
    e->key = kat__strdup(key);
    if (!e->key) return KAT_ENOMEM;
    t->used++;
    e->v = *v;
    for (int d = 0; d < R; d++) e->v.s.params[d] = NULL;
    return KAT_OK;
  }
  if (e->v.s.rank < 0) {
    int32_t elem = e->v.s.elem_type;
    e->v = *v;
    if (elem) e->v.s.elem_type = elem;
  } else if (e->v.s.rank == v->s.rank) {
    for (int d = 0; d < v->s.rank; d++)
      if (e->v.s.dims[d] < 0) e->v.s.dims[d] = v->s.dims[d];
  }
  if (e->v.nval < 0 && v->nval >= 0) {
    e->v.nval = v->nval;
    memcpy(e->v.val, v->val, sizeof v->val);
    memcpy(e->v.known, v->known, sizeof v->known);
  }
  for (int d = 0; d < R; d++) e->v.s.params[d] = NULL;
  return KAT_OK;
}

static void get(const kat__onnx_shapes *t, const char *name, info *o) {
  unknown(o);
  if (!name || !*name) return;
  const entry *e = find(t, name);
  if (e->key) *o = e->v;
}

static void in_info(const kat__onnx_shapes *t, const Onnx__NodeProto *n, size_t k, info *o) {
  if (k < n->n_input)
    get(t, n->input[k], o);
  else
    unknown(o);
}

/* All values of input k known: copies them to v (at most R) and returns the count, else -1. */
static int in_ints(const kat__onnx_shapes *t, const Onnx__NodeProto *n, size_t k, int64_t *v) {
  info i;
  in_info(t, n, k, &i);
  if (i.nval < 0) return -1;
  for (int j = 0; j < i.nval; j++) {
    if (!i.known[j]) return -1;
    v[j] = i.val[j];
  }
  return i.nval;
}

/* Integers of attribute `name`, at most R; -1 when absent or longer. */
static int attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *v) {
  const Onnx__AttributeProto *a = kat__onnx_attr(n, name);
  if (!a || a->n_ints > R) return -1;
  for (size_t j = 0; j < a->n_ints; j++) v[j] = a->ints[j];
  return (int)a->n_ints;
}

static void from_tensor(const Onnx__TensorProto *tp, info *o) {
  unknown(o);
  if (!tp || tp->n_dims > R) return;
  o->s.rank = (int)tp->n_dims;
  o->s.elem_type = tp->data_type;
  for (size_t d = 0; d < tp->n_dims; d++) o->s.dims[d] = tp->dims[d] >= 0 ? tp->dims[d] : -1;
  size_t count, got;
  if ((tp->data_type == KAT_ONNX_INT64 || tp->data_type == KAT_ONNX_INT32) && tp->n_dims <= 1 &&
      kat__onnx_tensor_numel(tp, &count) && count <= R &&
      kat__onnx_tensor_ints(tp, o->val, R, &got) == KAT_OK && got == count) {
    o->nval = (int)count;
    for (size_t j = 0; j < count; j++) o->known[j] = true;
  }
}

static bool norm_axis(int64_t *ax, int rank) {
  if (*ax < 0) *ax += rank;
  return *ax >= 0 && *ax < rank;
}

/* Broadcasts b into a (numpy rules; a size that is unknown against a known one > 1 takes it). */
static void broadcast(info *a, const info *b) {
  int r = a->s.rank > b->s.rank ? a->s.rank : b->s.rank;
  int64_t d[R];
  for (int k = 0; k < r; k++) {
    int ia = a->s.rank - r + k, ib = b->s.rank - r + k;
    int64_t x = ia >= 0 ? a->s.dims[ia] : 1, y = ib >= 0 ? b->s.dims[ib] : 1;
    if (x == 1)
      d[k] = y;
    else if (y == 1)
      d[k] = x;
    else
      d[k] = x >= 0 ? x : y;
  }
  a->s.rank = r;
  memcpy(a->s.dims, d, sizeof d);
}

static bool is_op(const char *op, const char *const *list) {
  for (; *list; list++)
    if (strcmp(op, *list) == 0) return true;
  return false;
}

static const char *const k_same[] = {"Identity",
                                     "Relu",
                                     "Sigmoid",
                                     "Tanh",
                                     "Exp",
                                     "Log",
                                     "Sqrt",
                                     "Neg",
                                     "Abs",
                                     "Sin",
                                     "Cos",
                                     "Erf",
                                     "Floor",
                                     "Ceil",
                                     "Round",
                                     "Reciprocal",
                                     "Softplus",
                                     "Softsign",
                                     "Gelu",
                                     "HardSigmoid",
                                     "HardSwish",
                                     "LeakyRelu",
                                     "Elu",
                                     "Selu",
                                     "Celu",
                                     "Mish",
                                     "Clip",
                                     "Not",
                                     "Sign",
                                     "IsNaN",
                                     "IsInf",
                                     "Softmax",
                                     "LogSoftmax",
                                     "Dropout",
                                     "LayerNormalization",
                                     "BatchNormalization",
                                     "InstanceNormalization",
                                     "Cast",
                                     "CastLike",
                                     "Tan",
                                     "Asin",
                                     "Acos",
                                     "Atan",
                                     "Sinh",
                                     "Cosh",
                                     "ThresholdedRelu",
                                     NULL};
static const char *const k_broadcast[] = {
    "Add",      "Sub",   "Mul",     "Div",         "Pow",
    "Equal",    "Less",  "Greater", "LessOrEqual", "GreaterOrEqual",
    "And",      "Or",    "Xor",     "Max",         "Min",
    "Mod",      "PRelu", "Where",   "Sum",         "Mean",
    "BitShift", NULL};

/* Number of elements [begin, end) of a Slice on an axis of size d (ONNX's clamping rules). */
static int64_t slice_len(int64_t d, int64_t s, int64_t e, int64_t step, int64_t *first) {
  if (step > 0) {
    if (s < 0) s += d;
    if (e < 0) e += d;
    s = s < 0 ? 0 : s > d ? d : s;
    e = e < 0 ? 0 : e > d ? d : e;
    *first = s;
    return e > s ? (e - s - 1) / step + 1 : 0;
  }
  if (s < 0) s += d;
  if (e < 0) e += d;
  s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
  e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
  *first = s;
  return s > e ? (s - e - 1) / (-step) + 1 : 0;
}

static void infer_slice(const kat__onnx_shapes *t, const Onnx__NodeProto *n, int64_t opset,
                        info *o) {
  info in;
  in_info(t, n, 0, &in);
  if (in.s.rank < 0) return;
  int64_t st[R], en[R], ax[R], sp[R];
  int ns, ne, na, nsp;
  if (opset < 10) {
    ns = attr_ints(n, "starts", st);
    ne = attr_ints(n, "ends", en);
    na = attr_ints(n, "axes", ax);
    nsp = -2;
  } else {
    ns = in_ints(t, n, 1, st);
    ne = in_ints(t, n, 2, en);
    na = n->n_input > 3 && *n->input[3] ? in_ints(t, n, 3, ax) : -2;
    nsp = n->n_input > 4 && *n->input[4] ? in_ints(t, n, 4, sp) : -2;
  }
  o->s = in.s;
  for (int d = 0; d < R; d++) o->s.params[d] = NULL;
  if (na == -2) {
    na = ns;
    for (int k = 0; k < na && k < R; k++) ax[k] = k;
  }
  if (nsp == -2) {
    nsp = ns;
    for (int k = 0; k < nsp && k < R; k++) sp[k] = 1;
  }
  if (ns < 0 || ne != ns || na != ns || nsp != ns) {
    /* Which axes are sliced is known: only those lose their size. */
    if (na >= 0 && n->n_input > 3) {
      for (int k = 0; k < na; k++)
        if (norm_axis(&ax[k], in.s.rank)) o->s.dims[ax[k]] = -1;
    } else {
      for (int d = 0; d < in.s.rank; d++) o->s.dims[d] = -1;
    }
    return;
  }
  for (int k = 0; k < ns; k++) {
    if (!norm_axis(&ax[k], in.s.rank) || sp[k] == 0 || sp[k] == INT64_MIN) {
      unknown(o);
      return;
    }
    int64_t d = in.s.dims[ax[k]], first = 0;
    o->s.dims[ax[k]] = d < 0 ? -1 : slice_len(d, st[k], en[k], sp[k], &first);
    if (in.s.rank == 1 && in.nval >= 0 && d == in.nval && o->s.dims[0] <= R) {
      o->nval = (int)o->s.dims[0];
      for (int j = 0; j < o->nval; j++) {
        int64_t src = first + j * sp[k]; /* |sp| >= 1, j < 8, first < 8: no overflow */
        bool in_range = src >= 0 && src < in.nval;
        o->val[j] = in_range ? in.val[src] : 0;
        o->known[j] = in_range && in.known[src];
      }
    }
  }
}

static void infer_node(const kat__onnx_shapes *t, const Onnx__GraphProto *g,
                       const Onnx__NodeProto *n, int64_t opset, info *out, size_t n_out) {
  const char *op = n->op_type;
  info a, b;
  int64_t v[R], w[R];
  for (size_t k = 0; k < n_out; k++) unknown(&out[k]);
  if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx") != 0) return;
  info *o = &out[0];
  in_info(t, n, 0, &a);
  if (!strcmp(op, "Constant")) {
    const Onnx__AttributeProto *at = kat__onnx_attr(n, "value");
    if (at && at->t) {
      from_tensor(at->t, o);
    } else if ((at = kat__onnx_attr(n, "value_int")) != NULL) {
      o->s.rank = 0;
      o->nval = 1;
      o->val[0] = at->i;
      o->known[0] = true;
    } else if ((at = kat__onnx_attr(n, "value_ints")) != NULL && at->n_ints <= R) {
      o->s.rank = 1;
      o->s.dims[0] = (int64_t)at->n_ints;
      o->nval = (int)at->n_ints;
      for (size_t j = 0; j < at->n_ints; j++) {
        o->val[j] = at->ints[j];
        o->known[j] = true;
      }
    } else if (kat__onnx_attr(n, "value_float")) {
      o->s.rank = 0;
    } else if ((at = kat__onnx_attr(n, "value_floats")) != NULL) {
      o->s.rank = 1;
      o->s.dims[0] = (int64_t)at->n_floats;
    }
  } else if (!strcmp(op, "Shape")) {
    o->s.rank = 1;
    o->s.dims[0] = -1;
    if (a.s.rank >= 0) {
      int64_t s = kat__onnx_attr_int(n, "start", 0), e = kat__onnx_attr_int(n, "end", a.s.rank);
      if (s < 0) s += a.s.rank;
      if (e < 0) e += a.s.rank;
      s = s < 0 ? 0 : s > a.s.rank ? a.s.rank : s;
      e = e < 0 ? 0 : e > a.s.rank ? a.s.rank : e;
      o->s.dims[0] = e > s ? e - s : 0;
      o->nval = (int)o->s.dims[0];
      for (int j = 0; j < o->nval; j++) {
        o->val[j] = a.s.dims[s + j];
        o->known[j] = a.s.dims[s + j] >= 0;
      }
    }
  } else if (!strcmp(op, "Size")) {
    o->s.rank = 0;
  } else if (is_op(op, k_same)) {
    if (a.s.rank < 0) return;
    *o = a;
    bool keep = !strcmp(op, "Identity") ||
                (!strcmp(op, "Cast") && (kat__onnx_attr_int(n, "to", 0) == KAT_ONNX_INT64 ||
                                         kat__onnx_attr_int(n, "to", 0) == KAT_ONNX_INT32));
    if (!keep) o->nval = -1;
  } else if (is_op(op, k_broadcast)) {
    if (a.s.rank < 0) return;
    info acc = a;
    acc.nval = -1;
    for (size_t k = 1; k < n->n_input; k++) {
      in_info(t, n, k, &b);
      if (b.s.rank < 0) return;
      broadcast(&acc, &b);
    }
    /* Shape arithmetic on small integer vectors: Add/Sub/Mul of values. */
    in_info(t, n, 1, &b);
    bool arith = !strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul");
    if (arith && n->n_input == 2 && a.nval >= 0 && b.nval >= 0 && acc.s.rank <= 1 &&
        (a.nval == b.nval || a.nval == 1 || b.nval == 1)) {
      int cnt = a.nval > b.nval ? a.nval : b.nval;
      acc.nval = cnt;
      for (int j = 0; j < cnt; j++) {
        int ia = a.nval == 1 ? 0 : j, ib = b.nval == 1 ? 0 : j;
        int64_t x = a.val[ia], y = b.val[ib], r;
        bool ovf = op[0] == 'A'   ? __builtin_add_overflow(x, y, &r)
                   : op[0] == 'S' ? __builtin_sub_overflow(x, y, &r)
                                  : __builtin_mul_overflow(x, y, &r);
        acc.known[j] = a.known[ia] && b.known[ib] && !ovf;
        acc.val[j] = ovf ? 0 : r;
      }
    }
    *o = acc;
  } else if (!strcmp(op, "Gather")) {
    in_info(t, n, 1, &b);
    if (a.s.rank < 1 || b.s.rank < 0 || a.s.rank + b.s.rank - 1 > R) return;
    int64_t ax = kat__onnx_attr_int(n, "axis", 0);
    if (!norm_axis(&ax, a.s.rank)) return;
    o->s.rank = 0;
    for (int d = 0; d < ax; d++) o->s.dims[o->s.rank++] = a.s.dims[d];
    for (int d = 0; d < b.s.rank; d++) o->s.dims[o->s.rank++] = b.s.dims[d];
    for (int d = (int)ax + 1; d < a.s.rank; d++) o->s.dims[o->s.rank++] = a.s.dims[d];
    if (a.s.rank == 1 && a.nval >= 0 && b.nval >= 0) {
      o->nval = b.nval;
      for (int j = 0; j < b.nval; j++) {
        int64_t k = b.val[j] < 0 ? b.val[j] + a.nval : b.val[j];
        o->known[j] = b.known[j] && k >= 0 && k < a.nval && a.known[k];
        o->val[j] = o->known[j] ? a.val[k] : 0;
      }
    }
  } else if (!strcmp(op, "Unsqueeze") || !strcmp(op, "Squeeze")) {
    if (a.s.rank < 0) return;
    int na = opset >= 13 ? (n->n_input > 1 ? in_ints(t, n, 1, v) : -2) : attr_ints(n, "axes", v);
    if (opset < 13 && na < 0) na = -2;
    bool unsq = op[0] == 'U';
    if (na == -1 || (unsq && na < 0)) return;
    bool drop[R] = {false};
    if (unsq) {
      int r = a.s.rank + na;
      if (r > R) return;
      bool ins[R] = {false};
      for (int k = 0; k < na; k++) {
        if (!norm_axis(&v[k], r) || ins[v[k]]) return;
        ins[v[k]] = true;
      }
      int src = 0;
      for (int d = 0; d < r; d++) o->s.dims[d] = ins[d] ? 1 : a.s.dims[src++];
      o->s.rank = r;
    } else {
      if (na == -2) {
        for (int d = 0; d < a.s.rank; d++) {
          if (a.s.dims[d] < 0) return;
          drop[d] = a.s.dims[d] == 1;
        }
      } else {
        for (int k = 0; k < na; k++) {
          if (!norm_axis(&v[k], a.s.rank)) return;
          drop[v[k]] = true;
        }
      }
      o->s.rank = 0;
      for (int d = 0; d < a.s.rank; d++)
        if (!drop[d]) o->s.dims[o->s.rank++] = a.s.dims[d];
    }
    o->nval = a.nval;
    memcpy(o->val, a.val, sizeof a.val);
    memcpy(o->known, a.known, sizeof a.known);
  } else if (!strcmp(op, "Concat")) {
    if (a.s.rank < 0) return;
    int64_t ax = kat__onnx_attr_int(n, "axis", 0);
    if (!norm_axis(&ax, a.s.rank)) return;
    *o = a;
    int64_t sum = 0;
    int nval = 0;
    for (size_t k = 0; k < n->n_input; k++) {
      in_info(t, n, k, &b);
      if (b.s.rank != a.s.rank) {
        unknown(o);
        return;
      }
      if (sum < 0 || b.s.dims[ax] < 0 || __builtin_add_overflow(sum, b.s.dims[ax], &sum)) sum = -1;
      for (int d = 0; d < a.s.rank; d++)
        if (d != ax && o->s.dims[d] < 0) o->s.dims[d] = b.s.dims[d];
      if (nval >= 0 && b.nval >= 0 && nval + b.nval <= R && a.s.rank == 1) {
        memcpy(o->val + nval, b.val, (size_t)b.nval * sizeof *b.val);
        memcpy(o->known + nval, b.known, (size_t)b.nval * sizeof *b.known);
        nval += b.nval;
      } else {
        nval = -1;
      }
    }
    o->s.dims[ax] = sum;
    o->nval = nval;
  } else if (!strcmp(op, "Reshape") || !strcmp(op, "Expand") || !strcmp(op, "ConstantOfShape")) {
    info sh;
    in_info(t, n, op[0] == 'C' ? 0 : 1, &sh);
    int cnt = sh.nval;
    if (cnt < 0 && sh.s.rank == 1 && sh.s.dims[0] >= 0 && sh.s.dims[0] <= R) {
      cnt = (int)sh.s.dims[0];
      memset(sh.known, 0, sizeof sh.known);
    }
    if (cnt < 0 || cnt > R) return;
    o->s.rank = cnt;
    for (int d = 0; d < cnt; d++) o->s.dims[d] = sh.known[d] && sh.val[d] >= 0 ? sh.val[d] : -1;
    if (op[0] == 'E') {
      /* Broadcast of the input with the target; an unknown target size (-1) against an input
       * size > 1 is the input size. */
      if (a.s.rank < 0) {
        unknown(o);
        return;
      }
      broadcast(o, &a);
    } else if (op[0] == 'R') {
      bool allowzero = kat__onnx_attr_int(n, "allowzero", 0) != 0;
      int infer = -1;
      for (int d = 0; d < cnt; d++) {
        if (!sh.known[d]) continue;
        if (sh.val[d] == 0 && !allowzero)
          o->s.dims[d] = a.s.rank > d ? a.s.dims[d] : -1;
        else if (sh.val[d] == -1)
          infer = d;
      }
      if (infer >= 0 && a.s.rank >= 0) {
        int64_t total = 1, rest = 1;
        bool ok = true;
        for (int d = 0; d < a.s.rank; d++)
          ok = ok && a.s.dims[d] >= 0 && !__builtin_mul_overflow(total, a.s.dims[d], &total);
        for (int d = 0; d < cnt; d++)
          if (d != infer)
            ok = ok && o->s.dims[d] > 0 && !__builtin_mul_overflow(rest, o->s.dims[d], &rest);
        o->s.dims[infer] = ok && total % rest == 0 ? total / rest : -1;
      }
    }
  } else if (!strcmp(op, "Transpose")) {
    if (a.s.rank < 0) return;
    int np = attr_ints(n, "perm", v);
    if (np < 0) {
      np = a.s.rank;
      for (int d = 0; d < np; d++) v[d] = np - 1 - d;
    }
    if (np != a.s.rank) return;
    o->s.rank = np;
    for (int d = 0; d < np; d++) {
      if (v[d] < 0 || v[d] >= np) {
        unknown(o);
        return;
      }
      o->s.dims[d] = a.s.dims[v[d]];
    }
  } else if (!strcmp(op, "Slice")) {
    infer_slice(t, n, opset, o);
  } else if (!strcmp(op, "Split")) {
    if (a.s.rank < 0 || n_out == 0) return;
    int64_t ax = kat__onnx_attr_int(n, "axis", 0);
    if (!norm_axis(&ax, a.s.rank)) return;
    int ns = opset >= 13 ? (n->n_input > 1 && *n->input[1] ? in_ints(t, n, 1, w) : -2)
                         : attr_ints(n, "split", w);
    if (opset < 13 && ns < 0) ns = -2;
    int64_t d = a.s.dims[ax];
    for (size_t k = 0; k < n_out; k++) {
      out[k] = a;
      out[k].nval = -1;
      if (ns == (int)n_out)
        out[k].s.dims[ax] = w[k];
      else if (ns == -2 && d >= 0 && d % (int64_t)n_out == 0)
        out[k].s.dims[ax] = d / (int64_t)n_out;
      else
        out[k].s.dims[ax] = -1;
    }
  } else if (!strcmp(op, "Flatten")) {
    if (a.s.rank < 0) return;
    int64_t ax = kat__onnx_attr_int(n, "axis", 1);
    if (ax < 0) ax += a.s.rank;
    if (ax < 0 || ax > a.s.rank) return;
    int64_t p = 1, q = 1;
    for (int d = 0; d < a.s.rank; d++) {
      int64_t *x = d < ax ? &p : &q;
      if (*x < 0 || a.s.dims[d] < 0 || __builtin_mul_overflow(*x, a.s.dims[d], x)) *x = -1;
    }
    o->s.rank = 2;
    o->s.dims[0] = p;
    o->s.dims[1] = q;
  } else if (!strcmp(op, "MatMul")) {
    in_info(t, n, 1, &b);
    if (a.s.rank < 1 || b.s.rank < 1) return;
    if (a.s.rank == 1 && b.s.rank == 1) {
      o->s.rank = 0;
    } else if (a.s.rank == 1) {
      *o = b;
      o->s.dims[b.s.rank - 2] = b.s.dims[b.s.rank - 1];
      o->s.rank = b.s.rank - 1;
    } else if (b.s.rank == 1) {
      *o = a;
      o->s.rank = a.s.rank - 1;
    } else {
      info ba = a, bb = b;
      ba.s.rank -= 2;
      bb.s.rank -= 2;
      broadcast(&ba, &bb);
      if (ba.s.rank + 2 > R) return;
      *o = ba;
      o->s.dims[o->s.rank] = a.s.dims[a.s.rank - 2];
      o->s.dims[o->s.rank + 1] = b.s.dims[b.s.rank - 1];
      o->s.rank += 2;
    }
    o->nval = -1;
  } else if (!strcmp(op, "Gemm")) {
    in_info(t, n, 1, &b);
    if (a.s.rank != 2 || b.s.rank != 2) return;
    o->s.rank = 2;
    o->s.dims[0] = a.s.dims[kat__onnx_attr_int(n, "transA", 0) ? 1 : 0];
    o->s.dims[1] = b.s.dims[kat__onnx_attr_int(n, "transB", 0) ? 0 : 1];
  } else if (!strcmp(op, "Range")) {
    int64_t s[1], l[1], d[1];
    o->s.rank = 1;
    o->s.dims[0] = -1;
    int64_t span;
    if (in_ints(t, n, 0, s) == 1 && in_ints(t, n, 1, l) == 1 && in_ints(t, n, 2, d) == 1 &&
        d[0] != 0 && d[0] != INT64_MIN && !__builtin_sub_overflow(l[0], s[0], &span)) {
      /* ceil(span / delta), 0 when the range is empty. */
      int64_t len = (span > 0) == (d[0] > 0) && span != 0
                        ? (span > 0 ? (span - 1) / d[0] + 1 : (span + 1) / d[0] + 1)
                        : 0;
      o->s.dims[0] = len;
    }
  }
  (void)g;
}

int kat__onnx_shapes_infer(const Onnx__GraphProto *g, int64_t opset, kat__onnx_shapes **out,
                           kat__errbuf *eb) {
  *out = NULL;
  size_t n = g->n_input + g->n_output + g->n_value_info + g->n_initializer;
  for (size_t i = 0; i < g->n_node; i++) n += g->node[i]->n_output;
  size_t cap = 16;
  while (cap < 2 * n + 16) cap *= 2;
  kat__onnx_shapes *t = kat__calloc(1, sizeof *t);
  if (t) t->slots = kat__calloc(cap, sizeof *t->slots);
  if (!t || !t->slots) {
    kat__onnx_shapes_destroy(t);
    return kat__fail(eb, KAT_ENOMEM, "out of memory");
  }
  t->cap = cap;
  int rc = KAT_OK;
  info v, outs[64];
  Onnx__ValueInfoProto **lists[3] = {g->input, g->output, g->value_info};
  size_t counts[3] = {g->n_input, g->n_output, g->n_value_info};
  for (int l = 0; l < 3 && !rc; l++)
    for (size_t i = 0; i < counts[l] && !rc; i++) {
      unknown(&v);
      kat__onnx_value_shape(lists[l][i], &v.s);
      rc = put(t, lists[l][i]->name, &v);
    }
  for (size_t i = 0; i < g->n_initializer && !rc; i++) {
    from_tensor(g->initializer[i], &v);
    rc = put(t, g->initializer[i]->name, &v);
  }
  for (int sweep = 0; sweep < 2 && !rc; sweep++)
    for (size_t i = 0; i < g->n_node && !rc; i++) {
      const Onnx__NodeProto *nd = g->node[i];
      size_t n_out = nd->n_output < 64 ? nd->n_output : 64;
      infer_node(t, g, nd, opset, outs, n_out);
      for (size_t k = 0; k < n_out && !rc; k++) rc = put(t, nd->output[k], &outs[k]);
    }
  if (rc) {
    kat__onnx_shapes_destroy(t);
    return kat__fail(eb, rc, "out of memory");
  }
  *out = t;
  return KAT_OK;
}

bool kat__onnx_shapes_get(const kat__onnx_shapes *t, const char *name, kat__onnx_shape *s) {
  if (!t) return false;
  info v;
  get(t, name, &v);
  *s = v.s;
  return v.s.rank >= 0;
}

int kat__onnx_shapes_values(const kat__onnx_shapes *t, const char *name, int64_t *val, bool *known,
                            int max) {
  if (!t) return -1;
  info v;
  get(t, name, &v);
  if (v.nval < 0) return -1;
  for (int j = 0; j < v.nval && j < max; j++) {
    val[j] = v.val[j];
    known[j] = v.known[j];
  }
  return v.nval;
}

void kat__onnx_shapes_destroy(kat__onnx_shapes *t) {
  if (!t) return;
  for (size_t i = 0; t->slots && i < t->cap; i++) kat__free(t->slots[i].key);
  kat__free(t->slots);
  kat__free(t);
}
