/*
 * katana: entry point of the command-line tool; dispatches to the subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "katana/katana.h"

typedef struct command {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *help;
} command;

static const command k_commands[] = {
    {"track", kat_cmd_track, "track one object through a video from a box"},
    {"batch", kat_cmd_batch, "track many videos from a manifest, resumable and sharded"},
    {"bench", kat_cmd_bench, "measure per-module and end-to-end latency"},
    {"eval", kat_cmd_eval, "score results against ground truth or another run"},
    {"onnx", kat_cmd_onnx, "inspect ONNX models, EP coverage, graph rewrites"},
    {"synth", kat_cmd_synth, "generate synthetic tracking clips with ground truth"},
    {"doctor", kat_cmd_doctor, "report versions, providers and what runs here"},
};

static void usage(FILE *f) {
  fprintf(f, "katana %s: SAMURAI video object tracking on ONNX Runtime\n\n", kat_version());
  fprintf(f, "usage: katana <command> [options]   (katana <command> --help for details)\n\n");
  for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
    fprintf(f, "  %-8s %s\n", k_commands[i].name, k_commands[i].help);
  fprintf(f, "  %-8s %s\n", "version", "print the version");
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
    printf("katana %s\n", kat_version());
    return 0;
  }
  for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
    if (strcmp(argv[1], k_commands[i].name) == 0) return k_commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "katana: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
