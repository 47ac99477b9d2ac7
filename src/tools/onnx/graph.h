/*
 * ONNX graph I/O and editing helpers over protobuf-c's generated onnx.proto structs.
 *
 * A kat__onnx_model owns one Onnx__ModelProto unpacked with katana's allocator (kat__malloc), so
 * every string, array and message a rewrite adds must also come from kat__malloc/kat__strdup:
 * protobuf_c_message_free_unpacked() then frees the edited tree as one. The original file bytes
 * are kept so an unchanged model can be written back byte for byte.
 *
 * Thread-safety: a model is used by one thread at a time; the functions keep no global state.
 */
#ifndef KAT_ONNX_GRAPH_H
#define KAT_ONNX_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "onnx/onnx.pb-c.h"

/* ONNX TensorProto.DataType values used here. */
enum {
  KAT_ONNX_FLOAT = 1,
  KAT_ONNX_UINT8 = 2,
  KAT_ONNX_INT8 = 3,
  KAT_ONNX_INT32 = 6,
  KAT_ONNX_INT64 = 7,
  KAT_ONNX_STRING = 8,
  KAT_ONNX_BOOL = 9,
  KAT_ONNX_FLOAT16 = 10,
  KAT_ONNX_DOUBLE = 11
};

#define KAT_ONNX_MAX_RANK 8
#define KAT_ONNX_PATH_MAX 4096

typedef struct kat__onnx_model {
  Onnx__ModelProto *proto; /* owned; proto->graph is never NULL after a successful load */
  uint8_t *bytes;          /* owned: the serialized model as read (before external data) */
  size_t size;
  char path[KAT_ONNX_PATH_MAX]; /* file the model came from ("<memory>" for buffers) */
  int n_external;               /* tensors that referenced external data in the file */
  char ext_files[8][256];       /* the first distinct external data files read in */
  int n_ext_files;
} kat__onnx_model;

/* Shape of a value as declared in the graph (inputs, outputs, value_info). */
typedef struct kat__onnx_shape {
  int rank;                              /* -1 when unknown */
  int64_t dims[KAT_ONNX_MAX_RANK];       /* -1 where symbolic or unknown */
  const char *params[KAT_ONNX_MAX_RANK]; /* borrowed dim_param names, NULL when none */
  int32_t elem_type;                     /* 0 when unknown */
} kat__onnx_shape;

/*
 * Loads an ONNX model file. With `resolve_external`, tensors stored in external data files
 * (relative to the model's folder) are read in and made inline. Malformed or truncated files give
 * KAT_EFORMAT naming the file; a missing file KAT_ENOENT; *out stays NULL on failure.
 */
int kat__onnx_load(const char *path, bool resolve_external, kat__onnx_model **out, kat__errbuf *eb);
/* Parses a model from memory (`data` is copied). External data is not resolved. */
int kat__onnx_load_buffer(const void *data, size_t size, const char *label, kat__onnx_model **out,
                          kat__errbuf *eb);
void kat__onnx_destroy(kat__onnx_model *m);

/* Serializes the (edited) model into a kat__malloc'ed buffer the caller frees with kat__free. */
int kat__onnx_serialize(const kat__onnx_model *m, uint8_t **buf, size_t *size, kat__errbuf *eb);
/* Writes `size` bytes to `path` through a temporary file and a rename. */
int kat__onnx_write_file(const char *path, const void *data, size_t size, kat__errbuf *eb);

/* Opset version imported for `domain` ("" or "ai.onnx" for the default domain), or 0. */
int64_t kat__onnx_opset(const kat__onnx_model *m, const char *domain);

/* ---- lookups ---- */

/* Attribute of `node` by name, or NULL. */
const Onnx__AttributeProto *kat__onnx_attr(const Onnx__NodeProto *node, const char *name);
int64_t kat__onnx_attr_int(const Onnx__NodeProto *node, const char *name, int64_t def);
/* Initializer named `name`, or the value of the Constant node producing it, or NULL. */
const Onnx__TensorProto *kat__onnx_const(const Onnx__GraphProto *g, const char *name);
/* Number of elements of a tensor (product of dims); false on overflow. */
bool kat__onnx_tensor_numel(const Onnx__TensorProto *t, size_t *n);
/* Reads up to `max` integers of an int32/int64 tensor; KAT_EFORMAT if inconsistent. */
int kat__onnx_tensor_ints(const Onnx__TensorProto *t, int64_t *out, size_t max, size_t *n);
/* Declared shape of a graph input/output/value_info named `name`; false if not declared. */
bool kat__onnx_shape_of(const Onnx__GraphProto *g, const char *name, kat__onnx_shape *s);
/* Shape of a ValueInfoProto. */
void kat__onnx_value_shape(const Onnx__ValueInfoProto *v, kat__onnx_shape *s);
/* Index of the node producing `name`, or -1; number of node inputs consuming it. */
int kat__onnx_producer(const Onnx__GraphProto *g, const char *name);
int kat__onnx_consumers(const Onnx__GraphProto *g, const char *name);
bool kat__onnx_is_graph_output(const Onnx__GraphProto *g, const char *name);
bool kat__onnx_is_graph_input(const Onnx__GraphProto *g, const char *name);
/* True if any node or graph value already uses `name`. */
bool kat__onnx_name_used(const Onnx__GraphProto *g, const char *name);

/* ---- edits (every new object is allocated with kat__malloc) ---- */

/* A new node with the given inputs/outputs (copied). NULL when out of memory. */
Onnx__NodeProto *kat__onnx_node_new(const char *op_type, const char *name, size_t n_in,
                                    const char *const *in, size_t n_out, const char *const *out);
int kat__onnx_node_set_int(Onnx__NodeProto *n, const char *name, int64_t v);
int kat__onnx_node_set_ints(Onnx__NodeProto *n, const char *name, const int64_t *v, size_t count);
/* Attaches `t` (ownership moves to the node) as tensor attribute `name`. */
int kat__onnx_node_set_tensor(Onnx__NodeProto *n, const char *name, Onnx__TensorProto *t);
/* Inserts `n` (ownership moves to the graph) before position `pos` (n_node appends). */
int kat__onnx_graph_insert(Onnx__GraphProto *g, size_t pos, Onnx__NodeProto *n);
/* Frees and removes node `pos`. */
void kat__onnx_graph_remove(Onnx__GraphProto *g, size_t pos);
/* An int64 tensor with `dims`/`values` (copied); NULL when out of memory. */
Onnx__TensorProto *kat__onnx_tensor_i64(const char *name, const int64_t *dims, size_t rank,
                                        const int64_t *values, size_t count);
/* Appends initializer `t` (ownership moves to the graph). */
int kat__onnx_graph_add_initializer(Onnx__GraphProto *g, Onnx__TensorProto *t);
/* Appends a graph output named `name` of elem type `elem` with an unknown shape. */
int kat__onnx_graph_add_output(Onnx__GraphProto *g, const char *name, int32_t elem,
                               const kat__onnx_shape *shape);
/* Replaces a string owned by the tree (kat__free the old one). */
int kat__onnx_set_str(char **slot, const char *value);
/* Writes a fresh value name "<base>__kat<N>" not used in the graph into `out`. */
void kat__onnx_fresh_name(const Onnx__GraphProto *g, const char *base, unsigned *counter, char *out,
                          size_t out_size);
/* Removes nodes whose outputs nobody consumes (not graph outputs); returns how many. */
size_t kat__onnx_prune_dead(Onnx__GraphProto *g);
/* Removes initializers nobody consumes; returns how many. */
size_t kat__onnx_prune_initializers(Onnx__GraphProto *g);

/* ---- element types of every value, inferred op by op (value_info wins when present) ---- */

typedef struct kat__onnx_types kat__onnx_types;
int kat__onnx_types_infer(const Onnx__GraphProto *g, kat__onnx_types **out, kat__errbuf *eb);
int32_t kat__onnx_types_get(const kat__onnx_types *t, const char *name);
void kat__onnx_types_destroy(kat__onnx_types *t);
/* The same map used as a plain name -> nonzero int32 map sized for `g` (keys are borrowed and
 * must outlive the map; setting 0 is ignored). */
int kat__onnx_map_create(const Onnx__GraphProto *g, kat__onnx_types **out);
void kat__onnx_map_set(kat__onnx_types *t, const char *key, int32_t value);

/* Name of an ONNX element type ("float32", ...). */
const char *kat__onnx_elem_name(int32_t elem);
size_t kat__onnx_elem_size(int32_t elem);

/* Frees a message of the tree (any protobuf-c message allocated with kat__malloc). */
void kat__onnx_free_message(void *msg);
/* Replaces node `pos` (freed) by `n` (ownership moves to the graph). */
void kat__onnx_graph_replace(Onnx__GraphProto *g, size_t pos, Onnx__NodeProto *n);

/* Counts nodes of `op_type` in the top-level graph. */
size_t kat__onnx_count_op(const Onnx__GraphProto *g, const char *op_type);

#endif /* KAT_ONNX_GRAPH_H */
