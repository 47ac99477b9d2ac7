/* katana doctor: placeholder until the runtime lands. */
#include <stdio.h>

#include "cli.h"

int kat_cmd_doctor(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "katana doctor: not available in this build yet\n");
  return 1;
}
