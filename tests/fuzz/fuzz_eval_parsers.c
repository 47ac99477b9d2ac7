/*
 * libFuzzer target for the evaluation readers (src/tools/eval/boxfile.c, jsonl.c, mask.c): every
 * input is parsed as a LaSOT box file, as results.jsonl and as a LaSOT flag file. Nothing may
 * crash, leak or read out of bounds; errors are expected and ignored. The input is not
 * NUL-terminated, as a real file read by kat__read_file would be, so the parsers must respect
 * `size`.
 *
 * Run: build/tests/fuzz/fuzz_eval_parsers tests/fuzz/corpus/eval -max_len=4096
 */
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "tools/eval/results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  char err[256];
  kat__eval_box *boxes = NULL;
  size_t n = 0;
  if (kat__boxfile_parse(text, size, "fuzz", &boxes, &n, err, sizeof err) == KAT_OK)
    kat__free(boxes);
  kat__jsonl_record *rec = NULL;
  if (kat__jsonl_parse(text, size, "fuzz", &rec, &n, err, sizeof err) == KAT_OK) kat__free(rec);
  uint8_t flags[64];
  (void)kat__flags_parse(text, size, "fuzz", flags, size < 64 ? size : 64, err, sizeof err);
  return 0;
}
