/* vlm-cli.h: the subcommands of vlm-pipeline and what they share. */
#pragma once

#include <vlm/vlm.h>

/* Exit codes: 0 success, 1 runtime error, 2 bad usage or invalid pipeline. */
enum { VLM_EXIT_OK = 0, VLM_EXIT_RUNTIME = 1, VLM_EXIT_USAGE = 2 };

typedef int (*VlmCliFunc) (int argc, char **argv);

typedef struct {
  const char *name;
  const char *summary;
  VlmCliFunc func;
} VlmCliCommand;

/* One line per subcommand, in cmd-<name>.c. */
int vlm_cli_generate (int argc, char **argv);
int vlm_cli_batch (int argc, char **argv);
int vlm_cli_run (int argc, char **argv);
int vlm_cli_validate (int argc, char **argv);
int vlm_cli_inspect (int argc, char **argv);
int vlm_cli_inspect_model (int argc, char **argv);
int vlm_cli_bench_ops (int argc, char **argv);
int vlm_cli_bench (int argc, char **argv);
int vlm_cli_convert (int argc, char **argv);
int vlm_cli_tokenize (int argc, char **argv);
int vlm_cli_detokenize (int argc, char **argv);
int vlm_cli_template (int argc, char **argv);
int vlm_cli_serve (int argc, char **argv);

int  vlm_cli_fail (GError *error);
int  vlm_cli_usage_error (GOptionContext *context, const char *format, ...) G_GNUC_PRINTF (2, 3);
gboolean vlm_cli_parse (GOptionContext *context, int *argc, char ***argv, int *exit_code);
void vlm_cli_setup_plugin_path (const char *argv0);
