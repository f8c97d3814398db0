/* vlm-cli-common.c: error reporting and option parsing shared by subcommands. */
#include "vlm-cli.h"
#include "vlm-config.h"

#include <stdio.h>

/* Prints the error and picks the exit code: invalid input is a usage error (2). */
int
vlm_cli_fail (GError *error)
{
  int code = g_error_matches (error, VLM_ERROR, VLM_ERROR_INVALID) ? VLM_EXIT_USAGE
                                                                   : VLM_EXIT_RUNTIME;
  g_printerr ("vlm-pipeline: error: %s\n", error->message);
  g_error_free (error);
  return code;
}

int
vlm_cli_usage_error (GOptionContext *context, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("vlm-pipeline: %s\n(see --help)\n", msg);
  return VLM_EXIT_USAGE;
}

gboolean
vlm_cli_parse (GOptionContext *context, int *argc, char ***argv, int *exit_code)
{
  GError *error = NULL;
  if (!g_option_context_parse (context, argc, argv, &error)) {
    *exit_code = vlm_cli_usage_error (context, "%s", error->message);
    g_error_free (error);
    return FALSE;
  }
  return TRUE;
}

/* An uninstalled build finds its plugins beside it, as GStreamer's uninstalled
 * setups do; installed binaries use the configured plugin folder. */
void
vlm_cli_setup_plugin_path (const char *argv0)
{
  if (g_getenv ("VLM_PLUGIN_SYSTEM_PATH"))
    return;
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  if (!exe)
    return;
  g_autofree char *dir = g_path_get_dirname (exe);
  g_autofree char *build_cli = g_build_filename (VLM_BUILD_ROOT, "core", "cli", NULL);
  g_autofree char *canon_dir = g_canonicalize_filename (dir, NULL);
  g_autofree char *canon_build = g_canonicalize_filename (build_cli, NULL);
  if (g_str_equal (canon_dir, canon_build)) {
    g_autofree char *plugins = g_build_filename (VLM_BUILD_ROOT, "plugins", NULL);
    g_setenv ("VLM_PLUGIN_SYSTEM_PATH", plugins, TRUE);
  }
}
