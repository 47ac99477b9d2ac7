// A downstream C++ program built against an installed katana: the public headers compile as
// C++ (extern "C", no C-only constructs) and link. Usage and checks as consumer.c.
#include <katana/katana.h>

#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer_cpp EXPECTED_MODEL_DIR|none\n");
    return 1;
  }
  kat_ep_profile p;
  if (kat_ep_profile_preset("cpu", &p) != KAT_OK) {
    std::fprintf(stderr, "consumer_cpp: kat_ep_profile_preset(cpu) failed\n");
    return 1;
  }
  if (std::string(kat_strerror(KAT_ENOENT)).empty() ||
      std::strcmp(kat_status_name(KAT_EMODEL), "KAT_EMODEL") != 0) {
    std::fprintf(stderr, "consumer_cpp: status names are wrong\n");
    return 1;
  }
  const char *model = kat_default_model_path();
  const std::string want = argv[1];
  const std::string got = model ? model : "none";
  if (got != want) {
    std::fprintf(stderr, "consumer_cpp: kat_default_model_path() is %s, expected %s\n", got.c_str(),
                 want.c_str());
    return 1;
  }
  std::printf("katana %s (C++) on onnxruntime %s, default model %s\n", kat_version(),
              kat_ort_version(), got.c_str());
  return 0;
}
