/* test-text-elements: the "tokenizer" and "chat-template" elements of the text
 * plugin, made through the registry as a pipeline would, on fixture folders. */
#include <string.h>

#include <vlm/vlm.h>

#include "text-fixtures.h"

static void
set_string_input (VlmElement *e, const char *port, const char *s)
{
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_STRING);
  g_value_set_string (&v, s);
  vlm_element_set_input (e, port, &v);
  g_value_unset (&v);
}

static void
test_tokenizer_element (void)
{
  g_autoptr (GError) error = NULL;
  VlmRegistry *reg = vlm_registry_get_default ();
  g_autoptr (VlmElement) e = vlm_registry_make_element (reg, "tokenizer", "tok", &error);
  g_assert_no_error (error);
  g_assert_cmpint (vlm_element_class_get_kind (VLM_ELEMENT_GET_CLASS (e)), ==, VLM_ELEMENT_KIND_TOKENIZER);
  g_autofree char *dir = text_fixture_path ("fixtures", "tokenizers", "qwen2vl", NULL);
  g_object_set (e, "model", dir, NULL);
  const char *text = "Hello <|image_pad|> world";
  set_string_input (e, "text", text);
  g_assert_true (vlm_element_process (e, &error));
  g_assert_no_error (error);
  VlmTensor *ids = g_value_get_boxed (vlm_element_get_output (e, "ids"));
  VlmTokenizer *tok = g_value_get_object (vlm_element_get_output (e, "tokenizer"));
  g_assert_true (VLM_IS_TOKENIZER (tok));
  gsize n;
  g_autofree gint32 *want = vlm_tokenizer_encode (tok, text, TRUE, &n);
  g_assert_cmpint (vlm_tensor_get_dtype (ids), ==, VLM_DTYPE_I64);
  g_assert_cmpint (vlm_tensor_get_dim (ids, 0), ==, 1);
  g_assert_cmpint (vlm_tensor_get_dim (ids, 1), ==, n);
  const gint64 *got = vlm_tensor_get_data (ids);
  for (gsize i = 0; i < n; i++) g_assert_cmpint (got[i], ==, want[i]);
}

/* Without text the element still hands out the tokenizer (and no ids). */
static void
test_tokenizer_element_no_text (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmElement) e = vlm_registry_make_element (vlm_registry_get_default (), "tokenizer", "tok", &error);
  g_assert_no_error (error);
  g_autofree char *json = text_fixture_path ("fixtures", "tokenizers", "llama2", NULL);
  g_autofree char *path = g_build_filename (json, "tokenizer.json", NULL);
  g_object_set (e, "path", path, NULL);
  g_assert_true (vlm_element_process (e, &error));
  g_assert_no_error (error);
  VlmTensor *ids = g_value_get_boxed (vlm_element_get_output (e, "ids"));
  g_assert_cmpint (vlm_tensor_get_dim (ids, 1), ==, 0);
  g_assert_true (VLM_IS_TOKENIZER (g_value_get_object (vlm_element_get_output (e, "tokenizer"))));
}

static void
test_tokenizer_element_unset (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmElement) e = vlm_registry_make_element (vlm_registry_get_default (), "tokenizer", "tok", &error);
  g_assert_no_error (error);
  g_assert_false (vlm_element_process (e, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
}

static void
test_chat_template_element (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmElement) e = vlm_registry_make_element (vlm_registry_get_default (), "chat-template", "tmpl", &error);
  g_assert_no_error (error);
  g_autofree char *dir = text_fixture_path ("fixtures", "templates", "qwen2vl", NULL);
  g_object_set (e, "model", dir, NULL);
  set_string_input (e, "prompt", "What is this?");
  g_autoptr (VlmTensorSet) images = vlm_tensor_set_new ();
  gint64 shape[1] = { 1 };
  for (int i = 0; i < 2; i++) {
    g_autofree char *name = g_strdup_printf ("image%d", i);
    VlmTensor *t = vlm_tensor_new (VLM_DTYPE_U8, 1, shape);
    vlm_tensor_set_insert (images, name, t);
    vlm_tensor_unref (t);
  }
  GValue v = G_VALUE_INIT;
  g_value_init (&v, VLM_TYPE_TENSOR_SET);
  g_value_set_boxed (&v, images);
  vlm_element_set_input (e, "images", &v);
  g_value_unset (&v);
  g_assert_true (vlm_element_process (e, &error));
  g_assert_no_error (error);
  const char *text = g_value_get_string (vlm_element_get_output (e, "text"));
  /* The same conversation through the library must give the same prompt. */
  g_autoptr (JsonNode) messages = json_from_string (
      "[{\"role\": \"user\", \"content\": [{\"type\": \"image\"}, {\"type\": \"image\"},"
      " {\"type\": \"text\", \"text\": \"What is this?\"}]}]", NULL);
  g_autoptr (VlmChatTemplate) tmpl = vlm_chat_template_new_from_dir (dir, NULL, &error);
  g_assert_no_error (error);
  g_autofree char *want = vlm_chat_template_render (tmpl, messages, TRUE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, want);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/text/elements/tokenizer", test_tokenizer_element);
  g_test_add_func ("/text/elements/tokenizer-no-text", test_tokenizer_element_no_text);
  g_test_add_func ("/text/elements/tokenizer-unset", test_tokenizer_element_unset);
  g_test_add_func ("/text/elements/chat-template", test_chat_template_element);
  return g_test_run ();
}
