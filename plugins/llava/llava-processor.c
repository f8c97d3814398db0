/* llava-processor.c: images + rendered chat prompt -> input_ids, pixel_values,
 * as transformers' LlavaProcessor with CLIPImageProcessor (slow path) does:
 * convert("RGB") (alpha dropped), shortest-edge resize, center crop, rescale,
 * normalize; every <image> expanded to the number of image features. */
#include "llava-elements.h"

#include "image/processor-io.h"
#include "image/processor-settings.h"

struct _LlavaProcessor {
  VlmProcessor parent;
  gboolean do_resize;
  int shortest_edge;       /* size.shortest_edge */
  VlmResample resample;
  gboolean do_center_crop;
  int crop_width, crop_height;
  VlmImageNormalize norm;
  char *image_token;
  int patch_size;          /* 0: unknown, no expansion (legacy processors) */
  int num_additional_image_tokens;
  char *strategy;          /* vision_feature_select_strategy */
};

G_DEFINE_FINAL_TYPE (LlavaProcessor, llava_processor, VLM_TYPE_PROCESSOR)

static gboolean
load_settings (VlmProcessor *processor, VlmModelDir *dir, JsonObject *s, const char *source,
               GError **error)
{
  LlavaProcessor *self = LLAVA_PROCESSOR (processor);
  self->do_resize = TRUE;
  self->shortest_edge = 224;
  self->resample = VLM_RESAMPLE_BICUBIC;
  self->do_center_crop = TRUE;
  self->crop_width = self->crop_height = 224;
  g_free (self->image_token);
  self->image_token = g_strdup ("<image>");
  g_free (self->strategy);
  /* The processor's own settings win; older checkpoints only have them in config.json. */
  self->strategy = g_strdup (vlm_model_dir_get_string (dir, NULL, "vision_feature_select_strategy",
                                                       NULL));
  self->patch_size = 0;
  self->num_additional_image_tokens = 0;
  return vlm_settings_read_bool (s, "do_resize", &self->do_resize, source, error)
         && vlm_settings_read_member_int (s, "size", "shortest_edge", &self->shortest_edge,
                                          source, error)
         && vlm_settings_read_resample (s, "resample", &self->resample, source, error)
         && vlm_settings_read_bool (s, "do_center_crop", &self->do_center_crop, source, error)
         && vlm_settings_read_member_int (s, "crop_size", "height", &self->crop_height, source,
                                          error)
         && vlm_settings_read_member_int (s, "crop_size", "width", &self->crop_width, source,
                                          error)
         && vlm_image_normalize_load (&self->norm, VLM_OPENAI_CLIP_MEAN,
                                      VLM_OPENAI_CLIP_STD, s, source, error)
         && vlm_settings_read_string (s, "image_token", &self->image_token, source, error)
         && vlm_settings_read_int (s, "patch_size", 1, 1 << 16, &self->patch_size, source, error)
         && vlm_settings_read_int (s, "num_additional_image_tokens", 0, 1 << 16,
                                   &self->num_additional_image_tokens, source, error)
         && vlm_settings_read_string (s, "vision_feature_select_strategy", &self->strategy,
                                      source, error);
}

/* get_resize_output_image_size (default_to_square=False): the short side
 * becomes @edge, the long side int(edge * long / short). */
static VlmImage *
resize_shortest_edge (VlmImage *image, int edge, VlmResample resample, GError **error)
{
  int w = vlm_image_get_width (image), h = vlm_image_get_height (image);
  int short_side = MIN (w, h), long_side = MAX (w, h);
  if (short_side == edge)
    return vlm_image_ref (image);
  int new_long = (int) ((double) edge * long_side / short_side);
  return w <= h ? vlm_image_resize (image, edge, new_long, resample, error)
                : vlm_image_resize (image, new_long, edge, resample, error);
}

/* Resize then center crop. */
static VlmImage *
prepare_image (VlmProcessor *processor, VlmImage *rgb, GError **error)
{
  LlavaProcessor *self = LLAVA_PROCESSOR (processor);
  g_autoptr (VlmImage) image = self->do_resize
                                   ? resize_shortest_edge (rgb, self->shortest_edge,
                                                           self->resample, error)
                                   : vlm_image_ref (rgb);
  if (!image || !self->do_center_crop)
    return g_steal_pointer (&image);
  if (vlm_image_get_width (image) < self->crop_width
      || vlm_image_get_height (image) < self->crop_height) {
    /* transformers zero-pads such crops; no published LLaVA setting needs it. */
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "a %dx%d center crop of a %dx%d image (crop_size larger than the resized image)",
                 self->crop_width, self->crop_height, vlm_image_get_width (image),
                 vlm_image_get_height (image));
    return NULL;
  }
  return vlm_image_center_crop (image, self->crop_width, self->crop_height, error);
}

/* Every image resized, cropped and normalized into pixel_values; every <image>
 * expanded (LlavaProcessor: patches of the processed image, plus the CLS
 * token(s) unless the "default" strategy drops CLS). */
static char *
process_images (VlmProcessor *processor, const char *text, GPtrArray *images, GError **error)
{
  LlavaProcessor *self = LLAVA_PROCESSOR (processor);
  if (images->len == 0)
    return g_strdup (text);
  g_autoptr (VlmTensor) pixel_values = vlm_processor_pixel_values (processor, images,
                                                                   prepare_image, &self->norm,
                                                                   error);
  if (!pixel_values)
    return NULL;
  char *prompt;
  if (self->patch_size) {
    const gint64 *shape = vlm_tensor_get_shape (pixel_values, NULL);
    gint64 count = (shape[2] / self->patch_size) * (shape[3] / self->patch_size)
                   + self->num_additional_image_tokens;
    if (g_strcmp0 (self->strategy, "default") == 0)
      count--;
    g_autofree char *run = vlm_processor_repeat (self->image_token, MAX (count, 0));
    g_autofree const char **runs = g_new (const char *, images->len);
    for (guint i = 0; i < images->len; i++)
      runs[i] = run;
    prompt = vlm_processor_expand_token (text, self->image_token, runs, images->len, error);
    if (!prompt)
      return NULL;
  } else {
    prompt = g_strdup (text);
  }
  vlm_element_set_output_tensor (VLM_ELEMENT (self), "pixel_values", pixel_values);
  return prompt;
}

static void
processor_finalize (GObject *object)
{
  LlavaProcessor *self = LLAVA_PROCESSOR (object);
  g_free (self->image_token);
  g_free (self->strategy);
  G_OBJECT_CLASS (llava_processor_parent_class)->finalize (object);
}

static void
llava_processor_class_init (LlavaProcessorClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = processor_finalize;
  VLM_PROCESSOR_CLASS (klass)->load_settings = load_settings;
  VLM_PROCESSOR_CLASS (klass)->process_images = process_images;
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_PROCESSOR, "LLaVA processor",
                                  "CLIP image processing, <image> expansion and tokenization");
  vlm_processor_class_add_ports (ec, "the rendered chat prompt, one <image> per image",
                                 VLM_PORT_FLAG_NONE, VLM_PORT_FLAG_OPTIONAL);
  vlm_element_class_add_port (ec, "pixel_values", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL, "F32 [n_images, 3, H, W]");
}

static void
llava_processor_init (LlavaProcessor *self)
{
}
