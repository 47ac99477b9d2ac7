/*
 * libFuzzer target for the JSON parser and the manifest reader (src/model/json.c, manifest.c).
 * Each input is parsed as a generic JSON document (then walked with the DOM getters, so every
 * accessor sees adversarial trees) and as a katana.json manifest. Nothing may crash, leak, read
 * out of bounds or recurse without bound; errors are expected and ignored.
 *
 * Build: cmake -DCMAKE_C_COMPILER=clang -DKAT_FUZZ=ON ... (tests/fuzz/CMakeLists.txt)
 * Run:   build/tests/fuzz/fuzz_manifest CORPUS_DIR tests/fuzz/corpus/manifest -max_len=65536
 * Replay (any compiler): build/tests/fuzz/fuzz_manifest_replay tests/fuzz/corpus/manifest
 */
#include <stddef.h>
#include <stdint.h>

#include "model/json.h"
#include "model/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Visits every value with an explicit stack (the DOM is at most max_depth deep anyway). */
static size_t walk(const kat__json *root) {
  const kat__json *stack[64];
  size_t idx[64], seen = 0;
  int top = 0;
  stack[0] = root;
  idx[0] = 0;
  while (top >= 0) {
    const kat__json *v = stack[top];
    bool b;
    double d;
    int64_t i;
    size_t len;
    int line, col;
    if (idx[top] == 0) {
      seen++;
      (void)kat__json_bool(v, &b);
      (void)kat__json_double(v, &d);
      (void)kat__json_int64(v, &i);
      (void)kat__json_string(v, &len);
      kat__json_pos(v, &line, &col);
      const char *key = kat__json_key(v);
      if (key) (void)kat__json_get(v, key);
    }
    if (idx[top] < kat__json_len(v) && top + 1 < 64) {
      stack[top + 1] = kat__json_at(v, idx[top]++);
      idx[++top] = 0;
    } else {
      top--;
    }
  }
  return seen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static kat__manifest m; /* ~80 KiB: keep it off the stack */
  kat__errbuf eb;
  kat__json_doc *doc = NULL;
  kat__json_limits lim = {1 << 20, 1 << 16, 64};
  if (kat__json_parse((const char *)data, size, "fuzz.json", &lim, &doc, &eb) == KAT_OK) {
    (void)walk(kat__json_root(doc));
    (void)kat__json_get(kat__json_root(doc), "modules");
    kat__json_destroy(doc);
  }
  (void)kat__manifest_parse((const char *)data, size, "fuzz.json", &m, &eb);
  return 0;
}
