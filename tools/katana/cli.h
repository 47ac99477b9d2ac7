/*
 * The katana command-line tool: one function per subcommand, each in its own cmd_<name>.c.
 * The tool uses libkatana's public API (include/katana/) and the tools library katana_tools
 * (src/bench/, src/tools/<area>/: bench, eval, onnx, synth, batch manifests), whose headers are
 * internal and unstable; nothing else of src/.
 */
#ifndef KAT_CLI_H
#define KAT_CLI_H

#include "bench/bench.h"
#include "tools/batch/batch.h"
#include "tools/eval/eval.h"
#include "tools/onnx/onnx.h"
#include "tools/synth/synth.h"

/* Each returns the process exit status: 0 on success, 1 on failure, 2 on a usage error. */
int kat_cmd_doctor(int argc, char **argv);
int kat_cmd_track(int argc, char **argv);
int kat_cmd_bench(int argc, char **argv);
int kat_cmd_eval(int argc, char **argv);
int kat_cmd_onnx(int argc, char **argv);
int kat_cmd_synth(int argc, char **argv);
int kat_cmd_batch(int argc, char **argv);

#endif
