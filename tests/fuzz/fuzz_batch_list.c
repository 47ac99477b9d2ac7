/*
 * libFuzzer target for the batch manifest parser (src/tools/batch/list.c): every input is parsed as
 * a JSONL manifest and as a CSV manifest. Nothing may crash, leak or read out of bounds; broken
 * lines become entries with an error and are walked like good ones.
 *
 * Run: build-fuzz/tests/fuzz/fuzz_batch_list tests/fuzz/corpus/batch -max_len=65536
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tools/batch/list.h"
#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const names[2] = {"dir/m.jsonl", "dir/m.csv"};
  char *text = kat__malloc(size + 1);
  if (!text) return 0;
  for (int k = 0; k < 2; k++) {
    memcpy(text, data, size);
    text[size] = '\0';
    char err[256];
    kat__batch_manifest *m = NULL;
    if (kat__batch_manifest_parse(text, size, names[k], &m, err, sizeof err) == KAT_OK) {
      size_t sum = 0;
      for (size_t i = 0; i < kat__batch_manifest_count(m); i++) {
        const kat__batch_entry *e = kat__batch_manifest_entry(m, i);
        const size_t np = e->prompts ? e->prompts->count : 0;
        sum += strlen(e->id) + (e->source ? strlen(e->source) : 0) + np;
        for (size_t p = 0; p < np; p++) {
          const kat_prompt *pr = &e->prompts->entries[p].prompt;
          sum += pr->n_points ? (size_t)pr->points[0][0] : 0;
        }
      }
      (void)sum;
    }
    kat__batch_manifest_destroy(m);
  }
  kat__free(text);
  return 0;
}
