/* decoder-load.c: declares the text decoder's tensors once, by their Hugging Face names;
 * the weight binder finds them in the HF layout (model.text_model.*, older
 * language_model.model.*, plain model.*) or mlx-community's (language_model.*, with
 * MLX-quantized linears and embeddings) and reports every problem in one error. */
#include "nn/decoder.h"

#include "weights/weight-binder.h"

#include "vlm/vlm-error.h"

#include <string.h>

/* Other prefixes the text model's tensors are stored under. */
static const char *const aliases[] = {
  "model.language_model.", "language_model.model.", "language_model.", "model.", NULL,
};

static void
declare_layer (VlmWeightRequest *r, const VlmDecoderConfig *c, gint64 i, VlmDecoderLayer *l)
{
  gint64 D = c->hidden, qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
  guint qkv = c->attention_bias ? VLM_WEIGHT_BIAS : VLM_WEIGHT_NO_BIAS;
  guint mlp = c->mlp_bias ? VLM_WEIGHT_BIAS : VLM_WEIGHT_NO_BIAS;
  struct { const char *name; gint64 out, in; guint flags; VlmLinear *lin; } mods[] = {
    { "self_attn.q_proj", qd, D, qkv, &l->q },
    { "self_attn.k_proj", kvd, D, qkv, &l->k },
    { "self_attn.v_proj", kvd, D, qkv, &l->v },
    { "self_attn.o_proj", D, qd, VLM_WEIGHT_NO_BIAS, &l->o },
    { "mlp.gate_proj", c->intermediate, D, mlp, &l->gate },
    { "mlp.up_proj", c->intermediate, D, mlp, &l->up },
    { "mlp.down_proj", D, c->intermediate, mlp, &l->down },
  };
  for (guint m = 0; m < G_N_ELEMENTS (mods); m++) {
    g_autofree char *n = g_strdup_printf ("layers.%" G_GINT64_FORMAT ".%s", i, mods[m].name);
    vlm_weight_request_linear (r, n, mods[m].out, mods[m].in, mods[m].flags, mods[m].lin);
  }
  g_autofree char *n1 = g_strdup_printf ("layers.%" G_GINT64_FORMAT ".input_layernorm.weight", i);
  g_autofree char *n2 = g_strdup_printf ("layers.%" G_GINT64_FORMAT
                                         ".post_attention_layernorm.weight", i);
  if (!c->sandwich_norms) {
    vlm_weight_request_tensor (r, n1, 1, &c->hidden, 0, &l->attn_norm);
    vlm_weight_request_tensor (r, n2, 1, &c->hidden, 0, &l->mlp_norm);
  } else {
    /* Gemma 2/3: post_attention_layernorm normalises the attention output; the MLP has
     * its own pre and post norms. */
    g_autofree char *n3 = g_strdup_printf ("layers.%" G_GINT64_FORMAT
                                           ".pre_feedforward_layernorm.weight", i);
    g_autofree char *n4 = g_strdup_printf ("layers.%" G_GINT64_FORMAT
                                           ".post_feedforward_layernorm.weight", i);
    vlm_weight_request_tensor (r, n1, 1, &c->hidden, 0, &l->attn_norm);
    vlm_weight_request_tensor (r, n2, 1, &c->hidden, 0, &l->post_attn_norm);
    vlm_weight_request_tensor (r, n3, 1, &c->hidden, 0, &l->mlp_norm);
    vlm_weight_request_tensor (r, n4, 1, &c->hidden, 0, &l->post_mlp_norm);
  }
  if (c->qk_norm) {
    g_autofree char *nq = g_strdup_printf ("layers.%" G_GINT64_FORMAT ".self_attn.q_norm.weight", i);
    g_autofree char *nk = g_strdup_printf ("layers.%" G_GINT64_FORMAT ".self_attn.k_norm.weight", i);
    vlm_weight_request_tensor (r, nq, 1, &c->head_dim, 0, &l->q_norm);
    vlm_weight_request_tensor (r, nk, 1, &c->head_dim, 0, &l->k_norm);
  }
}

/* Sliding-window layers as `layer_types` marks them ("sliding_attention"), else every
 * layer but each sliding_window_pattern-th (Gemma 3's older configs). */
static void
set_layer_windows (VlmDecoder *dec, VlmModelDir *dir)
{
  JsonNode *n = vlm_model_dir_lookup (dir, "text_config", "layer_types");
  gint64 pattern = dec->cfg.sliding_window_pattern;
  if (dec->cfg.sliding_window <= 0)
    return;
  if ((!n || !JSON_NODE_HOLDS_ARRAY (n)) && pattern > 0) {
    for (gint64 i = 0; i < dec->cfg.n_layers; i++)
      if ((i + 1) % pattern != 0)
        dec->layers[i].window = dec->cfg.sliding_window;
    return;
  }
  if (!n || !JSON_NODE_HOLDS_ARRAY (n))
    return;
  JsonArray *a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a) && i < dec->cfg.n_layers; i++) {
    JsonNode *e = json_array_get_element (a, i);
    if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING
        && strcmp (json_node_get_string (e), "sliding_attention") == 0)
      dec->layers[i].window = dec->cfg.sliding_window;
  }
}

/**
 * vlm_decoder_load:
 * @dir: a model folder
 * @pipeline: (nullable): the pipeline whose `weights` patches apply
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the decoder, its weights read in place
 */
VlmDecoder *
vlm_decoder_load (VlmModelDir *dir, VlmPipeline *pipeline, GError **error)
{
  g_autoptr (VlmDecoder) dec = g_new0 (VlmDecoder, 1);
  VlmDecoderConfig *c = &dec->cfg;
  if (!vlm_decoder_config_load (c, dir, error))
    return NULL;
  dec->layers = g_new0 (VlmDecoderLayer, c->n_layers);
  g_autoptr (VlmWeights) w = vlm_weights_open (dir, pipeline, error);
  if (!w)
    return NULL;
  g_autoptr (VlmWeightRequest) r = vlm_weight_request_new (w, "model.text_model.", aliases);
  vlm_weight_request_embedding (r, "embed_tokens", c->vocab, c->hidden, 0, &dec->embed);
  for (gint64 i = 0; i < c->n_layers; i++)
    declare_layer (r, c, i, &dec->layers[i]);
  vlm_weight_request_tensor (r, "norm.weight", 1, &c->hidden, 0, &dec->final_norm);
  /* HF keeps lm_head beside the model, mlx inside language_model. A tied head is the
   * embedding table; a checkpoint may still store a copy. */
  vlm_weight_request_linear (r, "lm_head|/lm_head|/language_model.lm_head", c->vocab, c->hidden,
                             VLM_WEIGHT_NO_BIAS | (c->tie_word_embeddings ? VLM_WEIGHT_OPTIONAL
                                                                          : 0),
                             &dec->lm_head);
  if (!vlm_weight_request_finish (r, error))
    return NULL;
  set_layer_windows (dec, dir);
  dec->inv_freq = g_new (float, c->head_dim / 2);
  vlm_rope_inv_freq (dec->inv_freq, (int) c->head_dim, c->rope_theta, &c->rope_scaling);
  if (c->rope_local_theta > 0) {
    const VlmRopeScaling unscaled = { .type = VLM_ROPE_DEFAULT, .factor = 1.0 };
    dec->inv_freq_local = g_new (float, c->head_dim / 2);
    vlm_rope_inv_freq (dec->inv_freq_local, (int) c->head_dim, c->rope_local_theta, &unscaled);
  }
  return g_steal_pointer (&dec);
}

/**
 * vlm_decoder_free:
 * @dec: (nullable): a decoder
 */
void
vlm_decoder_free (VlmDecoder *dec)
{
  if (!dec)
    return;
  for (gint64 i = 0; dec->layers && i < dec->cfg.n_layers; i++) {
    VlmDecoderLayer *l = &dec->layers[i];
    VlmLinear *lins[] = { &l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down };
    for (guint k = 0; k < G_N_ELEMENTS (lins); k++)
      vlm_linear_clear (lins[k]);
    g_clear_pointer (&l->attn_norm, vlm_tensor_unref);
    g_clear_pointer (&l->mlp_norm, vlm_tensor_unref);
    g_clear_pointer (&l->post_attn_norm, vlm_tensor_unref);
    g_clear_pointer (&l->post_mlp_norm, vlm_tensor_unref);
    g_clear_pointer (&l->q_norm, vlm_tensor_unref);
    g_clear_pointer (&l->k_norm, vlm_tensor_unref);
  }
  vlm_linear_clear (&dec->embed);
  vlm_linear_clear (&dec->lm_head);
  g_free (dec->layers);
  g_clear_pointer (&dec->final_norm, vlm_tensor_unref);
  g_free (dec->inv_freq);
  g_free (dec->inv_freq_local);
  g_free (dec);
}
