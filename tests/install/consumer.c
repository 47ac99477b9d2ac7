/*
 * A downstream C program built against an installed katana (pkg-config or CMake, shared or
 * static). Usage: consumer EXPECTED_MODEL_DIR|none. Checks the public API answers (a preset, a
 * status name, ONNX Runtime loaded) and that kat_default_model_path() is EXPECTED_MODEL_DIR, or
 * NULL for "none". Exit 0 on success, 1 with a message otherwise.
 */
#include <katana/katana.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: consumer EXPECTED_MODEL_DIR|none\n");
    return 1;
  }
  kat_ep_profile p;
  if (kat_ep_profile_preset("cpu", &p) != KAT_OK) {
    fprintf(stderr, "consumer: kat_ep_profile_preset(cpu) failed\n");
    return 1;
  }
  if (strcmp(kat_status_name(KAT_EINVAL), "KAT_EINVAL") != 0) {
    fprintf(stderr, "consumer: kat_status_name(KAT_EINVAL) is %s\n", kat_status_name(KAT_EINVAL));
    return 1;
  }
  const char *ort = kat_ort_version();
  if (!ort || !ort[0]) {
    fprintf(stderr, "consumer: ONNX Runtime did not load\n");
    return 1;
  }
  const char *model = kat_default_model_path();
  const char *want = strcmp(argv[1], "none") == 0 ? NULL : argv[1];
  if ((model == NULL) != (want == NULL) || (model && strcmp(model, want) != 0)) {
    fprintf(stderr, "consumer: kat_default_model_path() is %s, expected %s\n",
            model ? model : "NULL", want ? want : "NULL");
    return 1;
  }
  printf("katana %s on onnxruntime %s, default model %s\n", kat_version(), ort,
         model ? model : "(none)");
  return 0;
}
