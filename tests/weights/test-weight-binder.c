/* test-weight-binder.c: one declaration list binds HF and mlx-community checkpoints;
 * every problem is reported in one error; `weights` patches run before binding. */
#include "weights/weight-binder.h"
#include "vlm/vlm.h"

#include <glib/gstdio.h>
#include <string.h>

static const char *const text_aliases[] = { "model.language_model.", "language_model.model.",
                                            "language_model.", NULL };
static const char *const vision_aliases[] = { "vision_model.", "model.vision_tower.vision_model.",
                                              "vision_tower.vision_model.", NULL };

static VlmModelDir *
open_fixture (const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (g_getenv ("VLM_SHARED_DIR"), "fixtures", "arch", name,
                                            NULL);
  VlmModelDir *dir = vlm_model_dir_new (path, &error);
  g_assert_no_error (error);
  return dir;
}

/* The Llama text model of Idefics3 / SmolVLM, sized from the config. */
typedef struct {
  VlmLinear embed, head, proj[2][7];
  VlmTensor *norms[2][2], *norm;
} TextModel;

static const char *const proj_names[7] = { "self_attn.q_proj", "self_attn.k_proj",
                                           "self_attn.v_proj", "self_attn.o_proj",
                                           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj" };

static VlmWeightRequest *
declare_text_model (VlmModelDir *dir, VlmWeights *w, TextModel *m)
{
  gint64 h = vlm_model_dir_get_int (dir, "text_config", "hidden_size", 0);
  gint64 heads = vlm_model_dir_get_int (dir, "text_config", "num_attention_heads", 0);
  gint64 kv = vlm_model_dir_get_int (dir, "text_config", "num_key_value_heads", heads);
  gint64 hd = vlm_model_dir_get_int (dir, "text_config", "head_dim", h / heads);
  gint64 inter = vlm_model_dir_get_int (dir, "text_config", "intermediate_size", 0);
  gint64 vocab = vlm_model_dir_get_int (dir, "text_config", "vocab_size", 0);
  g_assert_cmpint (vlm_model_dir_get_int (dir, "text_config", "num_hidden_layers", 0), ==, 2);
  gint64 shapes[7][2] = { { heads * hd, h }, { kv * hd, h }, { kv * hd, h }, { h, heads * hd },
                          { inter, h }, { inter, h }, { h, inter } };

  VlmWeightRequest *r = vlm_weight_request_new (w, "model.text_model.", text_aliases);
  vlm_weight_request_embedding (r, "embed_tokens", vocab, h, 0, &m->embed);
  for (int l = 0; l < 2; l++) {
    for (int p = 0; p < 7; p++) {
      g_autofree char *name = g_strdup_printf ("layers.%d.%s", l, proj_names[p]);
      vlm_weight_request_linear (r, name, shapes[p][0], shapes[p][1], VLM_WEIGHT_NO_BIAS,
                                 &m->proj[l][p]);
    }
    g_autofree char *n1 = g_strdup_printf ("layers.%d.input_layernorm.weight", l);
    g_autofree char *n2 = g_strdup_printf ("layers.%d.post_attention_layernorm.weight", l);
    vlm_weight_request_tensor (r, n1, 1, &h, 0, &m->norms[l][0]);
    vlm_weight_request_tensor (r, n2, 1, &h, 0, &m->norms[l][1]);
  }
  vlm_weight_request_tensor (r, "norm.weight", 1, &h, 0, &m->norm);
  /* Tied embeddings: no lm_head is fine, the decoder reuses the embedding table. */
  gboolean tied = vlm_model_dir_get_bool (dir, "text_config", "tie_word_embeddings",
                                          vlm_model_dir_get_bool (dir, NULL, "tie_word_embeddings",
                                                                  FALSE));
  vlm_weight_request_linear (r, "lm_head|/lm_head|/language_model.lm_head", vocab, h,
                             VLM_WEIGHT_NO_BIAS | (tied ? VLM_WEIGHT_OPTIONAL : 0), &m->head);
  return r;
}

static void
text_model_clear (TextModel *m)
{
  vlm_linear_clear (&m->embed);
  vlm_linear_clear (&m->head);
  for (int l = 0; l < 2; l++) {
    for (int p = 0; p < 7; p++)
      vlm_linear_clear (&m->proj[l][p]);
    g_clear_pointer (&m->norms[l][0], vlm_tensor_unref);
    g_clear_pointer (&m->norms[l][1], vlm_tensor_unref);
  }
  g_clear_pointer (&m->norm, vlm_tensor_unref);
}

/* w = scale * q + bias from the raw checkpoint tensors, element (row, col). */
static double
raw_dequant (VlmTensorSet *set, const char *module, gint64 row, gint64 col, int bits, int gs)
{
  g_autofree char *wn = g_strconcat (module, ".weight", NULL);
  g_autofree char *sn = g_strconcat (module, ".scales", NULL);
  g_autofree char *bn = g_strconcat (module, ".biases", NULL);
  gint64 bit = col * bits;
  gint64 wi[2] = { row, bit / 32 };
  guint32 word = (guint32) vlm_tensor_get_element (vlm_tensor_set_get (set, wn), wi);
  guint32 q = (word >> (bit % 32)) & ((1u << bits) - 1);
  gint64 gi[2] = { row, col / gs };
  return vlm_tensor_get_element (vlm_tensor_set_get (set, sn), gi) * q
         + vlm_tensor_get_element (vlm_tensor_set_get (set, bn), gi);
}

static void
test_text_model_hf (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmModelDir) dir = open_fixture ("idefics3");
  g_autoptr (VlmWeights) w = vlm_weights_open (dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (vlm_weights_is_mlx_layout (w));
  TextModel m = { 0 };
  g_autoptr (VlmWeightRequest) r = declare_text_model (dir, w, &m);
  g_assert_true (vlm_weight_request_finish (r, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (vlm_weight_request_get_prefix (r), ==, "model.text_model.");
  g_assert_cmpstr (vlm_weight_request_resolved (r, "lm_head|/lm_head|/language_model.lm_head"),
                   ==, "lm_head");
  /* Dense BF16 is read in place from the mapping. */
  VlmTensor *q = vlm_tensor_set_get (vlm_weights_get_tensors (w),
                                     "model.text_model.layers.1.self_attn.q_proj.weight");
  g_assert_false (vlm_linear_is_quantized (&m.proj[1][0]));
  g_assert_cmpint (m.proj[1][0].dtype, ==, VLM_DTYPE_BF16);
  g_assert_true (m.proj[1][0].data == vlm_tensor_get_data (q));
  g_assert_cmpint (m.head.out, ==, vlm_model_dir_get_int (dir, "text_config", "vocab_size", 0));
  g_assert_cmpint (vlm_tensor_get_dtype (m.norm), ==, VLM_DTYPE_F32);
  gint64 i0[1] = { 3 };
  g_assert_cmpfloat (vlm_tensor_get_element (m.norm, i0), ==,
                     vlm_tensor_get_element (vlm_tensor_set_get (vlm_weights_get_tensors (w),
                                                                 "model.text_model.norm.weight"),
                                             i0));
  text_model_clear (&m);
}

/* llava-hf's legacy names (lm_head inside language_model) and PaliGemma's tied
 * embeddings bind with the same declarations. */
static void
check_legacy_text_model (const char *fixture, const char *lm_head)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmModelDir) dir = open_fixture (fixture);
  g_autoptr (VlmWeights) w = vlm_weights_open (dir, NULL, &error);
  g_assert_no_error (error);
  TextModel m = { 0 };
  g_autoptr (VlmWeightRequest) r = declare_text_model (dir, w, &m);
  g_assert_true (vlm_weight_request_finish (r, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (vlm_weight_request_get_prefix (r), ==, "language_model.model.");
  g_assert_cmpstr (vlm_weight_request_resolved (r, "lm_head|/lm_head|/language_model.lm_head"),
                   ==, lm_head);
  g_assert_true ((m.head.data != NULL) == (lm_head != NULL));
  g_assert_nonnull (m.embed.data);
  text_model_clear (&m);
}

static void
test_text_model_legacy (void)
{
  check_legacy_text_model ("llava", "language_model.lm_head");
  check_legacy_text_model ("paligemma", NULL);
}

static void
test_text_model_mlx (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmModelDir) dir = open_fixture ("smolvlm");
  g_autoptr (VlmWeights) w = vlm_weights_open (dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (vlm_weights_is_mlx_layout (w));
  TextModel m = { 0 };
  g_autoptr (VlmWeightRequest) r = declare_text_model (dir, w, &m);
  g_assert_true (vlm_weight_request_finish (r, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (vlm_weight_request_get_prefix (r), ==, "language_model.");
  g_assert_cmpstr (vlm_weight_request_resolved (r, "lm_head|/lm_head|/language_model.lm_head"),
                   ==, "language_model.lm_head");

  int gs = 0, bits = 0;
  g_assert_true (vlm_model_dir_get_quantization (dir, &gs, &bits));
  VlmLinear *lins[] = { &m.embed, &m.head, &m.proj[0][0], &m.proj[1][6] };
  for (guint i = 0; i < G_N_ELEMENTS (lins); i++) {
    g_assert_true (vlm_linear_is_quantized (lins[i]));
    g_assert_cmpint (lins[i]->bits, ==, bits);
    g_assert_cmpint (lins[i]->group_size, ==, gs);
  }
  /* The bound layer dequantizes to what the raw tensors say. */
  VlmLinear *down = &m.proj[1][6];
  g_autofree float *row = g_new (float, down->in);
  vlm_linear_dequant_rows (down, 5, 1, row);
  for (gint64 c = 0; c < down->in; c += 37)
    g_assert_cmpfloat_with_epsilon (row[c], raw_dequant (vlm_weights_get_tensors (w),
                                                         "language_model.layers.1.mlp.down_proj",
                                                         5, c, bits, gs), 1e-6);
  text_model_clear (&m);
}

/* The SigLIP-style vision tower of Idefics3 / SmolVLM. */
typedef struct {
  VlmTensor *patch_w, *patch_b, *pos, *post_norm[2];
  VlmLinear lin[2][6];
  VlmTensor *norms[2][4];
} Vision;

static const char *const vision_lins[6] = { "self_attn.q_proj", "self_attn.k_proj",
                                            "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1",
                                            "mlp.fc2" };

static VlmWeightRequest *
declare_vision (VlmModelDir *dir, VlmWeights *w, Vision *v)
{
  gint64 h = vlm_model_dir_get_int (dir, "vision_config", "hidden_size", 0);
  gint64 inter = vlm_model_dir_get_int (dir, "vision_config", "intermediate_size", 0);
  gint64 p = vlm_model_dir_get_int (dir, "vision_config", "patch_size", 0);
  gint64 side = vlm_model_dir_get_int (dir, "vision_config", "image_size", 0) / p;
  gint64 shapes[6][2] = { { h, h }, { h, h }, { h, h }, { h, h }, { inter, h }, { h, inter } };
  VlmWeightRequest *r = vlm_weight_request_new (w, "model.vision_model.", vision_aliases);
  vlm_weight_request_tensor (r, "embeddings.patch_embedding.weight", 4,
                             (gint64[]) { h, 3, p, p }, VLM_WEIGHT_CONV, &v->patch_w);
  vlm_weight_request_tensor (r, "embeddings.patch_embedding.bias", 1, &h, 0, &v->patch_b);
  vlm_weight_request_tensor (r, "embeddings.position_embedding.weight", 2,
                             (gint64[]) { side * side, h }, 0, &v->pos);
  for (int l = 0; l < 2; l++) {
    for (int i = 0; i < 6; i++) {
      g_autofree char *n = g_strdup_printf ("encoder.layers.%d.%s", l, vision_lins[i]);
      vlm_weight_request_linear (r, n, shapes[i][0], shapes[i][1], VLM_WEIGHT_BIAS, &v->lin[l][i]);
    }
    for (int i = 0; i < 4; i++) {
      g_autofree char *n = g_strdup_printf ("encoder.layers.%d.layer_norm%d.%s", l, 1 + i / 2,
                                            i % 2 ? "bias" : "weight");
      vlm_weight_request_tensor (r, n, 1, &h, 0, &v->norms[l][i]);
    }
  }
  vlm_weight_request_tensor (r, "post_layernorm.weight", 1, &h, 0, &v->post_norm[0]);
  vlm_weight_request_tensor (r, "post_layernorm.bias", 1, &h, 0, &v->post_norm[1]);
  return r;
}

static void
vision_clear (Vision *v)
{
  VlmTensor **ts[] = { &v->patch_w, &v->patch_b, &v->pos, &v->post_norm[0], &v->post_norm[1] };
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    g_clear_pointer (ts[i], vlm_tensor_unref);
  for (int l = 0; l < 2; l++) {
    for (int i = 0; i < 6; i++)
      vlm_linear_clear (&v->lin[l][i]);
    for (int i = 0; i < 4; i++)
      g_clear_pointer (&v->norms[l][i], vlm_tensor_unref);
  }
}

static void
check_vision (const char *fixture, const char *prefix)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmModelDir) dir = open_fixture (fixture);
  g_autoptr (VlmWeights) w = vlm_weights_open (dir, NULL, &error);
  g_assert_no_error (error);
  Vision v = { 0 };
  g_autoptr (VlmWeightRequest) r = declare_vision (dir, w, &v);
  g_assert_true (vlm_weight_request_finish (r, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (vlm_weight_request_get_prefix (r), ==, prefix);

  /* The conv kernel comes out [O, I, kH, kW] whatever the stored order. */
  g_autofree char *conv = g_strconcat (prefix, "embeddings.patch_embedding.weight", NULL);
  VlmTensor *raw = vlm_tensor_set_get (vlm_weights_get_tensors (w), conv);
  gboolean mlx = vlm_weights_is_mlx_layout (w);
  gint64 o = vlm_tensor_get_dim (v.patch_w, 0), kh = vlm_tensor_get_dim (v.patch_w, 2);
  g_assert_cmpint (vlm_tensor_get_dim (v.patch_w, 1), ==, 3);
  g_assert_cmpint (vlm_tensor_get_dim (raw, mlx ? 3 : 1), ==, 3);
  g_assert_true (vlm_tensor_is_contiguous (v.patch_w));
  guint checked = 0;
  for (gint64 oi = 0; oi < o; oi += 7)
    for (gint64 i = 0; i < 3; i++)
      for (gint64 y = 0; y < kh; y += 3)
        for (gint64 x = 0; x < kh; x += 2) {
          gint64 bound[4] = { oi, i, y, x };
          gint64 mlx_idx[4] = { oi, y, x, i };
          g_assert_cmpfloat (vlm_tensor_get_element (v.patch_w, bound), ==,
                             vlm_tensor_get_element (raw, mlx ? mlx_idx : bound));
          checked++;
        }
  g_assert_cmpuint (checked, >, 100);

  /* The position table is F32 either way (dequantized in the mlx checkpoint). */
  g_autofree char *pos_module = g_strconcat (prefix, "embeddings.position_embedding", NULL);
  g_autofree char *pos_scales = g_strconcat (pos_module, ".scales", NULL);
  g_assert_cmpint (vlm_tensor_get_dtype (v.pos), ==, VLM_DTYPE_F32);
  if (vlm_tensor_set_contains (vlm_weights_get_tensors (w), pos_scales)) {
    int gs, bits;
    g_assert_true (vlm_model_dir_get_quantization (dir, &gs, &bits));
    gint64 idx[2] = { 17, 41 };
    g_assert_cmpfloat_with_epsilon (vlm_tensor_get_element (v.pos, idx),
                                    raw_dequant (vlm_weights_get_tensors (w), pos_module, 17, 41,
                                                 bits, gs), 1e-6);
  }
  /* fc2 of the mlx tower stays dense (its width is not a whole number of groups). */
  g_assert_cmpint (vlm_linear_is_quantized (&v.lin[0][0]), ==, mlx);
  g_assert_false (vlm_linear_is_quantized (&v.lin[0][5]));
  g_assert_nonnull (v.lin[1][4].bias);
  vision_clear (&v);
}

static void
test_vision_conv (void)
{
  check_vision ("idefics3", "model.vision_model.");
  check_vision ("smolvlm", "vision_model.");
  check_vision ("paligemma", "vision_tower.vision_model.");
}

/* A model folder in a temp dir: config.json plus model.safetensors from @set. */
static char *
make_model_dir (const char *config, VlmTensorSet *set)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("vlm-binder-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *cfg = g_build_filename (dir, "config.json", NULL);
  g_autofree char *st = g_build_filename (dir, "model.safetensors", NULL);
  g_assert_true (g_file_set_contents (cfg, config, -1, NULL));
  g_assert_true (vlm_safetensors_write (st, set, NULL, &error));
  g_assert_no_error (error);
  return dir;
}

static void
remove_model_dir (const char *dir)
{
  g_autofree char *cfg = g_build_filename (dir, "config.json", NULL);
  g_autofree char *st = g_build_filename (dir, "model.safetensors", NULL);
  g_unlink (cfg);
  g_unlink (st);
  g_rmdir (dir);
}

static void
add_f32 (VlmTensorSet *set, const char *name, guint ndim, const gint64 *shape)
{
  g_autoptr (VlmTensor) t = vlm_tensor_new (VLM_DTYPE_F32, ndim, shape);
  float *d = vlm_tensor_get_data_mut (t);
  for (gint64 i = 0; i < vlm_tensor_get_numel (t); i++)
    d[i] = (float) i * 0.25f;
  vlm_tensor_set_insert (set, name, t);
}

static const char test_config[] = "{\"model_type\": \"test-binder\"}";

static void
test_all_problems_in_one_error (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTensorSet) set = vlm_tensor_set_new ();
  add_f32 (set, "m.a.weight", 2, (gint64[]) { 4, 6 });  /* declared [4, 8] */
  add_f32 (set, "m.norm.weight", 1, (gint64[]) { 4 });
  add_f32 (set, "m.extra", 1, (gint64[]) { 5 });
  add_f32 (set, "other.x", 1, (gint64[]) { 2 });        /* outside the prefix: not reported */
  g_autofree char *path = make_model_dir (test_config, set);
  g_autoptr (VlmModelDir) dir = vlm_model_dir_new (path, &error);
  g_assert_no_error (error);
  g_autoptr (VlmWeights) w = vlm_weights_open (dir, NULL, &error);
  g_assert_no_error (error);

  VlmLinear a = { 0 }, b = { 0 };
  VlmTensor *c = NULL, *norm = NULL;
  g_autoptr (VlmWeightRequest) r = vlm_weight_request_new (w, "m.", NULL);
  vlm_weight_request_linear (r, "a", 4, 8, 0, &a);
  vlm_weight_request_linear (r, "b", 4, 8, 0, &b);
  vlm_weight_request_tensor (r, "c", 1, (gint64[]) { 4 }, 0, &c);
  vlm_weight_request_tensor (r, "norm.weight", 1, (gint64[]) { 4 }, 0, &norm);
  g_assert_false (vlm_weight_request_finish (r, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_FORMAT);
  const char *msg = error->message;
  g_test_message ("%s", msg);
  g_assert_nonnull (strstr (msg, "missing: m.b.weight"));
  g_assert_nonnull (strstr (msg, "missing: m.c"));
  g_assert_nonnull (strstr (msg, "m.a.weight expected [4, 8] got F32 [4, 6]"));
  g_assert_nonnull (strstr (msg, "unexpected: m.extra F32 [5]"));
  g_assert_nonnull (strstr (msg, "2 missing, 1 wrongly shaped, 1 unexpected"));
  g_assert_null (strstr (msg, "other.x"));
  /* Nothing was bound. */
  g_assert_null (a.data);
  g_assert_null (norm);
  remove_model_dir (path);
}

static void
test_tied_and_bias (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTensorSet) set = vlm_tensor_set_new ();
  add_f32 (set, "lm.embed_tokens.weight", 2, (gint64[]) { 10, 4 });
  add_f32 (set, "lm.proj.weight", 2, (gint64[]) { 3, 4 });
  add_f32 (set, "lm.proj.bias", 1, (gint64[]) { 3 });
  g_autofree char *path = make_model_dir (test_config, set);
  g_autoptr (VlmModelDir) dir = vlm_model_dir_new (path, &error);
  g_autoptr (VlmWeights) w = vlm_weights_open (dir, NULL, &error);
  g_assert_no_error (error);

  /* No lm_head: an optional declaration stays empty, the caller ties it. */
  VlmLinear embed, head = { 0 }, proj;
  g_autoptr (VlmWeightRequest) r = vlm_weight_request_new (w, "lm.", NULL);
  vlm_weight_request_embedding (r, "embed_tokens", -1, 4, 0, &embed);
  vlm_weight_request_linear (r, "lm_head|/lm_head", 10, 4, VLM_WEIGHT_OPTIONAL, &head);
  vlm_weight_request_linear (r, "proj", 3, 4, VLM_WEIGHT_BIAS, &proj);
  g_assert_true (vlm_weight_request_finish (r, &error));
  g_assert_no_error (error);
  g_assert_null (head.data);
  g_assert_null (vlm_weight_request_resolved (r, "lm_head|/lm_head"));
  g_assert_cmpint (embed.out, ==, 10);
  g_assert_cmpfloat (proj.bias[2], ==, 0.5f);
  float out[4];
  g_assert_true (vlm_linear_embed (&embed, (gint64[]) { 7 }, 1, out, &error));
  g_assert_cmpfloat (out[1], ==, 7.25f);
  vlm_linear_clear (&embed);
  vlm_linear_clear (&proj);

  /* A bias on a module declared without one is reported, even by a lenient request;
   * a required lm_head is missing (with the names tried). */
  VlmLinear p2 = { 0 }, h2 = { 0 };
  g_autoptr (VlmWeightRequest) r2 = vlm_weight_request_new (w, "lm.", NULL);
  vlm_weight_request_set_strict (r2, FALSE);
  vlm_weight_request_linear (r2, "proj", 3, 4, VLM_WEIGHT_NO_BIAS, &p2);
  vlm_weight_request_linear (r2, "lm_head|/lm_head", 10, 4, 0, &h2);
  g_assert_false (vlm_weight_request_finish (r2, &error));
  g_assert_nonnull (strstr (error->message, "unexpected: lm.proj.bias F32 [3] (the module has no bias)"));
  g_assert_nonnull (strstr (error->message, "missing: lm.lm_head.weight (also tried lm_head.weight)"));
  g_assert_null (strstr (error->message, "embed_tokens"));
  remove_model_dir (path);
}

/* Without a quantization section, bits and group size follow from the declared width. */
static void
test_quantized_without_config (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTensorSet) set = vlm_tensor_set_new ();
  g_autoptr (VlmTensor) words = vlm_tensor_new (VLM_DTYPE_U32, 2, (gint64[]) { 2, 8 });
  guint32 *wd = vlm_tensor_get_data_mut (words);
  for (int i = 0; i < 16; i++)
    wd[i] = 0x76543210u + (guint32) i;
  g_autoptr (VlmTensor) scales = vlm_tensor_new (VLM_DTYPE_BF16, 2, (gint64[]) { 2, 1 });
  g_autoptr (VlmTensor) biases = vlm_tensor_new (VLM_DTYPE_BF16, 2, (gint64[]) { 2, 1 });
  guint16 *sd = vlm_tensor_get_data_mut (scales), *bd = vlm_tensor_get_data_mut (biases);
  sd[0] = sd[1] = vlm_f32_to_bf16 (0.5f);
  bd[0] = bd[1] = vlm_f32_to_bf16 (-1.0f);
  vlm_tensor_set_insert (set, "q.weight", words);
  vlm_tensor_set_insert (set, "q.scales", scales);
  vlm_tensor_set_insert (set, "q.biases", biases);
  g_autofree char *path = make_model_dir (test_config, set);
  g_autoptr (VlmModelDir) dir = vlm_model_dir_new (path, &error);
  g_autoptr (VlmWeights) w = vlm_weights_open (dir, NULL, &error);
  g_assert_no_error (error);

  VlmLinear q;
  g_autoptr (VlmWeightRequest) r = vlm_weight_request_new (w, "", NULL);
  vlm_weight_request_linear (r, "q", 2, 64, 0, &q);
  g_assert_true (vlm_weight_request_finish (r, &error));
  g_assert_no_error (error);
  g_assert_cmpint (q.bits, ==, 4);
  g_assert_cmpint (q.group_size, ==, 64);
  float row[64];
  vlm_linear_dequant_rows (&q, 1, 1, row);
  g_assert_cmpfloat (row[3], ==, (float) raw_dequant (set, "q", 1, 3, 4, 64));
  vlm_linear_clear (&q);

  /* Declared 48 wide, the words hold no whole number of codes. */
  VlmLinear q8 = { 0 };
  g_autoptr (VlmWeightRequest) r8 = vlm_weight_request_new (w, "", NULL);
  vlm_weight_request_linear (r8, "q", 2, 48, 0, &q8);
  g_assert_false (vlm_weight_request_finish (r8, &error));
  g_assert_nonnull (strstr (error->message, "q.weight"));
  g_clear_error (&error);
  remove_model_dir (path);
}

static void
add_quantized (VlmTensorSet *set, const char *module, gint64 rows, gint64 words, gint64 groups,
               gboolean with_biases)
{
  g_autoptr (VlmTensor) w = vlm_tensor_new (VLM_DTYPE_U32, 2, (gint64[]) { rows, words });
  g_autoptr (VlmTensor) sc = vlm_tensor_new (VLM_DTYPE_BF16, 2, (gint64[]) { rows, groups });
  g_autofree char *wn = g_strconcat (module, ".weight", NULL);
  g_autofree char *sn = g_strconcat (module, ".scales", NULL);
  g_autofree char *bn = g_strconcat (module, ".biases", NULL);
  vlm_tensor_set_insert (set, wn, w);
  vlm_tensor_set_insert (set, sn, sc);
  if (with_biases)
    vlm_tensor_set_insert (set, bn, sc);
}

/* mlx-vlm's per-module overrides (mixed quantization) win over the global setting. */
static void
test_quantized_per_module (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTensorSet) set = vlm_tensor_set_new ();
  add_quantized (set, "m.q4", 3, 8, 1, TRUE);   /* 4-bit, 64 wide, group 64 */
  add_quantized (set, "m.q8", 3, 16, 2, TRUE);  /* 8-bit, 64 wide, group 32 */
  add_quantized (set, "m.nob", 3, 8, 1, FALSE); /* scales without biases */
  g_autofree char *path = make_model_dir (
    "{\"model_type\": \"test-binder\", \"quantization\": {\"group_size\": 64, \"bits\": 4,"
    " \"m.q8\": {\"group_size\": 32, \"bits\": 8}}}", set);
  g_autoptr (VlmModelDir) dir = vlm_model_dir_new (path, &error);
  g_autoptr (VlmWeights) w = vlm_weights_open (dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (vlm_weights_is_mlx_layout (w));

  VlmLinear q4, q8;
  g_autoptr (VlmWeightRequest) r = vlm_weight_request_new (w, "m.", NULL);
  vlm_weight_request_set_strict (r, FALSE);
  vlm_weight_request_linear (r, "q4", 3, 64, 0, &q4);
  vlm_weight_request_linear (r, "q8", 3, 64, 0, &q8);
  g_assert_true (vlm_weight_request_finish (r, &error));
  g_assert_no_error (error);
  g_assert_cmpint (q4.bits, ==, 4);
  g_assert_cmpint (q4.group_size, ==, 64);
  g_assert_cmpint (q8.bits, ==, 8);
  g_assert_cmpint (q8.group_size, ==, 32);
  vlm_linear_clear (&q4);
  vlm_linear_clear (&q8);

  /* A wrong width shows the unpacked shape; missing biases are named. */
  VlmLinear bad = { 0 }, nob = { 0 };
  g_autoptr (VlmWeightRequest) r2 = vlm_weight_request_new (w, "m.", NULL);
  vlm_weight_request_linear (r2, "q4", 3, 128, 0, &bad);
  vlm_weight_request_linear (r2, "nob", 3, 64, 0, &nob);
  g_assert_false (vlm_weight_request_finish (r2, &error));
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "m.q4.weight expected [3, 128] got U32 [3, 8] "
                                            "(4-bit, 3 x 64 unpacked)"));
  g_assert_nonnull (strstr (error->message, "missing: m.nob.biases"));
  g_assert_nonnull (strstr (error->message, "unexpected: m.q8.weight"));
  g_assert_null (bad.data);
  remove_model_dir (path);
}

/* A `weights` patch from a plugin renames a tensor before binding. */
static int patch_calls;

static gboolean
rename_patch (VlmTensorSet *tensors, const char *model_type, GError **error)
{
  patch_calls++;
  if (!vlm_tensor_set_rename (tensors, "old.proj.weight", "m.proj.weight")) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND, "old.proj.weight is not there");
    return FALSE;
  }
  return TRUE;
}

static gboolean
patch_plugin_init (VlmPlugin *plugin, GError **error)
{
  const char *const types[] = { "test-binder", NULL };
  return vlm_plugin_register_patch (plugin, "test-rename-proj", VLM_HOOK_WEIGHTS, types, 0,
                                    "renames old.proj to m.proj", rename_patch, error);
}

static const VlmPluginDesc patch_plugin = {
  VLM_PLUGIN_ABI_VERSION, "test-binder", "1.0", "LGPL-2.1-or-later", "weights patch for tests",
  patch_plugin_init,
};

static void
test_weights_patch (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (vlm_registry_register_static_plugin (vlm_registry_get_default (), &patch_plugin,
                                                      &error));
  g_assert_no_error (error);
  g_autoptr (VlmTensorSet) set = vlm_tensor_set_new ();
  add_f32 (set, "old.proj.weight", 2, (gint64[]) { 2, 3 });
  g_autofree char *path = make_model_dir (test_config, set);
  g_autoptr (VlmModelDir) dir = vlm_model_dir_new (path, &error);
  g_assert_no_error (error);

  /* Without the pipeline no patch runs: the old name is all there is. */
  g_autoptr (VlmWeights) plain = vlm_weights_open (dir, NULL, &error);
  g_assert_no_error (error);
  VlmLinear p0 = { 0 };
  g_autoptr (VlmWeightRequest) r0 = vlm_weight_request_new (plain, "", NULL);
  vlm_weight_request_linear (r0, "m.proj", 2, 3, 0, &p0);
  g_assert_false (vlm_weight_request_finish (r0, &error));
  g_assert_nonnull (strstr (error->message, "missing: m.proj.weight"));
  g_assert_nonnull (strstr (error->message, "unexpected: old.proj.weight"));
  g_clear_error (&error);

  g_autofree char *json = g_strdup_printf ("{\"model\": \"%s\", \"nodes\": []}", path);
  g_autoptr (VlmPipeline) pipeline = vlm_pipeline_new_from_data (json, -1, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (VlmWeights) w = vlm_weights_open (dir, pipeline, &error);
  g_assert_no_error (error);
  g_assert_cmpint (patch_calls, ==, 1);
  VlmLinear p;
  g_autoptr (VlmWeightRequest) r = vlm_weight_request_new (w, "", NULL);
  vlm_weight_request_linear (r, "m.proj", 2, 3, 0, &p);
  g_assert_true (vlm_weight_request_finish (r, &error));
  g_assert_no_error (error);
  g_assert_cmpint (p.out, ==, 2);
  vlm_linear_clear (&p);

  /* A second element of the same pipeline shares the patched weights. */
  g_autoptr (VlmWeights) again = vlm_weights_open (dir, pipeline, &error);
  g_assert_true (again == w);
  g_assert_cmpint (patch_calls, ==, 1);
  remove_model_dir (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/weight-binder/text-model/hf", test_text_model_hf);
  g_test_add_func ("/weight-binder/text-model/mlx", test_text_model_mlx);
  g_test_add_func ("/weight-binder/text-model/legacy", test_text_model_legacy);
  g_test_add_func ("/weight-binder/vision-conv", test_vision_conv);
  g_test_add_func ("/weight-binder/errors/all-at-once", test_all_problems_in_one_error);
  g_test_add_func ("/weight-binder/errors/tied-and-bias", test_tied_and_bias);
  g_test_add_func ("/weight-binder/quantized-without-config", test_quantized_without_config);
  g_test_add_func ("/weight-binder/quantized-per-module", test_quantized_per_module);
  g_test_add_func ("/weight-binder/weights-patch", test_weights_patch);
  return g_test_run ();
}
