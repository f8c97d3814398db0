/* test-plugin-loading.c: bad plugins are reported with file and reason and skipped. */
#include <vlm/vlm.h>
#include <string.h>

static void
test_bad_plugins (void)
{
  const char *dir = g_getenv ("VLM_TEST_BAD_PLUGIN_DIR");
  const char *cli = g_getenv ("VLM_CLI");
  g_assert_nonnull (dir);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "VLM_PLUGIN_PATH", dir, TRUE);
  g_autoptr (GSubprocess) proc = g_subprocess_launcher_spawn (launcher, &error, cli, "inspect", NULL);
  g_assert_no_error (error);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_true (g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, &err, &error));
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  /* Each bad plugin is named with its reason; the good ones still load. */
  g_assert_nonnull (strstr (err, "libwrong-abi.so"));
  g_assert_nonnull (strstr (err, "ABI version"));
  g_assert_nonnull (strstr (err, "libinit-fails.so"));
  g_assert_nonnull (strstr (err, "needs hardware this machine lacks"));
  g_assert_nonnull (strstr (err, "libnot-a-plugin.so"));
  g_assert_nonnull (strstr (err, "not a vlm-pipeline plugin"));
  g_assert_nonnull (strstr (out, "text-sink"));
  g_assert_null (strstr (out, "half-registered"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/plugins/bad-plugins-skipped", test_bad_plugins);
  return g_test_run ();
}
