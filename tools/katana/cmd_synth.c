/* katana synth: placeholder until the subcommand lands; it says so and fails. */
#include <stdio.h>

#include "cli.h"

int kat_cmd_synth(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "katana synth: not available in this build yet\n");
  return 1;
}
