/* qwen2vl-processor.c: images + rendered chat prompt -> input_ids,
 * pixel_values, image_grid_thw, as transformers' Qwen2VLProcessor (also used
 * by Qwen2.5-VL) with Qwen2VLImageProcessor (slow path) does: convert("RGB"),
 * smart_resize to multiples of patch * merge within min/max pixels, resize,
 * rescale, normalize, merge-order patches of the image repeated in time; every
 * <|image_pad|> expanded to grid_t * grid_h * grid_w / merge^2 tokens. */
#include "qwen2vl-elements.h"
#include "qwen2vl-image.h"

#include "image/processor-io.h"
#include "image/processor-settings.h"

enum { PROP_0, PROP_MIN_PIXELS, PROP_MAX_PIXELS };

struct _Qwen2vlProcessor {
  VlmProcessor parent;
  gboolean do_resize;
  VlmResample resample;
  VlmImageNormalize norm;
  int min_pixels, max_pixels;
  int patch_size, temporal_patch_size, merge_size;
  guint64 min_pixels_override, max_pixels_override; /* properties; 0: the settings */
  char *image_token;
};

G_DEFINE_FINAL_TYPE (Qwen2vlProcessor, qwen2vl_processor, VLM_TYPE_PROCESSOR)

static gboolean
load_settings (VlmProcessor *processor, VlmModelDir *dir, JsonObject *s, const char *source,
               GError **error)
{
  Qwen2vlProcessor *self = QWEN2VL_PROCESSOR (processor);
  /* Qwen2VLImageProcessor's defaults; min_pixels / max_pixels win over size. */
  self->do_resize = TRUE;
  self->resample = VLM_RESAMPLE_BICUBIC;
  self->min_pixels = 56 * 56;
  self->max_pixels = 28 * 28 * 1280;
  self->patch_size = 14;
  self->temporal_patch_size = 2;
  self->merge_size = 2;
  g_free (self->image_token);
  self->image_token = g_strdup ("<|image_pad|>");
  return vlm_settings_read_bool (s, "do_resize", &self->do_resize, source, error)
         && vlm_settings_read_resample (s, "resample", &self->resample, source, error)
         && vlm_image_normalize_load (&self->norm, VLM_OPENAI_CLIP_MEAN,
                                      VLM_OPENAI_CLIP_STD, s, source, error)
         && vlm_settings_read_member_int (s, "size", "shortest_edge", &self->min_pixels, source,
                                          error)
         && vlm_settings_read_member_int (s, "size", "longest_edge", &self->max_pixels, source,
                                          error)
         && vlm_settings_read_int (s, "min_pixels", 1, G_MAXINT, &self->min_pixels, source, error)
         && vlm_settings_read_int (s, "max_pixels", 1, G_MAXINT, &self->max_pixels, source, error)
         && vlm_settings_read_int (s, "patch_size", 1, 1024, &self->patch_size, source, error)
         && vlm_settings_read_int (s, "temporal_patch_size", 1, 64, &self->temporal_patch_size,
                                   source, error)
         && vlm_settings_read_int (s, "merge_size", 1, 64, &self->merge_size, source, error)
         && vlm_settings_read_string (s, "image_token", &self->image_token, source, error);
}

/* One image resized and normalized to float32 [3, H, W]; sets its size. */
static float *
prepare_image (Qwen2vlProcessor *self, VlmImage *rgb, int *height, int *width, GError **error)
{
  int factor = self->patch_size * self->merge_size;
  gint64 min_pixels = self->min_pixels_override ? (gint64) self->min_pixels_override
                                                : self->min_pixels;
  gint64 max_pixels = self->max_pixels_override ? (gint64) self->max_pixels_override
                                                : self->max_pixels;
  g_autoptr (VlmImage) image = NULL;
  if (self->do_resize) {
    int h, w;
    if (!qwen2vl_smart_resize (vlm_image_get_height (rgb), vlm_image_get_width (rgb), factor,
                               min_pixels, max_pixels, &h, &w, error))
      return NULL;
    image = vlm_image_resize (rgb, w, h, self->resample, error);
    if (!image)
      return NULL;
  } else {
    image = vlm_image_ref (rgb);
  }
  *height = vlm_image_get_height (image);
  *width = vlm_image_get_width (image);
  if (*height % factor || *width % factor) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "a %dx%d image is not made of whole %dx%d merge blocks (do_resize is off)",
                 *width, *height, factor, factor);
    return NULL;
  }
  float *chw = g_new (float, (gsize) 3 * *height * *width);
  if (!vlm_image_normalize_into (&self->norm, image, chw, error)) {
    g_free (chw);
    return NULL;
  }
  return chw;
}

typedef struct {
  VlmTensor *pixel_values;   /* F32 [patches, C * T * P * P] */
  VlmTensor *grid_thw;       /* I64 [n, 3] */
  VlmTensor *n_tokens;       /* I64 [n] */
} Qwen2vlBatch;

static gboolean
make_batch (Qwen2vlProcessor *self, GPtrArray *images, Qwen2vlBatch *out, GError **error)
{
  guint n = images->len;
  g_autoptr (GPtrArray) planes = g_ptr_array_new_with_free_func (g_free);
  g_autofree int *heights = g_new (int, n), *widths = g_new (int, n);
  gint64 rows = 0;
  for (guint i = 0; i < n; i++) {
    float *chw = prepare_image (self, images->pdata[i], &heights[i], &widths[i], error);
    if (!chw) {
      g_prefix_error (error, "image %u: ", i);
      return FALSE;
    }
    g_ptr_array_add (planes, chw);
    rows += (gint64) (heights[i] / self->patch_size) * (widths[i] / self->patch_size);
  }
  int p = self->patch_size, t = self->temporal_patch_size;
  gint64 cols = (gint64) 3 * t * p * p;
  gint64 pv_shape[] = { rows, cols }, grid_shape[] = { n, 3 }, tok_shape[] = { n };
  out->pixel_values = vlm_tensor_new_empty (VLM_DTYPE_F32, 2, pv_shape);
  out->grid_thw = vlm_tensor_new (VLM_DTYPE_I64, 2, grid_shape);
  out->n_tokens = vlm_tensor_new (VLM_DTYPE_I64, 1, tok_shape);
  float *dst = vlm_tensor_get_data_mut (out->pixel_values);
  gint64 *grid = vlm_tensor_get_data_mut (out->grid_thw);
  gint64 *tokens = vlm_tensor_get_data_mut (out->n_tokens);
  for (guint i = 0; i < n; i++) {
    /* A still image fills one temporal patch: it is repeated t times. */
    qwen2vl_patchify (planes->pdata[i], heights[i], widths[i], p, self->merge_size, t, dst);
    gint64 gh = heights[i] / p, gw = widths[i] / p;
    grid[i * 3] = 1;
    grid[i * 3 + 1] = gh;
    grid[i * 3 + 2] = gw;
    tokens[i] = gh * gw / (self->merge_size * self->merge_size);
    dst += gh * gw * cols;
  }
  return TRUE;
}

static void
batch_clear (Qwen2vlBatch *b)
{
  g_clear_pointer (&b->pixel_values, vlm_tensor_unref);
  g_clear_pointer (&b->grid_thw, vlm_tensor_unref);
  g_clear_pointer (&b->n_tokens, vlm_tensor_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Qwen2vlBatch, batch_clear)

/* The images' patches, grids and token counts; every <|image_pad|> expanded to its
 * image's tokens. */
static char *
process_images (VlmProcessor *processor, const char *text, GPtrArray *images, GError **error)
{
  Qwen2vlProcessor *self = QWEN2VL_PROCESSOR (processor);
  if (images->len == 0)
    return g_strdup (text);
  g_auto (Qwen2vlBatch) batch = { 0 };
  if (!make_batch (self, images, &batch, error))
    return NULL;
  g_autoptr (GPtrArray) runs = g_ptr_array_new_with_free_func (g_free);
  const gint64 *tokens = vlm_tensor_get_data (batch.n_tokens);
  for (guint i = 0; i < images->len; i++)
    g_ptr_array_add (runs, vlm_processor_repeat (self->image_token, tokens[i]));
  char *prompt = vlm_processor_expand_token (text, self->image_token,
                                             (const char *const *) runs->pdata, images->len,
                                             error);
  if (!prompt)
    return NULL;
  VlmElement *element = VLM_ELEMENT (self);
  vlm_element_set_output_tensor (element, "pixel_values", batch.pixel_values);
  vlm_element_set_output_tensor (element, "image_grid_thw", batch.grid_thw);
  vlm_element_set_output_tensor (element, "num_image_tokens", batch.n_tokens);
  return prompt;
}

static void
processor_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  Qwen2vlProcessor *self = QWEN2VL_PROCESSOR (object);
  switch (id) {
  case PROP_MIN_PIXELS: self->min_pixels_override = g_value_get_uint64 (value); break;
  case PROP_MAX_PIXELS: self->max_pixels_override = g_value_get_uint64 (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
processor_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  Qwen2vlProcessor *self = QWEN2VL_PROCESSOR (object);
  switch (id) {
  case PROP_MIN_PIXELS: g_value_set_uint64 (value, self->min_pixels_override); break;
  case PROP_MAX_PIXELS: g_value_set_uint64 (value, self->max_pixels_override); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
processor_finalize (GObject *object)
{
  Qwen2vlProcessor *self = QWEN2VL_PROCESSOR (object);
  g_free (self->image_token);
  G_OBJECT_CLASS (qwen2vl_processor_parent_class)->finalize (object);
}

static void
qwen2vl_processor_class_init (Qwen2vlProcessorClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  oc->finalize = processor_finalize;
  oc->set_property = processor_set_property;
  oc->get_property = processor_get_property;
  VLM_PROCESSOR_CLASS (klass)->load_settings = load_settings;
  VLM_PROCESSOR_CLASS (klass)->process_images = process_images;
  g_object_class_install_property (oc, PROP_MIN_PIXELS,
    g_param_spec_uint64 ("min-pixels", "Minimum pixels",
                         "Smallest resized area (0: min_pixels of the settings)", 0,
                         G_MAXINT, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_MAX_PIXELS,
    g_param_spec_uint64 ("max-pixels", "Maximum pixels",
                         "Largest resized area (0: max_pixels of the settings)", 0,
                         G_MAXINT, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_PROCESSOR, "Qwen2-VL processor",
                                  "Qwen2-VL / Qwen2.5-VL native-resolution patches, "
                                  "<|image_pad|> expansion and tokenization");
  vlm_processor_class_add_ports (ec, "the rendered chat prompt, one <|image_pad|> per image",
                                 VLM_PORT_FLAG_NONE, VLM_PORT_FLAG_OPTIONAL);
  vlm_element_class_add_port (ec, "pixel_values", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL,
                              "F32 [patches, 3 * temporal * patch * patch], merge order");
  vlm_element_class_add_port (ec, "image_grid_thw", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL, "I64 [n_images, 3] (t, h, w) patch grids");
  vlm_element_class_add_port (ec, "num_image_tokens", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL, "I64 [n_images] image tokens per image");
}

static void
qwen2vl_processor_init (Qwen2vlProcessor *self)
{
}
