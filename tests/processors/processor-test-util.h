/* processor-test-util.h: model folders, processor pipelines and pixel/ids
 * comparisons for the processor element tests. Expected values are read from
 * /work/shared-style fixtures ($VLM_SHARED_DIR) at run time. */
#pragma once

#include <json-glib/json-glib.h>
#include <vlm/vlm.h>

/* Path under $VLM_SHARED_DIR/fixtures (g_free it). */
char        *fixture_path (const char *first, ...) G_GNUC_NULL_TERMINATED;
/* Root object of a JSON file; the parser owns it. */
JsonObject  *fixture_object (JsonParser *parser, const char *path);
VlmTensor   *fixture_tensor (const char *path, const char *name);

/* A temporary model folder: the processor settings of @settings_dir
 * (preprocessor_config.json, processor_config.json) beside config.json and the
 * tokenizer files of @tokenizer_dir (symbolic links). */
char        *model_dir_new (const char *settings_dir, const char *tokenizer_dir);
void         model_dir_remove (char *dir);

/* image-loader -> @element (model @model, text @prompt), with the element's
 * @properties (a JSON object text, or NULL). */
VlmPipeline *processor_pipeline (const char *model, const char *element, const char *properties);
/* Runs it on one image (or none) and a prompt, asserting success. */
void         processor_run (VlmPipeline *p, const char *image, const char *prompt);
/* Output "proc.<port>", asserting it is a tensor. */
VlmTensor   *processor_output (VlmPipeline *p, const char *port);
const char  *processor_output_string (VlmPipeline *p, const char *port);

/* Asserts that @actual (float values) is within one uint8 level of @expected
 * on 99.9% of values, in level units (value * std / rescale): the value at
 * flat index i belongs to channel (i / plane) % 3. @expected may be F16/F32. */
void         assert_pixels_levels (VlmTensor *actual, VlmTensor *expected, gsize plane,
                                   const float mean[3], const float std[3], double rescale,
                                   const char *what);
/* Same, against uint8 levels: @u8 is [n, H, W, 3] sampled at every @stride-th
 * row and column of @actual's [n, 3, H*stride', W*stride'] images. */
void         assert_pixels_u8 (VlmTensor *actual, VlmTensor *u8, int stride, const float mean[3],
                               const float std[3], double rescale, const char *what);
/* Asserts that output pixel_values has @expected's shape and is within one
 * uint8 level of it (rescale 1/255; see assert_pixels_levels). */
void         assert_pixel_values (VlmPipeline *p, VlmTensor *expected, gsize plane,
                                  const float mean[3], const float std[3], const char *what);
/* Asserts equal shapes, naming both. */
void         assert_same_shape (VlmTensor *actual, VlmTensor *expected, const char *what);
void         assert_ids_equal (VlmTensor *actual, VlmTensor *expected, const char *what);
/* I64 [1, n] from a JSON array of integers. */
VlmTensor   *ids_from_json (JsonArray *array);

/* The photos of fixtures/preprocess/<name> (a checkpoint's processor settings and
 * the reference outputs) with the tokenizer of fixtures/arch/<arch>. */
typedef struct {
  const char *name;        /* the fixture folder: fixture_path ("preprocess", name, ...) */
  char *model;             /* a temporary model folder of both (model_dir_new) */
  float mean[3], std[3];   /* the settings' image_mean and image_std */
  JsonParser *parser;
  JsonObject *root;        /* cases.json */
  JsonArray *cases;        /* its array of photo cases, @member */
} PreprocessFixture;

PreprocessFixture  preprocess_fixture (const char *name, const char *arch, const char *member);
void               preprocess_fixture_clear (PreprocessFixture *fixture);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PreprocessFixture, preprocess_fixture_clear)

typedef struct {
  JsonObject *json;        /* the cases.json entry */
  const char *name;        /* its "image" */
  char *image;             /* the photo's path */
  char *file;              /* the path of its reference tensors (its "file") */
} PreprocessCase;

PreprocessCase     preprocess_case (const PreprocessFixture *fixture, guint i);
void               preprocess_case_clear (PreprocessCase *c);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PreprocessCase, preprocess_case_clear)

/* The golden case of fixtures/arch/<arch> run through a processor element: its
 * first image with its rendered prompt, the expanded prompt asserted. */
typedef struct {
  const char *arch;
  VlmPipeline *pipeline;
} ArchCase;

ArchCase           arch_case_run (const char *arch, const char *element);
void               arch_case_clear (ArchCase *c);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ArchCase, arch_case_clear)
/* Asserts that the named I64 outputs (NULL-terminated) equal the golden tensors. */
void               arch_case_assert_ids (const ArchCase *c, const char *first, ...)
                                         G_GNUC_NULL_TERMINATED;
/* Asserts pixel_values against the golden one (see assert_pixel_values; @plane 0:
 * the golden's H * W). */
void               arch_case_assert_pixels (const ArchCase *c, gsize plane);
