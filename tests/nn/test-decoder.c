/* test-decoder.c: the llama-decoder against the reference on arch/idefics3 (HF, BF16) and
 * arch/smolvlm (mlx, 4-bit): merged embeddings, final hidden states, last logits and greedy
 * tokens; KV-cache decoding against full recomputation; stop strings and streaming. */
#include "nn-test-util.h"

#include "nn/generate.h"

#include <string.h>

static const char *const archs[] = { "idefics3", "smolvlm" };

static VlmTensor *
output_tensor (VlmElement *e, const char *port)
{
  const GValue *v = vlm_element_get_output (e, port);
  g_assert_nonnull (v);
  return g_value_get_boxed (v);
}

static void
check_close (VlmElement *e, const char *arch, const char *name)
{
  VlmTensor *got = output_tensor (e, name);
  g_autoptr (VlmTensor) want = nn_golden (arch, name);
  g_assert_cmpint (vlm_tensor_get_numel (got), ==, vlm_tensor_get_numel (want));
  double err = nn_rel_l2 (vlm_tensor_get_data (got), vlm_tensor_get_data (want),
                          vlm_tensor_get_numel (want));
  g_test_message ("%s %s: relative L2 %.3g", arch, name, err);
  g_assert_cmpfloat (err, <, 1e-3);
}

static void
check_tokens (VlmElement *e, VlmTensor *want, gint64 n)
{
  VlmTensor *got = output_tensor (e, "tokens");
  g_assert_cmpint (vlm_tensor_get_dtype (got), ==, VLM_DTYPE_I64);
  g_assert_cmpint (vlm_tensor_get_numel (got), ==, n);
  const gint64 *g = vlm_tensor_get_data (got), *w = vlm_tensor_get_data (want);
  for (gint64 i = 0; i < n; i++)
    g_assert_cmpint (g[i], ==, w[i]);
}

static void
test_golden (gconstpointer data)
{
  const char *arch = data;
  g_autoptr (VlmTensor) ids = nn_golden (arch, "input_ids");
  g_autoptr (VlmTensor) feats = nn_golden (arch, "image_features");
  g_autoptr (VlmTensor) greedy = nn_golden (arch, "greedy_tokens");
  g_autoptr (VlmElement) e = nn_make_decoder (arch, ids, feats);
  g_object_set (e, "max-tokens", (int) vlm_tensor_get_numel (greedy), "ignore-eos", TRUE, NULL);
  g_autofree char *case_path = nn_fixture_path ("arch", arch, "case.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (parser, case_path, NULL));
  JsonObject *case_json = json_node_get_object (json_parser_get_root (parser));
  /* The second run reuses the loaded weights and must give the same result. */
  for (int run = 0; run < 2; run++) {
    g_autoptr (GError) error = NULL;
    g_assert_true (vlm_element_process (e, &error));
    g_assert_no_error (error);
    check_close (e, arch, "inputs_embeds");
    check_close (e, arch, "final_hidden");
    check_close (e, arch, "logits_last");
    check_tokens (e, greedy, vlm_tensor_get_numel (greedy));
    g_assert_cmpstr (g_value_get_string (vlm_element_get_output (e, "finish_reason")), ==,
                     "length");
    g_assert_cmpstr (g_value_get_string (vlm_element_get_output (e, "text")), ==,
                     json_object_get_string_member (case_json, "greedy_text"));
    g_autoptr (JsonNode) stats = json_from_string (
        g_value_get_string (vlm_element_get_output (e, "stats")), &error);
    g_assert_no_error (error);
    JsonObject *o = json_node_get_object (stats);
    g_assert_cmpint (json_object_get_int_member (o, "prompt_tokens"), ==,
                     vlm_tensor_get_numel (ids));
    g_assert_cmpint (json_object_get_int_member (o, "generated_tokens"), ==,
                     vlm_tensor_get_numel (greedy));
    g_test_message ("%s stats: %s", arch, g_value_get_string (vlm_element_get_output (e, "stats")));
  }
}

/* Decoding position by position over the cache equals recomputing the whole prefix. */
static void
test_cache (gconstpointer data)
{
  const char *arch = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmDecoder) dec = nn_load_decoder (arch);
  g_autoptr (VlmTensor) embeds = nn_golden (arch, "inputs_embeds");
  const float *x = vlm_tensor_get_data (embeds);
  gint64 L = vlm_tensor_get_dim (embeds, 0), D = dec->cfg.hidden, steps = 4, p = L - steps;
  g_autoptr (VlmDecoderState) inc = vlm_decoder_state_new (dec, p, L, &error);
  g_assert_no_error (error);
  vlm_decoder_forward (dec, inc, x, p, NULL);
  for (gint64 i = 0; i < steps; i++) {
    vlm_decoder_forward (dec, inc, x + (p + i) * D, 1, NULL);
    g_autoptr (VlmDecoderState) full = vlm_decoder_state_new (dec, p + i + 1, p + i + 1, &error);
    g_assert_no_error (error);
    vlm_decoder_forward (dec, full, x, p + i + 1, NULL);
    double err = nn_rel_l2 (inc->logits, full->logits, dec->cfg.vocab);
    g_test_message ("%s cached step %" G_GINT64_FORMAT ": relative L2 %.3g", arch, i, err);
    g_assert_cmpfloat (err, <, 1e-5);
  }
}

/* An end id stops generation: the token is kept, its text is not. */
static void
test_eos (void)
{
  g_autofree char *path = nn_fixture_path ("arch", "idefics3", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmModelDir) dir = vlm_model_dir_new (path, &error);
  g_assert_no_error (error);
  g_autoptr (VlmDecoder) dec = vlm_decoder_load (dir, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (VlmTokenizer) tok = vlm_tokenizer_new_from_dir (path, &error);
  g_assert_no_error (error);
  g_autoptr (VlmTensor) embeds = nn_golden ("idefics3", "inputs_embeds");
  g_autoptr (VlmTensor) ids = nn_golden ("idefics3", "input_ids");
  g_autoptr (VlmTensor) greedy = nn_golden ("idefics3", "greedy_tokens");
  const gint64 *g = vlm_tensor_get_data (greedy);
  gint64 eos = g[3], first = 0;
  while (g[first] != eos)
    first++;
  g_autoptr (VlmSampler) sampler = vlm_sampler_new ();
  VlmGenerateOptions opts = { .max_tokens = 12, .eos_ids = &eos, .n_eos = 1, .sampler = sampler,
                              .tokenizer = tok };
  VlmGenerateResult r;
  g_assert_true (vlm_generate (dec, vlm_tensor_get_data (embeds), vlm_tensor_get_data (ids), NULL,
                               vlm_tensor_get_numel (ids), &opts, NULL, NULL, &r, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (r.finish_reason, ==, "stop");
  g_assert_cmpuint (r.tokens->len, ==, first + 1);
  g_assert_cmpint (g_array_index (r.tokens, gint64, first), ==, eos);
  gint32 head[12];
  for (gint64 i = 0; i < first; i++)
    head[i] = (gint32) g[i];
  g_autofree char *want = vlm_tokenizer_decode (tok, head, first, TRUE, &error);
  g_assert_cmpstr (r.text, ==, want);
  vlm_generate_result_clear (&r);

  /* A cancelled generation stops with VLM_ERROR_CANCELLED. */
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  opts.cancellable = cancel;
  g_assert_false (vlm_generate (dec, vlm_tensor_get_data (embeds), vlm_tensor_get_data (ids), NULL,
                                vlm_tensor_get_numel (ids), &opts, NULL, NULL, &r, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_CANCELLED);
  g_assert_null (r.tokens);
}

static void
collect (VlmElement *e, const char *text, GString *out)
{
  g_string_append (out, text);
}

static void
run_streamed (VlmElement *e, GString *pieces)
{
  g_string_truncate (pieces, 0);
  g_autoptr (GError) error = NULL;
  g_assert_true (vlm_element_process (e, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (pieces->str, ==, g_value_get_string (vlm_element_get_output (e, "text")));
}

/* A stop string cut from the greedy text ends generation there; the stream carries
 * exactly the text. */
static void
test_stop_string (void)
{
  g_autoptr (VlmTensor) ids = nn_golden ("idefics3", "input_ids");
  g_autoptr (VlmTensor) feats = nn_golden ("idefics3", "image_features");
  g_autoptr (VlmElement) e = nn_make_decoder ("idefics3", ids, feats);
  g_autoptr (GString) pieces = g_string_new (NULL);
  g_signal_connect (e, "text", G_CALLBACK (collect), pieces);
  g_object_set (e, "max-tokens", 12, "ignore-eos", TRUE, "stream", TRUE, NULL);
  run_streamed (e, pieces);
  g_autofree char *full = g_strdup (g_value_get_string (vlm_element_get_output (e, "text")));
  g_autoptr (VlmTensor) all = vlm_tensor_ref (output_tensor (e, "tokens"));
  g_assert_cmpint (g_utf8_strlen (full, -1), >, 8);

  const char *mid = g_utf8_offset_to_pointer (full, g_utf8_strlen (full, -1) / 2);
  g_autofree char *stop = g_strndup (mid, g_utf8_offset_to_pointer (mid, 3) - mid);
  gsize cut = (gsize) (strstr (full, stop) - full);
  const char *stops[] = { "never appears in this text", stop, NULL };
  g_object_set (e, "stop", stops, NULL);
  run_streamed (e, pieces);
  g_autofree char *want = g_strndup (full, cut);
  g_assert_cmpstr (g_value_get_string (vlm_element_get_output (e, "text")), ==, want);
  g_assert_cmpstr (g_value_get_string (vlm_element_get_output (e, "finish_reason")), ==, "stop");
  VlmTensor *toks = output_tensor (e, "tokens");
  g_assert_cmpint (vlm_tensor_get_numel (toks), <, 12);
  check_tokens (e, all, vlm_tensor_get_numel (toks));
}

/* Sampling through a linked sampler: a seed reproduces the tokens. */
static void
test_seeded_sampling (void)
{
  g_autoptr (VlmTensor) ids = nn_golden ("idefics3", "input_ids");
  g_autoptr (VlmTensor) feats = nn_golden ("idefics3", "image_features");
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmElement) s = vlm_registry_make_element (vlm_registry_get_default (), "sampler",
                                                        "sampler", &error);
  g_assert_no_error (error);
  g_object_set (s, "temperature", 1.5, "top-k", 0, "seed", (gint64) 11, NULL);
  g_assert_true (vlm_element_process (s, &error));
  g_autoptr (VlmElement) e = nn_make_decoder ("idefics3", ids, feats);
  vlm_element_set_input (e, "sampler", vlm_element_get_output (s, "sampler"));
  g_object_set (e, "max-tokens", 12, "ignore-eos", TRUE, NULL);
  g_assert_true (vlm_element_process (e, &error));
  g_autoptr (VlmTensor) first = vlm_tensor_ref (output_tensor (e, "tokens"));
  g_assert_true (vlm_element_process (e, &error));
  g_assert_no_error (error);
  check_tokens (e, first, 12);
  /* Resolving the settings in the sampler (model linked) gives the same tokens. */
  g_autofree char *model = nn_fixture_path ("arch", "idefics3", NULL);
  GValue mv = G_VALUE_INIT;
  g_value_init (&mv, G_TYPE_STRING);
  g_value_set_string (&mv, model);
  vlm_element_set_input (s, "model", &mv);
  g_value_unset (&mv);
  g_assert_true (vlm_element_process (s, &error));
  g_assert_no_error (error);
  vlm_element_set_input (e, "sampler", vlm_element_get_output (s, "sampler"));
  g_assert_true (vlm_element_process (e, &error));
  g_assert_no_error (error);
  check_tokens (e, first, 12);
  /* Sampling at a high temperature leaves the greedy path. */
  g_autoptr (VlmTensor) greedy = nn_golden ("idefics3", "greedy_tokens");
  g_assert_cmpint (memcmp (vlm_tensor_get_data (first), vlm_tensor_get_data (greedy),
                           12 * sizeof (gint64)), !=, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (archs); i++) {
    g_autofree char *a = g_strdup_printf ("/nn/decoder/golden/%s", archs[i]);
    g_autofree char *b = g_strdup_printf ("/nn/decoder/cache/%s", archs[i]);
    g_test_add_data_func (a, archs[i], test_golden);
    g_test_add_data_func (b, archs[i], test_cache);
  }
  g_test_add_func ("/nn/decoder/eos", test_eos);
  g_test_add_func ("/nn/decoder/stop-string", test_stop_string);
  g_test_add_func ("/nn/decoder/seeded-sampling", test_seeded_sampling);
  return g_test_run ();
}
