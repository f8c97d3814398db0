/* serve-prepare.c: a request's images and messages -> prompt ids, position keys and
 * input embeddings (the worker thread). Vision features come from the cache when the
 * same pixels were encoded before under the same preprocessing settings. */
#include "serve/serve.h"

#include <string.h>

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
set_boxed_input (VlmElement *e, const char *port, GType type, gconstpointer boxed)
{
  GValue v = G_VALUE_INIT;
  g_value_init (&v, type);
  g_value_set_boxed (&v, boxed);
  vlm_element_set_input (e, port, &v);
  g_value_unset (&v);
}

static VlmTensor *
output_tensor (VlmElement *e, const char *port)
{
  const GValue *v = vlm_element_get_output (e, port);
  return v && G_VALUE_HOLDS (v, VLM_TYPE_TENSOR) ? vlm_tensor_ref (g_value_get_boxed (v)) : NULL;
}

/* Every tensor output of @e, by port name. */
static VlmTensorSet *
tensor_outputs (VlmElement *e)
{
  VlmTensorSet *set = vlm_tensor_set_new ();
  g_autoptr (GPtrArray) ports = vlm_element_class_list_ports (VLM_ELEMENT_GET_CLASS (e),
                                                              VLM_PORT_OUTPUT);
  for (guint i = 0; i < ports->len; i++) {
    const VlmPortSpec *port = ports->pdata[i];
    g_autoptr (VlmTensor) t = output_tensor (e, port->name);
    if (t)
      vlm_tensor_set_insert (set, port->name, t);
  }
  return set;
}

static void
restore_outputs (VlmElement *e, VlmTensorSet *set)
{
  vlm_element_clear_values (e);
  g_auto (GStrv) names = vlm_tensor_set_list_names (set);
  for (guint i = 0; names[i]; i++)
    vlm_element_set_output_tensor (e, names[i], vlm_tensor_set_get (set, names[i]));
}

/* Sets each input of @dst that @src has as a tensor output (pixel_values,
 * image_grid_thw...). */
static void
feed_from (VlmElement *dst, VlmElement *src)
{
  g_autoptr (GPtrArray) ports = vlm_element_class_list_ports (VLM_ELEMENT_GET_CLASS (dst),
                                                              VLM_PORT_INPUT);
  for (guint i = 0; i < ports->len; i++) {
    const VlmPortSpec *port = ports->pdata[i];
    g_autoptr (VlmTensor) t = output_tensor (src, port->name);
    if (t)
      set_boxed_input (dst, port->name, VLM_TYPE_TENSOR, t);
  }
}

/* Runs the processor on @text and @images; returns FALSE with @error set. */
static gboolean
run_processor (ServeModel *m, const char *text, VlmImage **images, guint n, GError **error)
{
  VlmElement *p = m->processor;
  vlm_element_clear_values (p);
  set_string_input (p, "model", m->path);
  set_string_input (p, "text", text);
  if (n) {
    g_autoptr (VlmTensorSet) set = vlm_tensor_set_new ();
    g_autoptr (GStrvBuilder) modes = g_strv_builder_new ();
    for (guint i = 0; i < n; i++) {
      g_autofree char *name = g_strdup_printf ("%u", i);
      vlm_tensor_set_insert (set, name, vlm_image_get_pixels (images[i]));
      g_strv_builder_add (modes, vlm_image_mode_to_string (vlm_image_get_mode (images[i])));
    }
    g_auto (GStrv) mode_list = g_strv_builder_end (modes);
    set_boxed_input (p, "images", VLM_TYPE_TENSOR_SET, set);
    if (vlm_element_class_find_port (VLM_ELEMENT_GET_CLASS (p), "modes", VLM_PORT_INPUT))
      set_boxed_input (p, "modes", G_TYPE_STRV, mode_list);
  }
  return vlm_element_process (p, error);
}

/* pixel values (from the processor's outputs) -> image features. */
static VlmTensor *
encode (ServeModel *m, GError **error)
{
  g_autoptr (VlmTensor) pv = output_tensor (m->processor, "pixel_values");
  if (!pv) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FAILED, "the processor gave no pixel_values");
    return NULL;
  }
  vlm_element_clear_values (m->vision);
  set_string_input (m->vision, "model", m->path);
  feed_from (m->vision, m->processor);
  if (!vlm_element_process (m->vision, error))
    return NULL;
  /* A tower with its own merger (Qwen2-VL) gives the features itself. */
  g_autoptr (VlmTensor) features = output_tensor (m->vision, "image_features");
  g_autoptr (VlmTensor) hidden = output_tensor (m->vision, "vision_hidden");
  vlm_element_clear_values (m->vision);
  if (features || !m->projector)
    return features ? g_steal_pointer (&features) : g_steal_pointer (&hidden);
  vlm_element_clear_values (m->projector);
  set_string_input (m->projector, "model", m->path);
  set_boxed_input (m->projector, "vision_hidden", VLM_TYPE_TENSOR, hidden);
  if (!vlm_element_process (m->projector, error))
    return NULL;
  features = output_tensor (m->projector, "image_features");
  vlm_element_clear_values (m->projector);
  return g_steal_pointer (&features);
}

static char *
image_key (ServeModel *m, VlmImage *image)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  VlmTensor *px = vlm_image_get_pixels (image);
  guint32 head[4] = { vlm_image_get_mode (image), vlm_image_get_width (image),
                      vlm_image_get_height (image), vlm_image_get_channels (image) };
  g_checksum_update (sum, (const guchar *) head, sizeof head);
  g_checksum_update (sum, vlm_tensor_get_data (px), vlm_tensor_get_nbytes (px));
  return g_strdup_printf ("%s:%s", g_checksum_get_string (sum), m->settings_digest);
}

/* Features of every image, in order (cached, or encoded now). */
static gboolean
image_features (ServeModel *m, ServeCache *cache, VlmImage **images, guint n, char **keys,
                VlmTensor **features, GError **error)
{
  guint misses = 0;
  for (guint i = 0; i < n; i++) {
    keys[i] = image_key (m, images[i]);
    features[i] = serve_cache_lookup_image (cache, keys[i]);
    misses += !features[i];
  }
  for (guint i = 0; i < n; i++) {
    if (features[i])
      continue;
    /* One image: the full prompt's processor run already holds its tiles. */
    if ((n > 1 || misses < n) && !run_processor (m, m->image_token, &images[i], 1, error))
      return FALSE;
    if (!(features[i] = encode (m, error))) {
      g_prefix_error (error, "image %u: ", i);
      return FALSE;
    }
    serve_cache_insert_image (cache, keys[i], features[i]);
  }
  return TRUE;
}

static VlmTensor *
concat_rows (VlmTensor **parts, guint n, gint64 hidden, GError **error)
{
  gint64 rows = 0;
  for (guint i = 0; i < n; i++) {
    if (vlm_tensor_get_dim (parts[i], vlm_tensor_get_ndim (parts[i]) - 1) != hidden) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FAILED, "image features do not match the "
                   "decoder's hidden size %" G_GINT64_FORMAT, hidden);
      return NULL;
    }
    rows += vlm_tensor_get_numel (parts[i]) / hidden;
  }
  VlmTensor *out = vlm_tensor_new (VLM_DTYPE_F32, 2, (gint64[]) { rows, hidden });
  float *dst = vlm_tensor_get_data_mut (out);
  for (guint i = 0; i < n; i++) {
    g_autoptr (VlmTensor) f = vlm_tensor_to_dtype (parts[i], VLM_DTYPE_F32, NULL);
    g_autoptr (VlmTensor) c = vlm_tensor_contiguous (f);
    gsize bytes = vlm_tensor_get_nbytes (c);
    memcpy (dst, vlm_tensor_get_data (c), bytes);
    dst += bytes / sizeof (float);
  }
  return out;
}

/* Identity of each prompt position: the token id, or for an image position its image's
 * digest and row, so a prefix matches only over the same pictures. */
static void
position_keys (ServeJob *job, gint64 image_token, char **keys, VlmTensor **features,
               guint n_images, gint64 hidden)
{
  guint img = 0;
  gint64 row = 0;
  for (gint64 i = 0; i < job->n_prompt; i++) {
    if (job->ids[i] != image_token || img >= n_images) {
      job->keys[i] = (guint64) job->ids[i];
      continue;
    }
    job->keys[i] = (1ull << 63) | ((guint64) g_str_hash (keys[img]) << 24) | (guint64) row;
    if (++row >= vlm_tensor_get_numel (features[img]) / hidden) {
      row = 0;
      img++;
    }
  }
}

static gboolean
read_prompt (ServeModel *m, ServeJob *job, VlmTensor *features, GError **error)
{
  g_autoptr (VlmTensorSet) set = vlm_tensor_set_new ();
  g_autoptr (VlmTensor) ids0 = output_tensor (m->processor, "input_ids");
  g_autoptr (VlmTensor) mask0 = output_tensor (m->processor, "attention_mask");
  g_autoptr (VlmTensor) types0 = output_tensor (m->processor, "token_type_ids");
  if (!ids0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FAILED, "the processor gave no input_ids");
    return FALSE;
  }
  vlm_tensor_set_insert (set, "input_ids", ids0);
  if (mask0)
    vlm_tensor_set_insert (set, "attention_mask", mask0);
  if (features)
    vlm_tensor_set_insert (set, "image_features", features);
  if (types0)
    vlm_tensor_set_insert (set, "token_type_ids", types0);
  /* The decoder element applies these too: the same patches give the same prompt. */
  if (!vlm_pipeline_apply_patches (m->pipeline, VLM_HOOK_BEFORE_MERGE, set, error))
    return FALSE;
  g_autoptr (VlmTensor) ids64 = vlm_tensor_to_dtype (vlm_tensor_set_get (set, "input_ids"),
                                                     VLM_DTYPE_I64, error);
  if (!ids64)
    return FALSE;
  g_autoptr (VlmTensor) ids = vlm_tensor_contiguous (ids64);
  job->n_prompt = vlm_tensor_get_numel (ids);
  job->ids = g_memdup2 (vlm_tensor_get_data (ids), (gsize) job->n_prompt * sizeof (gint64));
  job->valid = g_malloc (MAX (job->n_prompt, 1));
  memset (job->valid, 1, (gsize) job->n_prompt);
  VlmTensor *mask = vlm_tensor_set_get (set, "attention_mask");
  if (mask && vlm_tensor_get_numel (mask) == job->n_prompt) {
    g_autoptr (VlmTensor) m8 = vlm_tensor_to_dtype (mask, VLM_DTYPE_U8, error);
    if (!m8)
      return FALSE;
    g_autoptr (VlmTensor) mc = vlm_tensor_contiguous (m8);
    memcpy (job->valid, vlm_tensor_get_data (mc), (gsize) job->n_prompt);
  }
  /* Bidirectional spans (PaliGemma's prefix, Gemma 3's image blocks), as generate has. */
  VlmTensor *types = vlm_tensor_set_get (set, "token_type_ids");
  g_autoptr (VlmTensor) types64 = NULL;
  if (types && vlm_tensor_get_numel (types) == job->n_prompt) {
    g_autoptr (VlmTensor) t = vlm_tensor_to_dtype (types, VLM_DTYPE_I64, error);
    if (!t)
      return FALSE;
    types64 = vlm_tensor_contiguous (t);
  }
  return vlm_decoder_prompt_spans (&m->dec->cfg, types64 ? vlm_tensor_get_data (types64) : NULL,
                                   job->n_prompt, &job->spans, &job->n_spans, error);
}

/* Without a chat template the prompt is the text of the messages, one per line; the
 * processor places the images itself. */
static char *
plain_prompt (JsonNode *messages)
{
  GString *out = g_string_new (NULL);
  JsonArray *list = json_node_get_array (messages);
  for (guint i = 0; i < json_array_get_length (list); i++) {
    JsonNode *content = json_object_get_member (json_array_get_object_element (list, i),
                                                "content");
    if (!content || JSON_NODE_HOLDS_NULL (content))
      continue;
    if (out->len)
      g_string_append_c (out, '\n');
    if (JSON_NODE_HOLDS_VALUE (content)) {
      g_string_append (out, json_node_get_string (content));
      continue;
    }
    JsonArray *parts = json_node_get_array (content);
    for (guint k = 0; k < json_array_get_length (parts); k++) {
      JsonObject *part = json_array_get_object_element (parts, k);
      if (g_strcmp0 (json_object_get_string_member_with_default (part, "type", ""), "text") == 0)
        g_string_append (out, json_object_get_string_member_with_default (part, "text", ""));
    }
  }
  return g_string_free (out, FALSE);
}

/* M-RoPE position streams of the prompt and the offset of generated positions, from the
 * pipeline's rope-index element over the processor's outputs. */
static gboolean
rope_positions (ServeModel *m, ServeJob *job, GError **error)
{
  if (!m->positions)
    return TRUE;
  VlmElement *r = m->positions;
  vlm_element_clear_values (r);
  set_string_input (r, "model", m->path);
  feed_from (r, m->processor);
  gboolean ok = vlm_element_process (r, error);
  g_autoptr (VlmTensor) pos = ok ? output_tensor (r, "position_ids") : NULL;
  g_autoptr (VlmTensor) delta = ok ? output_tensor (r, "rope_deltas") : NULL;
  vlm_element_clear_values (r);
  if (!ok)
    return FALSE;
  if (!pos || vlm_tensor_get_numel (pos) != 3 * job->n_prompt || !delta
      || vlm_tensor_get_numel (delta) != 1) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FAILED, "%s gave no position_ids [3, 1, %"
                 G_GINT64_FORMAT "] and rope_deltas", vlm_element_get_id (r), job->n_prompt);
    return FALSE;
  }
  g_autoptr (VlmTensor) p64 = vlm_tensor_to_dtype (pos, VLM_DTYPE_I64, error);
  g_autoptr (VlmTensor) d64 = p64 ? vlm_tensor_to_dtype (delta, VLM_DTYPE_I64, error) : NULL;
  if (!d64)
    return FALSE;
  g_autoptr (VlmTensor) pc = vlm_tensor_contiguous (p64);
  g_autoptr (VlmTensor) dc = vlm_tensor_contiguous (d64);
  job->streams = g_memdup2 (vlm_tensor_get_data (pc), (gsize) (3 * job->n_prompt) * sizeof (gint64));
  job->position_delta = *(const gint64 *) vlm_tensor_get_data (dc);
  return TRUE;
}

gboolean
serve_prepare_job (ServeModel *m, ServeCache *cache, ServeJob *job, guint64 max_pixels,
                   ServeError **err)
{
  GError *error = NULL;
  guint n = job->images->len;
  if (n && !m->image_token) {
    *err = serve_error_new (400, "invalid_request_error", "messages", "images_not_supported",
                            "model %s takes no images", m->name);
    return FALSE;
  }
  g_autoptr (GPtrArray) images = g_ptr_array_new_with_free_func ((GDestroyNotify) vlm_image_unref);
  for (guint i = 0; i < n; i++) {
    VlmImage *img = vlm_image_load_bytes (job->images->pdata[i], job->image_names->pdata[i],
                                          max_pixels, FALSE, &error);
    if (!img) {
      *err = serve_error_from_gerror (error, "messages");
      g_error_free (error);
      return FALSE;
    }
    g_ptr_array_add (images, img);
  }
  g_autofree char *text = m->tmpl ? vlm_chat_template_render (m->tmpl, job->messages, TRUE, NULL,
                                                              &error)
                                  : plain_prompt (job->messages);
  if (!text || !run_processor (m, text, (VlmImage **) images->pdata, n, &error)) {
    *err = serve_error_from_gerror (error, "messages");
    g_error_free (error);
    return FALSE;
  }
  gint64 hidden = m->dec->cfg.hidden;
  g_autofree char **keys = g_new0 (char *, n + 1);
  g_autofree VlmTensor **feats = g_new0 (VlmTensor *, n + 1);
  g_autoptr (VlmTensor) all = NULL;
  gboolean ok = TRUE;
  if (n) {
    /* The prompt's outputs are kept: encoding other images reruns the processor. */
    g_autoptr (VlmTensorSet) prompt = tensor_outputs (m->processor);
    ok = image_features (m, cache, (VlmImage **) images->pdata, n, keys, feats, &error)
         && (all = concat_rows (feats, n, hidden, &error));
    if (ok)
      restore_outputs (m->processor, prompt);
  }
  ok = ok && read_prompt (m, job, all, &error) && rope_positions (m, job, &error);
  vlm_element_clear_values (m->processor);
  if (ok) {
    job->keys = g_new (guint64, MAX (job->n_prompt, 1));
    position_keys (job, m->dec->cfg.image_token_id, keys, feats, n, hidden);
  }
  for (guint i = 0; i < n; i++) {
    g_free (keys[i]);
    if (feats[i])
      vlm_tensor_unref (feats[i]);
  }
  if (!ok) {
    *err = serve_error_from_gerror (error, "messages");
    g_error_free (error);
    return FALSE;
  }
  if (job->n_prompt >= m->context) {
    *err = serve_error_new (400, "invalid_request_error", "messages", "context_length_exceeded",
                            "the prompt is %" G_GINT64_FORMAT " tokens; the model's context is %"
                            G_GINT64_FORMAT, job->n_prompt, m->context);
    return FALSE;
  }
  if (job->max_tokens < 0)
    job->max_tokens = m->context - job->n_prompt;
  else if (job->n_prompt + job->max_tokens > m->context) {
    *err = serve_error_new (400, "invalid_request_error", "max_tokens", "context_length_exceeded",
                            "the prompt (%" G_GINT64_FORMAT " tokens) and max_tokens (%"
                            G_GINT64_FORMAT ") exceed the model's context of %" G_GINT64_FORMAT,
                            job->n_prompt, job->max_tokens, m->context);
    return FALSE;
  }
  job->embeds = g_try_new (float, job->n_prompt * hidden);
  if (!job->embeds) {
    *err = serve_error_new (503, "server_error", NULL, "out_of_memory", "out of memory");
    return FALSE;
  }
  gint64 n_feat = all ? vlm_tensor_get_numel (all) / hidden : 0;
  if (!vlm_decoder_embed (m->dec, job->ids, job->n_prompt, job->embeds, &error)
      || !vlm_decoder_merge_image_features (m->dec, job->ids, job->n_prompt,
                                            all ? vlm_tensor_get_data (all) : NULL, n_feat,
                                            job->embeds, &error)) {
    *err = serve_error_from_gerror (error, "messages");
    g_error_free (error);
    return FALSE;
  }
  return TRUE;
}
