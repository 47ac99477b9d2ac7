/* A downstream program built against the installed katana through pkg-config or CMake. */
#include <katana/katana.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  kat_ep_profile p;
  if (kat_ep_profile_preset("cpu", &p) != KAT_OK) return 1;
  if (strcmp(kat_status_name(KAT_EINVAL), "KAT_EINVAL") != 0) return 1;
  printf("katana %s on onnxruntime %s\n", kat_version(), kat_ort_version());
  return 0;
}
