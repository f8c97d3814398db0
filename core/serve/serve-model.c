/* serve-model.c: loads a model once for serving: the architecture's pipeline supplies the
 * processor, vision tower and projector elements (used one by one by the worker); the
 * decoder is loaded here so the engine can batch sequences over it. */
#include "serve/serve.h"

/* The element computing position_ids beside the processor (Qwen2-VL's rope index). */
static VlmElement *
find_positions (VlmPipeline *pipeline, VlmElement *processor)
{
  g_auto (GStrv) ids = vlm_pipeline_list_node_ids (pipeline);
  for (guint i = 0; ids[i]; i++) {
    VlmElement *e = vlm_pipeline_get_element (pipeline, ids[i]);
    if (e != processor && vlm_element_class_find_port (VLM_ELEMENT_GET_CLASS (e), "position_ids",
                                                       VLM_PORT_OUTPUT))
      return e;
  }
  return NULL;
}

static gboolean
prepare_element (VlmElement *e, const char *path, GError **error)
{
  if (!e)
    return TRUE;
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_STRING);
  g_value_set_string (&v, path);
  vlm_element_set_input (e, "model", &v);
  g_value_unset (&v);
  if (!vlm_element_prepare (e, error)) {
    g_prefix_error (error, "%s: ", vlm_element_get_id (e));
    return FALSE;
  }
  return TRUE;
}

/* What changes the features of a given image: the model and its processor settings. */
static char *
settings_digest (ServeModel *m)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sum, (const guchar *) m->path, -1);
  JsonObject *pc = vlm_model_dir_get_processor_config (m->dir);
  if (pc) {
    g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
    json_node_set_object (node, pc);
    g_autofree char *s = json_to_string (node, FALSE);
    g_checksum_update (sum, (const guchar *) s, -1);
  }
  return g_strdup (g_checksum_get_string (sum));
}

ServeModel *
serve_model_load (const char *model, GError **error)
{
  g_autofree char *path = vlm_model_dir_resolve (model, error);
  if (!path)
    return NULL;
  ServeModel *m = g_new0 (ServeModel, 1);
  m->path = g_steal_pointer (&path);
  m->name = g_strdup (model);
  if (!(m->dir = vlm_model_dir_new (m->path, error))
      || !(m->pipeline = vlm_pipeline_new_for_model (m->path, error)))
    goto fail;
  m->processor = vlm_pipeline_find_element (m->pipeline, VLM_ELEMENT_KIND_PROCESSOR);
  m->vision = vlm_pipeline_find_element (m->pipeline, VLM_ELEMENT_KIND_VISION_TOWER);
  m->projector = vlm_pipeline_find_element (m->pipeline, VLM_ELEMENT_KIND_PROJECTOR);
  if (!m->processor) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "%s: the model's pipeline has no processor element to serve it with", m->path);
    goto fail;
  }
  const gint64 *sec = NULL;
  m->positions = find_positions (m->pipeline, m->processor);
  if (!prepare_element (m->processor, m->path, error)
      || !prepare_element (m->vision, m->path, error)
      || !prepare_element (m->positions, m->path, error)
      || !prepare_element (m->projector, m->path, error)
      || !(m->dec = vlm_decoder_load (m->dir, m->pipeline, error))
      || !(m->tokenizer = vlm_tokenizer_new_from_dir (m->path, error)))
    goto fail;
  /* A model without a chat template (PaliGemma) takes the messages' text as its prompt. */
  GError *no_template = NULL;
  m->tmpl = vlm_chat_template_new_from_dir (m->path, NULL, &no_template);
  if (no_template && !g_error_matches (no_template, VLM_ERROR, VLM_ERROR_NOT_FOUND)) {
    g_propagate_error (error, no_template);
    goto fail;
  }
  g_clear_error (&no_template);
  m->generation_config = vlm_model_dir_get_generation_config (m->dir);
  if (m->generation_config)
    json_object_ref (m->generation_config);
  m->eos_ids = vlm_model_dir_get_eos_token_ids (m->dir, &m->n_eos);
  if (m->n_eos == 0 && vlm_tokenizer_get_eos_id (m->tokenizer) >= 0) {
    m->eos_ids = g_renew (gint64, m->eos_ids, 1);
    m->eos_ids[0] = vlm_tokenizer_get_eos_id (m->tokenizer);
    m->n_eos = 1;
  }
  m->context = vlm_model_dir_get_int (m->dir, "text_config", "max_position_embeddings",
                                      vlm_model_dir_get_int (m->dir, NULL,
                                                             "max_position_embeddings", 2048));
  sec = m->dec->cfg.mrope_section;
  if (sec[0] + sec[1] + sec[2] > 0 && !m->positions) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED, "%s: the decoder uses multimodal "
                 "rotary positions but the model's pipeline has no element giving position_ids",
                 m->path);
    goto fail;
  }
  if (m->vision && m->dec->cfg.image_token_id >= 0) {
    const char *tok = vlm_tokenizer_id_to_token (m->tokenizer, (gint32) m->dec->cfg.image_token_id);
    m->image_token = g_strdup (tok);
  }
  m->settings_digest = settings_digest (m);
  return m;
fail:
  serve_model_free (m);
  return NULL;
}

void
serve_model_free (ServeModel *m)
{
  if (!m)
    return;
  g_free (m->path);
  g_free (m->name);
  g_clear_object (&m->pipeline);
  g_clear_object (&m->dir);
  vlm_decoder_free (m->dec);
  g_clear_object (&m->tokenizer);
  g_clear_object (&m->tmpl);
  g_clear_pointer (&m->generation_config, json_object_unref);
  g_free (m->eos_ids);
  g_free (m->image_token);
  g_free (m->settings_digest);
  g_free (m);
}
