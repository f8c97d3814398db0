/* decoder-config.c: reads a Llama-family decoder's hyper-parameters from config.json. */
#include "nn/decoder.h"

#include "vlm/vlm-error.h"

#include <math.h>
#include <string.h>

#define TEXT "text_config"

static gboolean
load_rope_scaling (VlmDecoderConfig *cfg, VlmModelDir *dir, GError **error)
{
  const char *type = vlm_model_dir_get_string (dir, TEXT, "rope_scaling.rope_type|rope_scaling.type",
                                               "default");
  VlmRopeScaling *s = &cfg->rope_scaling;
  s->factor = vlm_model_dir_get_double (dir, TEXT, "rope_scaling.factor", 1.0);
  /* Qwen2-VL's "mrope" rotates by the default frequencies (see load_mrope). */
  if (strcmp (type, "default") == 0 || strcmp (type, "mrope") == 0) {
    s->type = VLM_ROPE_DEFAULT;
  } else if (strcmp (type, "linear") == 0) {
    s->type = VLM_ROPE_LINEAR;
  } else if (strcmp (type, "llama3") == 0) {
    s->type = VLM_ROPE_LLAMA3;
    s->low_freq_factor = vlm_model_dir_get_double (dir, TEXT, "rope_scaling.low_freq_factor", 1);
    s->high_freq_factor = vlm_model_dir_get_double (dir, TEXT, "rope_scaling.high_freq_factor", 4);
    s->original_max_position = vlm_model_dir_get_double (
        dir, TEXT, "rope_scaling.original_max_position_embeddings", 8192);
    if (s->high_freq_factor <= s->low_freq_factor) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "%s/config.json: rope_scaling high_freq_factor must exceed low_freq_factor",
                   vlm_model_dir_get_path (dir));
      return FALSE;
    }
  } else {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "%s/config.json: rope_scaling type \"%s\" is not supported (default, linear, "
                 "llama3)", vlm_model_dir_get_path (dir), type);
    return FALSE;
  }
  if (s->type != VLM_ROPE_DEFAULT && !(s->factor > 0)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "%s/config.json: rope_scaling factor must be positive",
                 vlm_model_dir_get_path (dir));
    return FALSE;
  }
  return TRUE;
}

typedef enum { FAMILY_LLAMA, FAMILY_GEMMA, FAMILY_GEMMA3, FAMILY_QWEN2 } Family;

/* Qwen2 (and the Qwen2-VL / 2.5-VL text models): q/k/v biases, sliding window only
 * when use_sliding_window, and M-RoPE sections when rope_scaling has mrope_section. */
static gboolean
load_qwen2 (VlmDecoderConfig *cfg, VlmModelDir *dir, GError **error)
{
  cfg->attention_bias = TRUE;
  if (!vlm_model_dir_get_bool (dir, TEXT, "use_sliding_window", FALSE))
    cfg->sliding_window = 0;
  JsonNode *n = vlm_model_dir_lookup (dir, TEXT, "rope_scaling.mrope_section|"
                                      "rope_parameters.mrope_section");
  if (!n)
    return TRUE;
  JsonArray *a = JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
  gint64 sum = 0;
  for (guint i = 0; a && i < 3 && json_array_get_length (a) == 3; i++) {
    JsonNode *e = json_array_get_element (a, i);
    cfg->mrope_section[i] = JSON_NODE_HOLDS_VALUE (e)
                                && json_node_get_value_type (e) == G_TYPE_INT64
                            ? json_node_get_int (e) : -1;
    sum += cfg->mrope_section[i] >= 0 ? cfg->mrope_section[i] : cfg->head_dim;
  }
  if (sum != cfg->head_dim / 2) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "%s/config.json: rope_scaling.mrope_section must be 3 counts adding up to "
                 "head_dim / 2 = %" G_GINT64_FORMAT, vlm_model_dir_get_path (dir),
                 cfg->head_dim / 2);
    return FALSE;
  }
  return TRUE;
}

/* Gemma: embeddings times sqrt(hidden), RMSNorm with (1 + w). Gemma 3 adds q/k norms,
 * sandwich norms, its attention scale and sliding layers with their own RoPE base.
 * The vision-language wrappers decide how the prompt attends. */
static void
load_gemma (VlmDecoderConfig *cfg, VlmModelDir *dir, Family family)
{
  cfg->embed_scale = sqrtf ((float) cfg->hidden);
  cfg->norm_weight_offset = 1.0f;
  if (family == FAMILY_GEMMA3) {
    cfg->qk_norm = TRUE;
    cfg->sandwich_norms = TRUE;
    cfg->attn_scale = 1.0f / sqrtf ((float) vlm_model_dir_get_double (
                                        dir, TEXT, "query_pre_attn_scalar", 256));
    cfg->sliding_window = vlm_model_dir_get_int (dir, TEXT, "sliding_window", 4096);
    cfg->sliding_window_pattern = vlm_model_dir_get_int (dir, TEXT, "sliding_window_pattern", 6);
    cfg->rope_local_theta = vlm_model_dir_get_double (dir, TEXT, "rope_local_base_freq", 10000.0);
  }
  const char *top = vlm_model_dir_get_model_type (dir);
  if (g_strcmp0 (top, "paligemma") == 0) {
    /* transformers 4.x: 1-indexed positions, the prompt is the bidirectional prefix,
     * and the normalizer multiplies the merged image rows too. */
    cfg->position_offset = 1;
    cfg->prompt_attention = VLM_PROMPT_PREFIX;
    cfg->scale_image_features = TRUE;
  } else if (g_strcmp0 (top, "gemma3") == 0) {
    cfg->prompt_attention = VLM_PROMPT_IMAGE_BLOCKS;
  }
}

/**
 * vlm_decoder_config_load:
 * @cfg: (out caller-allocates): the configuration
 * @dir: a model folder
 * @error: return location for a #GError
 *
 * Reads `text_config` (or the top level of a text-only config). The
 * `tie_word_embeddings` of the top level governs, as in transformers' Idefics3
 * (its text_config says true while the checkpoint has its own lm_head).
 *
 * Returns: %FALSE with @error set for missing, inconsistent or unsupported settings
 */
gboolean
vlm_decoder_config_load (VlmDecoderConfig *cfg, VlmModelDir *dir, GError **error)
{
  const char *path = vlm_model_dir_get_path (dir);
  memset (cfg, 0, sizeof *cfg);
  const char *type = vlm_model_dir_get_string (dir, TEXT, "model_type", "llama");
  Family family;
  if (strcmp (type, "llama") == 0) {
    family = FAMILY_LLAMA;
  } else if (strcmp (type, "gemma") == 0) {
    family = FAMILY_GEMMA;
  } else if (strcmp (type, "gemma3_text") == 0 || strcmp (type, "gemma3") == 0) {
    family = FAMILY_GEMMA3;
  } else if (strcmp (type, "qwen2") == 0 || g_str_has_prefix (type, "qwen2_vl")
             || g_str_has_prefix (type, "qwen2_5_vl")) {
    family = FAMILY_QWEN2;
  } else {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "%s/config.json: text model_type \"%s\" is not a supported decoder (llama, "
                 "gemma, gemma3_text, qwen2, qwen2_vl, qwen2_5_vl)", path, type);
    return FALSE;
  }
  cfg->hidden = vlm_model_dir_get_int (dir, TEXT, "hidden_size", 0);
  cfg->n_layers = vlm_model_dir_get_int (dir, TEXT, "num_hidden_layers", 0);
  cfg->n_heads = vlm_model_dir_get_int (dir, TEXT, "num_attention_heads", 0);
  cfg->n_kv_heads = vlm_model_dir_get_int (dir, TEXT, "num_key_value_heads", cfg->n_heads);
  cfg->intermediate = vlm_model_dir_get_int (dir, TEXT, "intermediate_size", 0);
  cfg->vocab = vlm_model_dir_get_int (dir, TEXT, "vocab_size",
                                      vlm_model_dir_get_int (dir, NULL, "vocab_size", 0));
  const struct { const char *key; gint64 v; } need[] = {
    { "hidden_size", cfg->hidden }, { "num_hidden_layers", cfg->n_layers },
    { "num_attention_heads", cfg->n_heads }, { "num_key_value_heads", cfg->n_kv_heads },
    { "intermediate_size", cfg->intermediate }, { "vocab_size", cfg->vocab },
  };
  for (guint i = 0; i < G_N_ELEMENTS (need); i++)
    if (need[i].v <= 0 || need[i].v > G_MAXINT32) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "%s/config.json: text %s is missing or not a positive size", path, need[i].key);
      return FALSE;
    }
  gboolean gemma = family == FAMILY_GEMMA || family == FAMILY_GEMMA3;
  cfg->head_dim = vlm_model_dir_get_int (dir, TEXT, "head_dim",
                                         !gemma ? cfg->hidden / cfg->n_heads : 256);
  if (cfg->head_dim <= 0 || cfg->head_dim % 2 != 0 || cfg->head_dim > 4096
      || cfg->n_heads % cfg->n_kv_heads != 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "%s/config.json: head_dim %" G_GINT64_FORMAT " with %" G_GINT64_FORMAT
                 " query and %" G_GINT64_FORMAT " key/value heads is not a valid attention shape",
                 path, cfg->head_dim, cfg->n_heads, cfg->n_kv_heads);
    return FALSE;
  }
  cfg->rms_eps = vlm_model_dir_get_double (dir, TEXT, "rms_norm_eps", 1e-6);
  cfg->rope_theta = vlm_model_dir_get_double (dir, TEXT, "rope_theta|rope_parameters.rope_theta",
                                              10000.0);
  cfg->rope_interleaved = vlm_model_dir_get_bool (dir, TEXT, "rope_interleaved", FALSE);
  if (!load_rope_scaling (cfg, dir, error))
    return FALSE;
  const char *act = !gemma
                        ? vlm_model_dir_get_string (dir, TEXT, "hidden_act", "silu")
                        : vlm_model_dir_get_string (dir, TEXT, "hidden_activation|hidden_act",
                                                    "gelu_pytorch_tanh");
  if (!vlm_activation_from_name (act, &cfg->act)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "%s/config.json: hidden_act \"%s\" is not supported", path, act);
    return FALSE;
  }
  /* The top level governs when it has the key (Idefics3); PaliGemma and Gemma 3 only
   * set it in text_config, and Gemma ties by default. */
  cfg->tie_word_embeddings = vlm_model_dir_lookup (dir, NULL, "tie_word_embeddings")
      ? vlm_model_dir_get_bool (dir, NULL, "tie_word_embeddings", FALSE)
      : vlm_model_dir_get_bool (dir, TEXT, "tie_word_embeddings", gemma);
  cfg->image_token_id = vlm_model_dir_get_int (dir, NULL, "image_token_id|image_token_index", -1);
  cfg->attention_bias = vlm_model_dir_get_bool (dir, TEXT, "attention_bias", FALSE);
  cfg->mlp_bias = vlm_model_dir_get_bool (dir, TEXT, "mlp_bias", FALSE);
  cfg->sliding_window = vlm_model_dir_get_int (dir, TEXT, "sliding_window", 0);
  cfg->attn_softcap = (float) vlm_model_dir_get_double (dir, TEXT, "attn_logit_softcapping", 0);
  cfg->final_softcap = (float) vlm_model_dir_get_double (dir, TEXT, "final_logit_softcapping", 0);
  cfg->embed_scale = 1.0f;
  cfg->norm_weight_offset = 0.0f;
  if (gemma)
    load_gemma (cfg, dir, family);
  return family != FAMILY_QWEN2 || load_qwen2 (cfg, dir, error);
}
