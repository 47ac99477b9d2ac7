/*
 * libFuzzer target for the ONNX reader and the graph passes that need no ONNX Runtime: parses
 * the input as a ModelProto, and when it parses, builds the inspect report, infers element
 * types, runs gather-to-split, expose-multimask and fp16 on it, and serializes the result.
 * Any input must end in a status, never a crash, leak or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>

#include "tools/onnx/graph.h"
#include "tools/onnx/inspect.h"
#include "tools/onnx/passes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kat__onnx_model *m = NULL;
  kat__errbuf eb;
  if (kat__onnx_load_buffer(data, size, "fuzz.onnx", &m, &eb) != KAT_OK) return 0;
  kat__sb sb = {0};
  kat__onnx_inspect_text(m, &sb);
  kat__onnx_types *t = NULL;
  if (kat__onnx_types_infer(m->proto->graph, &t, &eb) == KAT_OK) kat__onnx_types_destroy(t);
  kat__onnx_rewrite_options o;
  kat__onnx_rewrite_options_init(&o);
  kat__pass_ctx c = {.opt = &o, .log = &sb};
  int changed = 0;
  kat__pass_gather_to_split(m, &c, &changed, &eb);
  kat__pass_expose_multimask(m, &c, &changed, &eb);
  kat__pass_fp16(m, &c, &changed, &eb);
  uint8_t *buf = NULL;
  size_t n = 0;
  if (kat__onnx_serialize(m, &buf, &n, &eb) == KAT_OK) {
    /* What we write must parse again. */
    kat__onnx_model *again = NULL;
    if (kat__onnx_load_buffer(buf, n, "fuzz-out.onnx", &again, &eb) != KAT_OK) __builtin_trap();
    kat__onnx_destroy(again);
  }
  kat__free(buf);
  kat__free(kat__sb_take(&sb));
  kat__onnx_destroy(m);
  return 0;
}
