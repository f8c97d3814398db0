/* test-processor-errors.c: bad prompts, missing images and malformed settings
 * give GErrors naming the problem, for every processor element. */
#include "processor-test-util.h"

#include <glib/gstdio.h>

static GError *
run_error (VlmPipeline *p, const char *image, const char *prompt)
{
  const char *images[] = { image, NULL };
  vlm_pipeline_set_images (p, images);
  vlm_pipeline_set_prompt (p, prompt);
  GError *error = NULL;
  g_assert_false (vlm_pipeline_run (p, NULL, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  return error;
}

typedef struct {
  const char *element;
  const char *arch;
  const char *prompt;      /* holds one image token too many for one image */
} Case;

static const Case cases[] = {
  { "llava-processor", "llava", "USER: <image><image>\nHi ASSISTANT:" },
  { "gemma3-processor", "gemma3", "<bos><start_of_image><start_of_image>Hi" },
  { "qwen2vl-processor", "qwen2_vl", "<|image_pad|><|image_pad|>Hi" },
};

static void
test_token_count (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *model = fixture_path ("arch", cases[i].arch, NULL);
    g_autofree char *image = fixture_path ("..", "images", "tiny-7x5.png", NULL);
    g_autoptr (VlmPipeline) p = processor_pipeline (model, cases[i].element, NULL);
    g_autoptr (GError) error = run_error (p, image, cases[i].prompt);
    g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "2"));
  }
}

/* A model folder whose preprocessor_config.json has a string filter id. */
static void
test_bad_settings (void)
{
  static const char *const elements[][2] = {
    { "paligemma-processor", "paligemma" }, { "llava-processor", "llava" },
    { "gemma3-processor", "gemma3" }, { "qwen2vl-processor", "qwen2_vl" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (elements); i++) {
    g_autofree char *arch = fixture_path ("arch", elements[i][1], NULL);
    g_autofree char *empty = g_dir_make_tmp ("vlm-settings-XXXXXX", NULL);
    char *model = model_dir_new (empty, arch);
    g_autofree char *settings = g_build_filename (model, "preprocessor_config.json", NULL);
    g_assert_true (g_file_set_contents (settings, "{\"resample\": \"bicubic\", "
                                        "\"image_seq_length\": 4}", -1, NULL));
    g_autofree char *image = fixture_path ("..", "images", "tiny-7x5.png", NULL);
    g_autoptr (VlmPipeline) p = processor_pipeline (model, elements[i][0], NULL);
    g_autoptr (GError) error = run_error (p, image, "Hi");
    g_assert_error (error, VLM_ERROR, VLM_ERROR_FORMAT);
    g_assert_nonnull (strstr (error->message, "preprocessor_config.json"));
    g_assert_nonnull (strstr (error->message, "resample"));
    model_dir_remove (model);
    g_rmdir (empty);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/processor-errors/token-count", test_token_count);
  g_test_add_func ("/processor-errors/bad-settings", test_bad_settings);
  return g_test_run ();
}
