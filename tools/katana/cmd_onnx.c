/* katana onnx: placeholder until the subcommand lands; it says so and fails. */
#include <stdio.h>

#include "cli.h"

int kat_cmd_onnx(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "katana onnx: not available in this build yet\n");
  return 1;
}
