/* main.c: `vlm-pipeline SUBCOMMAND ...` dispatch. */
#include "vlm-cli.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

static const VlmCliCommand commands[] = {
  { "generate", "answer a question about images with a model", vlm_cli_generate },
  { "batch", "answer a JSONL file of requests, resumable", vlm_cli_batch },
  { "run", "run a pipeline JSON file", vlm_cli_run },
  { "validate", "check a pipeline JSON file without running it", vlm_cli_validate },
  { "inspect", "list elements, or show one element's ports and properties", vlm_cli_inspect },
  { "inspect-model", "summarise a model folder: architecture, tensors, quantization", vlm_cli_inspect_model },
  { "bench", "time loading, preprocessing, vision, prefill and decode of a model", vlm_cli_bench },
  { "convert", "rewrite a model folder in the mlx layout, optionally quantized", vlm_cli_convert },
  { "bench-ops", "measure sgemm and GEMV speed per weight format", vlm_cli_bench_ops },
  { "tokenize", "encode text with a model's tokenizer", vlm_cli_tokenize },
  { "detokenize", "decode token ids with a model's tokenizer", vlm_cli_detokenize },
  { "template", "render a conversation with a model's chat template", vlm_cli_template },
  { "serve", "serve a model over HTTP (OpenAI chat completions API)", vlm_cli_serve },
};

static void
print_help (FILE *out)
{
  fprintf (out, "Usage: vlm-pipeline COMMAND [OPTIONS...]\n\n"
                "Run vision-language models on the CPU.\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-14s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nOptions:\n  -h, --help     show this help\n  --version      print the version\n"
                "\n`vlm-pipeline COMMAND --help` describes a command.\n");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  vlm_cli_setup_plugin_path (argv[0]);
  if (argc < 2) {
    print_help (stderr);
    return VLM_EXIT_USAGE;
  }
  if (!strcmp (argv[1], "--help") || !strcmp (argv[1], "-h") || !strcmp (argv[1], "help")) {
    print_help (stdout);
    return VLM_EXIT_OK;
  }
  if (!strcmp (argv[1], "--version")) {
    printf ("vlm-pipeline %s (plugin ABI %d)\n", VLM_VERSION_STRING, VLM_PLUGIN_ABI_VERSION);
    return VLM_EXIT_OK;
  }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (!strcmp (argv[1], commands[i].name)) {
      /* --help of a subcommand then reads "vlm-pipeline COMMAND [OPTION…]". */
      g_autofree char *prgname = g_strdup_printf ("vlm-pipeline %s", commands[i].name);
      g_set_prgname (prgname);
      return commands[i].func (argc - 1, argv + 1);
    }
  g_printerr ("vlm-pipeline: unknown command '%s'\n", argv[1]);
  print_help (stderr);
  return VLM_EXIT_USAGE;
}
