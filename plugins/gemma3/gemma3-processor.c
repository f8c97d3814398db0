/* gemma3-processor.c: images + rendered chat prompt -> input_ids,
 * attention_mask, token_type_ids, pixel_values, as transformers'
 * Gemma3Processor with Gemma3ImageProcessor (slow path) does: convert("RGB"),
 * optional pan-and-scan crops, each image and crop resized to the fixed size,
 * rescaled and normalized; every <start_of_image> becomes
 * "\n\n<start_of_image>" + <image_soft_token> x image_seq_length +
 * "<end_of_image>\n\n" (after the pan-and-scan sentence when there are crops). */
#include "gemma3-elements.h"

#include <math.h>
#include "image/processor-io.h"
#include "image/processor-settings.h"

#define BOI_TOKEN "<start_of_image>"
#define IMAGE_TOKEN "<image_soft_token>"
#define EOI_TOKEN "<end_of_image>"

enum { PROP_0, PROP_PAN_AND_SCAN };

struct _Gemma3Processor {
  VlmProcessor parent;
  VlmFixedResize resize;
  VlmImageNormalize norm;
  gboolean do_pan_and_scan;
  int pan_min_crop_size;
  int pan_max_num_crops;
  double pan_min_ratio;
  int image_seq_length;
  gboolean force_pan_and_scan; /* property: as processor(..., do_pan_and_scan=True) */
  gint32 image_token_id;
};

G_DEFINE_FINAL_TYPE (Gemma3Processor, gemma3_processor, VLM_TYPE_PROCESSOR)

static gboolean
load_settings (VlmProcessor *processor, VlmModelDir *dir, JsonObject *s, const char *source,
               GError **error)
{
  Gemma3Processor *self = GEMMA3_PROCESSOR (processor);
  /* Gemma3ImageProcessor's and Gemma3Processor's defaults (the published
   * config leaves the pan-and-scan keys null). */
  self->resize = (VlmFixedResize) { TRUE, 224, 224, VLM_RESAMPLE_BILINEAR };
  self->do_pan_and_scan = FALSE;
  self->pan_min_crop_size = 256;
  self->pan_max_num_crops = 4;
  self->pan_min_ratio = 1.2;
  self->image_seq_length = 256;
  return vlm_fixed_resize_load (&self->resize, s, source, error)
         && vlm_image_normalize_load (&self->norm, VLM_IMAGENET_STANDARD_MEAN,
                                      VLM_IMAGENET_STANDARD_STD, s, source, error)
         && vlm_settings_read_bool (s, "do_pan_and_scan", &self->do_pan_and_scan, source, error)
         && vlm_settings_read_int (s, "pan_and_scan_min_crop_size", 1, 1 << 20,
                                   &self->pan_min_crop_size, source, error)
         && vlm_settings_read_int (s, "pan_and_scan_max_num_crops", 1, 1 << 10,
                                   &self->pan_max_num_crops, source, error)
         && vlm_settings_read_double (s, "pan_and_scan_min_ratio_to_activate",
                                      &self->pan_min_ratio, source, error)
         && vlm_settings_read_int (s, "image_seq_length", 1, 1 << 20, &self->image_seq_length,
                                   source, error);
}

/* The settings and tokenizer, which must have the <image_soft_token> the token types mark. */
static gboolean
processor_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  Gemma3Processor *self = GEMMA3_PROCESSOR (element);
  if (!VLM_MODEL_ELEMENT_CLASS (gemma3_processor_parent_class)->load (element, dir, error))
    return FALSE;
  VlmTokenizer *tokenizer = vlm_processor_get_tokenizer (VLM_PROCESSOR (self));
  self->image_token_id = vlm_tokenizer_token_to_id (tokenizer, IMAGE_TOKEN);
  if (self->image_token_id < 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: no %s token",
                 vlm_tokenizer_get_path (tokenizer), IMAGE_TOKEN);
    return FALSE;
  }
  return TRUE;
}

/* Gemma3ImageProcessor.pan_and_scan: crops along the long side of a clearly
 * elongated image (none when the ratio or the crops are too small). */
static GPtrArray *
pan_and_scan (Gemma3Processor *self, VlmImage *image, GError **error)
{
  GPtrArray *crops = g_ptr_array_new_with_free_func ((GDestroyNotify) vlm_image_unref);
  int w = vlm_image_get_width (image), h = vlm_image_get_height (image);
  gboolean landscape = w >= h;
  double ratio = landscape ? (double) w / h : (double) h / w;
  if (ratio < self->pan_min_ratio)
    return crops;
  int long_side = landscape ? w : h;
  int n = (int) floor (ratio + 0.5);
  n = MIN ((int) floor ((double) long_side / self->pan_min_crop_size), n);
  n = MAX (2, n);
  n = MIN (self->pan_max_num_crops, n);
  int crop_w = landscape ? (int) ceil ((double) w / n) : w;
  int crop_h = landscape ? h : (int) ceil ((double) h / n);
  if (MIN (crop_w, crop_h) < self->pan_min_crop_size)
    return crops;
  for (int i = 0; i < n; i++) {
    /* numpy slicing clips the last crop at the border. */
    int x = landscape ? i * crop_w : 0, y = landscape ? 0 : i * crop_h;
    VlmImage *crop = vlm_image_crop (image, x, y, MIN (crop_w, w - x), MIN (crop_h, h - y), error);
    if (!crop) {
      g_ptr_array_unref (crops);
      return NULL;
    }
    g_ptr_array_add (crops, crop);
  }
  return crops;
}

/* The image, then its crops, each resized; returns the number of crops or -1. */
static int
add_image (Gemma3Processor *self, VlmImage *rgb, GPtrArray *out, GError **error)
{
  g_autoptr (GPtrArray) crops = NULL;
  if (self->do_pan_and_scan || self->force_pan_and_scan) {
    crops = pan_and_scan (self, rgb, error);
    if (!crops)
      return -1;
  }
  guint n_crops = crops ? crops->len : 0;
  for (guint i = 0; i <= n_crops; i++) {
    VlmImage *src = i == 0 ? rgb : crops->pdata[i - 1];
    VlmImage *resized = vlm_fixed_resize_apply (&self->resize, src, error);
    if (!resized)
      return -1;
    g_ptr_array_add (out, resized);
  }
  return (int) n_crops;
}

static char *
expand_prompt (Gemma3Processor *self, const char *text, const int *n_crops, guint n_images,
               GError **error)
{
  /* First the pan-and-scan sentence for images with crops, then every
   * <start_of_image> (the sentence's too) becomes the full image sequence. */
  g_autoptr (GPtrArray) with_crops = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n_images; i++) {
    GString *s = g_string_new (BOI_TOKEN);
    if (n_crops[i] > 0) {
      g_string_assign (s, "Here is the original image " BOI_TOKEN
                          " and here are some crops to help you see better ");
      for (int k = 0; k < n_crops[i]; k++)
        g_string_append (s, k ? " " BOI_TOKEN : BOI_TOKEN);
    }
    g_ptr_array_add (with_crops, g_string_free (s, FALSE));
  }
  g_autofree char *staged = vlm_processor_expand_token (text, BOI_TOKEN,
                                                        (const char *const *) with_crops->pdata,
                                                        n_images, error);
  if (!staged)
    return NULL;
  g_autofree char *soft = vlm_processor_repeat (IMAGE_TOKEN, self->image_seq_length);
  g_autofree char *full = g_strconcat ("\n\n" BOI_TOKEN, soft, EOI_TOKEN "\n\n", NULL);
  g_auto (GStrv) parts = g_strsplit (staged, BOI_TOKEN, -1);
  return g_strjoinv (full, parts);
}

/* Every image then its crops resized and normalized into pixel_values; the
 * prompt expanded. */
static char *
process_images (VlmProcessor *processor, const char *text, GPtrArray *images, GError **error)
{
  Gemma3Processor *self = GEMMA3_PROCESSOR (processor);
  if (images->len == 0)
    return g_strdup (text);
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) vlm_image_unref);
  g_autofree int *n_crops = g_new (int, images->len);
  for (guint i = 0; i < images->len; i++) {
    n_crops[i] = add_image (self, images->pdata[i], rows, error);
    if (n_crops[i] < 0) {
      g_prefix_error (error, "image %u: ", i);
      return NULL;
    }
  }
  g_autoptr (VlmTensor) pixel_values = vlm_image_normalize_batch (&self->norm,
                                                                  (VlmImage **) rows->pdata,
                                                                  rows->len, error);
  char *prompt = pixel_values ? expand_prompt (self, text, n_crops, images->len, error) : NULL;
  if (prompt)
    vlm_element_set_output_tensor (VLM_ELEMENT (self), "pixel_values", pixel_values);
  return prompt;
}

/* 1 at <image_soft_token> positions. */
static VlmTensor *
token_types (VlmProcessor *processor, const gint32 *ids, gsize n)
{
  return vlm_processor_id_mask (ids, n, GEMMA3_PROCESSOR (processor)->image_token_id);
}

static void
processor_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  Gemma3Processor *self = GEMMA3_PROCESSOR (object);
  if (id == PROP_PAN_AND_SCAN)
    self->force_pan_and_scan = g_value_get_boolean (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
processor_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  Gemma3Processor *self = GEMMA3_PROCESSOR (object);
  if (id == PROP_PAN_AND_SCAN)
    g_value_set_boolean (value, self->force_pan_and_scan);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
gemma3_processor_class_init (Gemma3ProcessorClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  VlmProcessorClass *pc = VLM_PROCESSOR_CLASS (klass);
  oc->set_property = processor_set_property;
  oc->get_property = processor_get_property;
  VLM_MODEL_ELEMENT_CLASS (klass)->load = processor_load;
  pc->load_settings = load_settings;
  pc->process_images = process_images;
  pc->token_types = token_types;
  g_object_class_install_property (oc, PROP_PAN_AND_SCAN,
    g_param_spec_boolean ("do-pan-and-scan", "Pan and scan",
                          "Add pan-and-scan crops of elongated images even when the settings "
                          "do not ask for them (the processor's do_pan_and_scan=True)",
                          FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_PROCESSOR, "Gemma 3 processor",
                                  "Gemma 3 image processing (pan-and-scan), <start_of_image> "
                                  "expansion, tokenization and token types");
  vlm_processor_class_add_ports (ec, "the rendered chat prompt, one <start_of_image> per image",
                                 VLM_PORT_FLAG_NONE, VLM_PORT_FLAG_OPTIONAL);
  vlm_element_class_add_port (ec, "token_type_ids", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, 0,
                              "I64 [1, L]: 1 at <image_soft_token> positions, else 0");
  vlm_element_class_add_port (ec, "pixel_values", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL,
                              "F32 [rows, 3, H, W]: per image the image then its crops");
}

static void
gemma3_processor_init (Gemma3Processor *self)
{
}
