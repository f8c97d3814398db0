/* test-eval-shapes.c: the bundled demo model on the 90 evaluation questions must give the
 * reference's greedy tokens and text (eval/shapes/public.json). */
#include "model-test-util.h"

static void
test_eval (void)
{
  g_autofree char *eval_dir = fixture_path ("eval", "shapes", NULL);
  g_autofree char *public = g_build_filename (eval_dir, "public.json", NULL);
  g_autoptr (JsonNode) root = fixture_json (public);
  JsonArray *items = json_object_get_array_member (json_node_get_object (root), "items");
  g_autofree char *model = g_build_filename (g_getenv ("VLM_SOURCE_ROOT"), "models",
                                             "shapes-idefics3", NULL);
  g_autoptr (GError) error = NULL;
  /* One pipeline for all questions: weights load once. */
  g_autoptr (VlmPipeline) p = vlm_pipeline_new_for_model (model, &error);
  g_assert_no_error (error);
  g_auto (GStrv) ids = vlm_pipeline_list_node_ids (p);
  VlmElement *decoder = NULL;
  for (guint i = 0; ids[i]; i++)
    if (vlm_element_class_get_kind (VLM_ELEMENT_GET_CLASS (vlm_pipeline_get_element (p, ids[i])))
        == VLM_ELEMENT_KIND_DECODER)
      decoder = vlm_pipeline_get_element (p, ids[i]);
  g_assert_nonnull (decoder);
  g_object_set (decoder, "max-tokens", 8, NULL);

  guint n = json_array_get_length (items), matched = 0;
  GString *failures = g_string_new (NULL);
  for (guint i = 0; i < n; i++) {
    JsonObject *item = json_array_get_object_element (items, i);
    g_autofree char *image = g_build_filename (eval_dir, json_object_get_string_member (item, "image"), NULL);
    const char *images[] = { image, NULL };
    vlm_pipeline_set_images (p, images);
    vlm_pipeline_set_prompt (p, json_object_get_string_member (item, "question"));
    if (!vlm_pipeline_run (p, NULL, &error))
      g_error ("item %u: %s", i, error->message);
    VlmTensor *tokens = pipeline_output (p, "tokens");
    JsonArray *ref = json_object_get_array_member (item, "reference_tokens");
    gboolean same = vlm_tensor_get_numel (tokens) == json_array_get_length (ref);
    const gint64 *t = vlm_tensor_get_data (tokens);
    for (guint k = 0; same && k < json_array_get_length (ref); k++)
      same = t[k] == json_array_get_int_element (ref, k);
    const GValue *text = vlm_element_get_output (decoder, "text");
    same = same && g_strcmp0 (g_value_get_string (text),
                              json_object_get_string_member (item, "reference_text")) == 0;
    if (same)
      matched++;
    else
      g_string_append_printf (failures, "  %s \"%s\": got \"%s\"\n",
                              json_object_get_string_member (item, "image"),
                              json_object_get_string_member (item, "question"),
                              g_value_get_string (text));
  }
  g_test_message ("shapes eval: %u of %u answers identical to the reference", matched, n);
  g_print ("# shapes eval: %u of %u answers identical to the reference\n", matched, n);
  if (matched != n)
    g_error ("%u answers differ from the reference:\n%s", n - matched, failures->str);
  g_string_free (failures, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/eval/shapes", test_eval);
  return g_test_run ();
}
