/* idefics3-image.h: the Idefics3 / SmolVLM image processor and prompt expansion,
 * exact to transformers' slow (PIL/numpy) Idefics3ImageProcessor and
 * Idefics3Processor. Internal to the idefics3 plugin. */
#pragma once

#include <vlm/vlm.h>
#include "image/processor-settings.h"

G_BEGIN_DECLS

/* The processor settings, named as in preprocessor_config.json /
 * processor_config.json. */
typedef struct {
  gboolean do_convert_rgb;
  gboolean do_resize;
  int longest_edge;        /* size.longest_edge */
  VlmResample resample;
  gboolean do_image_splitting;
  int max_image_size;      /* max_image_size.longest_edge: the tile size */
  VlmImageNormalize norm;  /* do_rescale, rescale_factor, do_normalize, image_mean, image_std */
  gboolean do_pad;
  int image_seq_len;       /* processor_config.json: <image> tokens per tile */
} Idefics3ImageSettings;

/* The image processor's and the processor's constructor defaults overridden by
 * the keys present (and not null) in @settings (a model folder's processor
 * settings, see vlm_model_dir_get_processor_config()); @source names them in
 * errors. */
gboolean  idefics3_image_settings_load (Idefics3ImageSettings *s, JsonObject *settings,
                                        const char *source, GError **error);

/* The RGB tiles of one image in processor order (crops row-major, then the
 * global image), before rescaling; sets the crop grid (0 x 0 when unsplit).
 * Returns a GPtrArray of VlmImage. */
GPtrArray *idefics3_image_make_tiles (const Idefics3ImageSettings *settings, VlmImage *image,
                                      int *rows, int *cols, GError **error);

typedef struct {
  VlmTensor *pixel_values;         /* F32 [1, n_tiles, 3, H, W] */
  VlmTensor *pixel_attention_mask; /* I64 [1, n_tiles, H, W]: 1 on each tile's valid area */
  guint n_images;
  int *rows;                       /* per image */
  int *cols;                       /* per image */
} Idefics3ImageBatch;

/* Processes the images of one prompt: tiles of all images concatenated in
 * order, rescaled, normalized and padded to the largest tile. */
gboolean  idefics3_image_process (const Idefics3ImageSettings *settings, VlmImage **images,
                                  guint n_images, Idefics3ImageBatch *out, GError **error);
void      idefics3_image_batch_clear (Idefics3ImageBatch *batch);

/* The special-token strings of the expansion; NULL members take the defaults
 * "<fake_token_around_image>", "<image>" and "<global-img>". */
typedef struct {
  const char *fake_token_around_image;
  const char *image_token;
  const char *global_image_token;
} Idefics3PromptTokens;

/* Replaces the i-th image token of @prompt by image i's expansion
 * (Idefics3Processor: a <row_R_col_C> block per crop, a newline after each
 * row, then the global image; the short form for an unsplit image). Fails
 * when the prompt's image-token count differs from @n_images. */
char     *idefics3_expand_prompt (const char *prompt, const int *rows, const int *cols,
                                  guint n_images, int image_seq_len,
                                  const Idefics3PromptTokens *tokens, GError **error);

G_END_DECLS
