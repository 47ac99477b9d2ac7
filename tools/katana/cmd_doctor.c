/*
 * katana doctor: versions, library paths, CPU, providers, and a one-line verdict per preset.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "katana/katana.h"
#include "tools/onnx/onnx.h"
#include "katana/system.h"

int kat_cmd_doctor(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf(
        "usage: katana doctor [--model BUNDLE]\n\nReports katana, ONNX Runtime and FFmpeg "
        "versions, the CPU, the\n"
        "execution providers, and whether each preset can run here. With --model, also the\n"
        "bundle's per-module precision (fp32, fp16, int8).\n");
    return 0;
  }
  const char *model = NULL;
  for (int i = 1; i < argc; i++) {
    if ((!strcmp(argv[i], "--model") || !strcmp(argv[i], "--bundle")) && i + 1 < argc) {
      model = argv[++i];
    } else {
      fprintf(stderr,
              "katana doctor: unexpected argument %s (usage: katana doctor [--model "
              "BUNDLE])\n",
              argv[i]);
      return 2;
    }
  }
  kat_system_info si;
  kat_system_info_get(&si);
  printf("katana        %s\n", si.katana_version);
  printf("onnxruntime   %s  (%s)\n", si.ort_version, si.ort_library[0] ? si.ort_library : "?");
  printf("  compiled-in providers: %s\n", si.ort_providers);
  printf("ffmpeg        %s\n", si.ffmpeg);
  printf("os            %s\n", si.os);
  printf("cpu           %s, %d logical cores\n", si.cpu_model[0] ? si.cpu_model : "unknown",
         si.logical_cores);
  printf("  features:   %s\n", si.cpu_features[0] ? si.cpu_features : "(none detected)");
  printf("  int8:       reduce_range %s (%s)\n", si.int8_reduce_range ? "on" : "off",
         si.int8_advice);
  printf("gpu           %s\n", si.gpu[0] ? si.gpu : "none found (nvidia-smi)");
  int model_rc = 0;
  if (model) {
    char prec[512], err[1024];
    if (kat__onnx_bundle_precision(model, prec, sizeof prec, err, sizeof err) == KAT_OK) {
      printf("model         %s\n  precision:  %s\n", model, prec);
    } else {
      printf("model         %s: %s\n", model, err);
      model_rc = 1;
    }
  }
  printf("\npresets:\n");
  static const char *const presets[] = {"cpu", "cuda", "tensorrt", "mac"};
  int usable = 0;
  for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
    kat_ep_profile p;
    kat_ep_profile_preset(presets[i], &p);
    char why[1024];
    int rc = kat_ep_check(p.module[0].kind, why, sizeof why);
    /* Keep the verdict to one line: the first line of the provider's reason. */
    char *nl = strchr(why, '\n');
    if (nl) *nl = '\0';
    /* ORT prefixes its reason with a source location; keep the part a person can act on. */
    const char *reason = strstr(why, "FAIL : ");
    reason = reason ? reason + strlen("FAIL : ") : why;
    if (rc == KAT_OK) usable++;
    if (rc == KAT_OK)
      printf("  %-9s usable (%s)\n", presets[i], kat_ep_ort_name(p.module[0].kind));
    else
      printf("  %-9s not usable here: %s\n", presets[i], reason);
    if (rc != KAT_OK && strstr(reason, "providers_shared"))
      printf(
          "            (this ONNX Runtime has no GPU provider libraries: build katana against a\n"
          "             GPU build of ONNX Runtime with ORT_ROOT=/path/to/onnxruntime)\n");
  }
  return usable > 0 && model_rc == 0 ? 0 : 1;
}
