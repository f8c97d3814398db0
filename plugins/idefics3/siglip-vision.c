/* siglip-vision.c: the SigLIP vision tower as an element (Idefics3 / SmolVLM,
 * PaliGemma, Gemma 3): tiles -> last hidden state after the post LayerNorm,
 * all-padding tiles dropped and padded patches masked as
 * Idefics3Model.get_image_features does (whole images have neither). */
#include "idefics3-elements.h"
#include "compute/gemm-bf16.h"
#include "compute/gemm-f16.h"
#include "nn/vision-encoder.h"

#include <string.h>

struct _SiglipVision {
  VlmModelElement parent;
  gint64 batch_size;
  gboolean keep_one;        /* SmolVLM keeps the first tile when all are padding */
  SiglipPrecision precision;
  gboolean told_fallback;   /* the fallback message is given once */
  VlmVisionEncoder *enc;
};

G_DEFINE_FINAL_TYPE (SiglipVision, siglip_vision, VLM_TYPE_MODEL_ELEMENT)

G_DEFINE_ENUM_TYPE (SiglipPrecision, siglip_precision,
                    G_DEFINE_ENUM_VALUE (SIGLIP_PRECISION_F32, "f32"),
                    G_DEFINE_ENUM_VALUE (SIGLIP_PRECISION_BF16, "bf16"),
                    G_DEFINE_ENUM_VALUE (SIGLIP_PRECISION_F16, "f16"))

enum { PROP_0, PROP_BATCH_SIZE, PROP_PRECISION, N_PROPS };

/* Defaults for absent keys: SiglipVisionConfig's for a siglip_vision_model section
 * (PaliGemma, Gemma 3), else Idefics3VisionConfig / SmolVLMVisionConfig's. */
static gboolean
read_config (VlmModelDir *dir, VlmVisionConfig *cfg, GError **error)
{
  const char *sec = "vision_config";
  gboolean siglip = g_strcmp0 (vlm_model_dir_get_string (dir, sec, "model_type", NULL),
                               "siglip_vision_model") == 0;
  cfg->hidden = vlm_model_dir_get_int (dir, sec, "hidden_size", siglip ? 768 : 1152);
  cfg->intermediate = vlm_model_dir_get_int (dir, sec, "intermediate_size", 3072);
  cfg->n_layers = vlm_model_dir_get_int (dir, sec, "num_hidden_layers", 12);
  cfg->n_heads = vlm_model_dir_get_int (dir, sec, "num_attention_heads", siglip ? 12 : 16);
  cfg->channels = vlm_model_dir_get_int (dir, sec, "num_channels", 3);
  cfg->image_size = vlm_model_dir_get_int (dir, sec, "image_size", 224);
  cfg->patch = vlm_model_dir_get_int (dir, sec, "patch_size", siglip ? 16 : 32);
  cfg->eps = (float) vlm_model_dir_get_double (dir, sec, "layer_norm_eps", 1e-6);
  const char *act = vlm_model_dir_get_string (dir, sec, "hidden_act", "gelu_pytorch_tanh");
  if (!vlm_activation_from_name (act, &cfg->act)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "%s: vision_config.hidden_act '%s' is not supported",
                 vlm_model_dir_get_path (dir), act);
    return FALSE;
  }
  return TRUE;
}

static gboolean
siglip_vision_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  SiglipVision *self = SIGLIP_VISION (element);
  VlmVisionConfig cfg = { 0 };
  if (!read_config (dir, &cfg, error))
    return FALSE;
  g_autoptr (VlmWeights) weights = vlm_weights_open (dir, vlm_element_get_pipeline (VLM_ELEMENT (self)),
                                                     error);
  if (!weights)
    return FALSE;
  /* Idefics3 (HF, mlx), then PaliGemma / Gemma 3 (checkpoint, transformers >= 4.52). */
  const char *const aliases[] = { "vision_model.", "vision_tower.vision_model.",
                                  "model.vision_tower.vision_model.", NULL };
  VlmVisionEncoder *enc = vlm_vision_encoder_load (&cfg, weights, "model.vision_model.", aliases,
                                                   error);
  if (!enc)
    return FALSE;
  g_clear_pointer (&self->enc, vlm_vision_encoder_free);
  self->enc = enc;
  self->keep_one = g_strcmp0 (vlm_model_dir_get_model_type (dir), "smolvlm") == 0;
  return TRUE;
}

/* Views @t as [n, inner...] with the leading dims before the last @keep merged. */
static VlmTensor *
flatten_leading (VlmTensor *t, guint keep, const char *port, const char *layout, GError **error)
{
  guint nd = vlm_tensor_get_ndim (t);
  if (nd < keep + 1 || nd > keep + 2 || (nd == keep + 2 && vlm_tensor_get_dim (t, 0) != 1)) {
    g_autofree char *d = vlm_tensor_describe (t);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s: %s, expected [%s] or [1, %s]", port, d,
                 layout, layout);
    return NULL;
  }
  const gint64 *s = vlm_tensor_get_shape (t, NULL);
  g_autoptr (VlmTensor) c = vlm_tensor_contiguous (t);
  return vlm_tensor_reshape (c, keep + 1, s + (nd - keep - 1), error);
}

/* The patch mask of tile @tile: a patch is valid when any of its pixels is. */
static void
patch_mask (const guint8 *pixel_mask, gint64 h, gint64 w, gint64 p, guint8 *out)
{
  gint64 gw = w / p;
  memset (out, 0, (gsize) ((h / p) * gw));
  for (gint64 y = 0; y < h; y++)
    for (gint64 x = 0; x < w; x++)
      out[(y / p) * gw + x / p] |= pixel_mask[y * w + x] != 0;
}

static gboolean
all_zero (const float *v, gint64 n)
{
  for (gint64 i = 0; i < n; i++)
    if (v[i] != 0.0f)
      return FALSE;
  return TRUE;
}

/* The products the property asks for, else VLM_VISION_PRECISION (bf16 or f16), as the
 * CPU can: exact F32 otherwise, said once. */
static void
choose_products (SiglipVision *self)
{
  SiglipPrecision want = self->precision;
  const char *env = g_getenv ("VLM_VISION_PRECISION");
  if (want == SIGLIP_PRECISION_F32 && g_strcmp0 (env, "bf16") == 0)
    want = SIGLIP_PRECISION_BF16;
  else if (want == SIGLIP_PRECISION_F32 && g_strcmp0 (env, "f16") == 0)
    want = SIGLIP_PRECISION_F16;
  self->enc->bf16_products = want == SIGLIP_PRECISION_BF16 && vlm_gemm_bf16_supported ();
  self->enc->f16_products = want == SIGLIP_PRECISION_F16 && vlm_gemm_f16_supported ();
  if (want == SIGLIP_PRECISION_F32 || self->enc->bf16_products || self->enc->f16_products
      || self->told_fallback)
    return;
  g_message ("siglip-vision: precision %s needs %s (and VLM_KERNELS not capping it); using "
             "exact F32 products", want == SIGLIP_PRECISION_BF16 ? "bf16" : "f16",
             want == SIGLIP_PRECISION_BF16 ? "AVX512_BF16" : "AVX512_FP16");
  self->told_fallback = TRUE;
}

static gboolean
siglip_vision_process (VlmElement *element, GError **error)
{
  SiglipVision *self = SIGLIP_VISION (element);
  const VlmVisionConfig *cfg = &self->enc->cfg;
  VlmTensor *pv_in = vlm_element_get_input_tensor (element, "pixel_values");
  VlmTensor *mask_in = vlm_element_get_input_tensor (element, "pixel_attention_mask");
  if (!pv_in) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "no pixel_values tensor");
    return FALSE;
  }
  if (!vlm_dtype_is_float (vlm_tensor_get_dtype (pv_in))) {
    g_autofree char *d = vlm_tensor_describe (pv_in);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "pixel_values: %s, expected floats", d);
    return FALSE;
  }
  g_autoptr (VlmTensor) pv4 = flatten_leading (pv_in, 3, "pixel_values", "n_tiles, C, H, W",
                                               error);
  if (!pv4)
    return FALSE;
  g_autoptr (VlmTensor) pv = vlm_tensor_to_dtype (pv4, VLM_DTYPE_F32, error);
  if (!pv)
    return FALSE;
  const gint64 *s = vlm_tensor_get_shape (pv, NULL);
  gint64 n = s[0], h = s[2], w = s[3], p = cfg->patch;
  if (s[1] != cfg->channels || h % p || w % p || h == 0 || w == 0) {
    g_autofree char *d = vlm_tensor_describe (pv);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "pixel_values: %s, expected %" G_GINT64_FORMAT
                 " channels and a height and width that are multiples of the patch size %"
                 G_GINT64_FORMAT, d, cfg->channels, p);
    return FALSE;
  }
  g_autoptr (VlmTensor) mask = NULL;
  if (mask_in) {
    g_autoptr (VlmTensor) m3 = flatten_leading (mask_in, 2, "pixel_attention_mask",
                                                "n_tiles, H, W", error);
    if (!m3)
      return FALSE;
    const gint64 *ms = vlm_tensor_get_shape (m3, NULL);
    if (ms[0] != n || ms[1] != h || ms[2] != w) {
      g_autofree char *d = vlm_tensor_describe (mask_in), *pd = vlm_tensor_describe (pv_in);
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "pixel_attention_mask: %s does not match %s", d, pd);
      return FALSE;
    }
    if (!(mask = vlm_tensor_to_dtype (m3, VLM_DTYPE_U8, error)))
      return FALSE;
  }

  /* Tiles whose pixels are all exactly 0.0 are padding and are not encoded. */
  const float *pix = vlm_tensor_get_data (pv);
  gint64 tile = cfg->channels * h * w, gh = h / p, gw = w / p, seq = gh * gw;
  g_autofree gint64 *kept = g_new (gint64, MAX (n, 1));
  gint64 n_kept = 0;
  for (gint64 t = 0; t < n; t++)
    if (!all_zero (pix + t * tile, tile))
      kept[n_kept++] = t;
  if (n_kept == 0 && n > 0 && self->keep_one)
    kept[n_kept++] = 0;

  g_autoptr (VlmTensor) out = vlm_tensor_new (VLM_DTYPE_F32, 3,
                                              (gint64[]) { n_kept, seq, cfg->hidden });
  float *dst = vlm_tensor_get_data_mut (out);
  gint64 bs = MIN (self->batch_size, MAX (n_kept, 1));
  choose_products (self);
  g_autofree float *batch_pix = g_new (float, bs * tile);
  g_autofree guint8 *batch_mask = mask ? g_new (guint8, bs * seq) : NULL;
  const guint8 *mdata = mask ? vlm_tensor_get_data (mask) : NULL;
  for (gint64 b0 = 0; b0 < n_kept; b0 += bs) {
    gint64 nb = MIN (bs, n_kept - b0);
    for (gint64 i = 0; i < nb; i++) {
      memcpy (batch_pix + i * tile, pix + kept[b0 + i] * tile, (gsize) tile * sizeof (float));
      if (mdata)
        patch_mask (mdata + kept[b0 + i] * h * w, h, w, p, batch_mask + i * seq);
    }
    if (!vlm_vision_encoder_forward (self->enc, batch_pix, batch_mask, nb, h, w,
                                     dst + b0 * seq * cfg->hidden, error)) {
      g_prefix_error (error, "pixel_values tile %" G_GINT64_FORMAT ": ", kept[b0]);
      return FALSE;
    }
  }
  vlm_element_set_output_tensor (element, "vision_hidden", out);
  return TRUE;
}

static void
siglip_vision_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  SiglipVision *self = SIGLIP_VISION (object);
  if (id == PROP_BATCH_SIZE)
    g_value_set_int64 (value, self->batch_size);
  else if (id == PROP_PRECISION)
    g_value_set_enum (value, self->precision);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
siglip_vision_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  SiglipVision *self = SIGLIP_VISION (object);
  if (id == PROP_BATCH_SIZE)
    self->batch_size = g_value_get_int64 (value);
  else if (id == PROP_PRECISION)
    self->precision = g_value_get_enum (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
siglip_vision_finalize (GObject *object)
{
  SiglipVision *self = SIGLIP_VISION (object);
  g_clear_pointer (&self->enc, vlm_vision_encoder_free);
  G_OBJECT_CLASS (siglip_vision_parent_class)->finalize (object);
}

static void
siglip_vision_class_init (SiglipVisionClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  oc->get_property = siglip_vision_get_property;
  oc->set_property = siglip_vision_set_property;
  oc->finalize = siglip_vision_finalize;
  ec->process = siglip_vision_process;
  VLM_MODEL_ELEMENT_CLASS (klass)->load = siglip_vision_load;
  g_object_class_install_property (
    oc, PROP_BATCH_SIZE,
    g_param_spec_int64 ("batch-size", "Batch size",
                        "Tiles encoded together (larger batches use more memory)", 1, 4096, 4,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
    oc, PROP_PRECISION,
    g_param_spec_enum ("precision", "Precision",
                       "Products of the layers' projections: f32 (exact), bf16 (inputs "
                       "rounded to BF16, vdpbf16ps; ~1e-2 relative error; faster only where "
                       "vdpbf16ps outruns F32 FMAs) or f16 (the projections and both attention "
                       "products with inputs scaled and rounded to FP16, vfmadd231ph in short "
                       "runs into F32 sums; AVX512_FP16 CPUs; ~1e-3 relative error); "
                       "VLM_VISION_PRECISION=bf16|f16 also selects them",
                       siglip_precision_get_type (), SIGLIP_PRECISION_F32,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS));
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_VISION_TOWER, "SigLIP vision tower",
                                  "SigLIP encoder (Idefics3 / SmolVLM, PaliGemma, Gemma 3): "
                                  "images or tiles to patch features (padding tiles dropped, "
                                  "padded patches masked)");
  vlm_element_class_add_port (ec, "pixel_values", VLM_PORT_INPUT, VLM_TYPE_TENSOR, 0,
                              "tiles, F32 [n_tiles, C, H, W] (or [1, n_tiles, C, H, W])");
  vlm_element_class_add_port (ec, "pixel_attention_mask", VLM_PORT_INPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL,
                              "valid pixels, BOOL or integer [n_tiles, H, W]; absent: all valid");
  vlm_element_class_add_port (ec, "vision_hidden", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, 0,
                              "F32 [n_kept_tiles, patches, D] after the post LayerNorm");
}

static void
siglip_vision_init (SiglipVision *self)
{
}
