/* cmd-bench.c: `vlm-pipeline bench`: loads a model once, then times each stage of
 * answering (image preprocessing, vision tower + projector, prefill, decode) over
 * several repeats. Without --image it times the text decoder alone on a prompt of
 * --prompt-tokens fixed pseudo-random ids, the workload of llama.cpp's benchmarks. */
#include "vlm-cli.h"
#include "compute/blas-setup.h"
#include "compute/kernels.h"
#include "compute/threadpool.h"
#include "nn/generate.h"
#include "vlm-json-value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

typedef struct {
  char *model, *image, *prompt, *vision_precision;
  int prompt_tokens, gen_tokens, threads, repeat;
  gboolean json;
} BenchOptions;

enum { T_PREPROCESS, T_VISION, T_PREFILL_MS, T_PREFILL_TPS, T_DECODE_MS, T_DECODE_TPS, N_T };
static const char *const names[N_T] = { "preprocess_ms", "vision_ms", "prefill_ms",
                                        "prefill_tokens_per_s", "decode_ms",
                                        "decode_tokens_per_s" };

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, int n)
{
  qsort (v, (gsize) n, sizeof (double), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double
best (const double *v, int n, gboolean higher_is_better)
{
  double b = v[0];
  for (int i = 1; i < n; i++)
    b = higher_is_better ? MAX (b, v[i]) : MIN (b, v[i]);
  return b;
}

static double
peak_rss_mb (void)
{
  struct rusage usage;
  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

static double
elapsed_of_kinds (VlmPipeline *pipeline, const VlmElementKind *kinds, guint n)
{
  double ms = 0;
  g_auto (GStrv) ids = vlm_pipeline_list_node_ids (pipeline);
  for (guint i = 0; ids[i]; i++) {
    VlmElement *e = vlm_pipeline_get_element (pipeline, ids[i]);
    VlmElementKind k = vlm_element_class_get_kind (VLM_ELEMENT_GET_CLASS (e));
    for (guint j = 0; j < n; j++)
      if (k == kinds[j])
        ms += vlm_element_get_elapsed_ms (e);
  }
  return ms;
}

/* Reads prefill/decode figures from the decoder's stats output. */
static void
read_stats (VlmElement *decoder, double *t)
{
  const GValue *v = decoder ? vlm_element_get_output (decoder, "stats") : NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!v || !json_parser_load_from_data (parser, g_value_get_string (v), -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return;
  JsonObject *s = json_node_get_object (json_parser_get_root (parser));
  for (int i = T_PREFILL_MS; i < N_T; i++)
    t[i] = json_object_get_double_member_with_default (s, names[i], 0);
}

/* --vision-precision: the vision tower's `precision` property (siglip-vision). */
static gboolean
set_vision_precision (VlmPipeline *pipeline, const char *value, GError **error)
{
  VlmElement *tower = vlm_pipeline_find_element (pipeline, VLM_ELEMENT_KIND_VISION_TOWER);
  GParamSpec *pspec = tower ? g_object_class_find_property (G_OBJECT_GET_CLASS (tower),
                                                            "precision") : NULL;
  if (!pspec) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "--vision-precision: the vision tower of %s (%s) has no precision setting",
                 vlm_pipeline_get_name (pipeline),
                 tower ? G_OBJECT_TYPE_NAME (tower) : "none");
    return FALSE;
  }
  GValue v = G_VALUE_INIT;
  if (!vlm_string_to_gvalue (value, pspec, &v, error)) {
    g_prefix_error (error, "--vision-precision: ");
    return FALSE;
  }
  g_object_set_property (G_OBJECT (tower), "precision", &v);
  g_value_unset (&v);
  return TRUE;
}

/* One pipeline run per repeat: the whole answer to --prompt about --image. */
static gboolean
bench_image (BenchOptions *o, double *load_ms, double (*runs)[N_T], GError **error)
{
  gint64 start = g_get_monotonic_time ();
  g_autofree char *model = vlm_model_dir_resolve (o->model, error);
  if (!model)
    return FALSE;
  g_autoptr (VlmPipeline) pipeline = vlm_pipeline_new_for_model (model, error);
  if (!pipeline)
    return FALSE;
  const char *images[] = { o->image, NULL };
  vlm_pipeline_set_prompt (pipeline, o->prompt);
  vlm_pipeline_set_images (pipeline, images);
  VlmElement *decoder = vlm_pipeline_find_element (pipeline, VLM_ELEMENT_KIND_DECODER);
  if (decoder)
    g_object_set (decoder, "max-tokens", o->gen_tokens + 1, "ignore-eos", TRUE, NULL);
  if (o->vision_precision && !set_vision_precision (pipeline, o->vision_precision, error))
    return FALSE;
  if (!vlm_pipeline_prepare (pipeline, error))
    return FALSE;
  *load_ms = (double) (g_get_monotonic_time () - start) / 1000.0;
  static const VlmElementKind pre[] = { VLM_ELEMENT_KIND_IMAGE_LOADER, VLM_ELEMENT_KIND_PROCESSOR,
                                        VLM_ELEMENT_KIND_TOKENIZER, VLM_ELEMENT_KIND_OTHER };
  static const VlmElementKind vis[] = { VLM_ELEMENT_KIND_VISION_TOWER, VLM_ELEMENT_KIND_PROJECTOR };
  for (int r = 0; r < o->repeat; r++) {
    if (!vlm_pipeline_run (pipeline, NULL, error))
      return FALSE;
    runs[r][T_PREPROCESS] = elapsed_of_kinds (pipeline, pre, G_N_ELEMENTS (pre));
    runs[r][T_VISION] = elapsed_of_kinds (pipeline, vis, G_N_ELEMENTS (vis));
    read_stats (decoder, runs[r]);
    g_printerr ("bench: run %d: vision %.0f ms, prefill %.1f tok/s, decode %.1f tok/s\n", r + 1,
                runs[r][T_VISION], runs[r][T_PREFILL_TPS], runs[r][T_DECODE_TPS]);
  }
  return TRUE;
}

/* The decoder alone: --prompt-tokens ids, then --gen-tokens greedy steps. */
static gboolean
bench_text (BenchOptions *o, double *load_ms, double (*runs)[N_T], GError **error)
{
  gint64 start = g_get_monotonic_time ();
  g_autoptr (VlmModelDir) dir = vlm_model_dir_new (o->model, error);
  if (!dir)
    return FALSE;
  g_autoptr (VlmDecoder) dec = vlm_decoder_load (dir, NULL, error);
  if (!dec)
    return FALSE;
  *load_ms = (double) (g_get_monotonic_time () - start) / 1000.0;
  gint64 n = o->prompt_tokens, D = dec->cfg.hidden;
  g_autofree gint64 *ids = g_new (gint64, n);
  g_autoptr (GRand) rand = g_rand_new_with_seed (1234);
  for (gint64 i = 0; i < n; i++)
    ids[i] = g_rand_int_range (rand, 0, (gint32) MIN (dec->cfg.vocab, 32000));
  g_autofree float *embeds = g_new (float, n * D);
  if (!vlm_decoder_embed (dec, ids, n, embeds, error))
    return FALSE;
  g_autoptr (VlmSampler) sampler = vlm_sampler_new ();
  /* gen_tokens + 1 samples take gen_tokens forward passes after the prefill. */
  VlmGenerateOptions opts = { .max_tokens = o->gen_tokens + 1, .ignore_eos = TRUE,
                              .sampler = sampler };
  for (int r = 0; r < o->repeat; r++) {
    VlmGenerateResult res;
    if (!vlm_generate (dec, embeds, ids, NULL, n, &opts, NULL, NULL, &res, error))
      return FALSE;
    runs[r][T_PREFILL_MS] = res.prefill_ms;
    runs[r][T_PREFILL_TPS] = res.prefill_ms > 0 ? n * 1000.0 / res.prefill_ms : 0;
    runs[r][T_DECODE_MS] = res.decode_ms;
    runs[r][T_DECODE_TPS] = res.decode_ms > 0 ? res.decode_steps * 1000.0 / res.decode_ms : 0;
    vlm_generate_result_clear (&res);
    g_printerr ("bench: run %d: prefill %.1f tok/s, decode %.1f tok/s\n", r + 1,
                runs[r][T_PREFILL_TPS], runs[r][T_DECODE_TPS]);
  }
  return TRUE;
}

static void
add_number (JsonBuilder *b, const char *name, double v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, round (v * 1000) / 1000);
}

static void
report (BenchOptions *o, double load_ms, double (*runs)[N_T])
{
  double med[N_T], top[N_T], col[64];
  for (int t = 0; t < N_T; t++) {
    for (int r = 0; r < o->repeat; r++)
      col[r] = runs[r][t];
    gboolean higher = t == T_PREFILL_TPS || t == T_DECODE_TPS;
    top[t] = best (col, o->repeat, higher);
    med[t] = median (col, o->repeat);
  }
  const char *blas = vlm_blas_core_name ();
  if (!o->json) {
    printf ("model: %s\nthreads: %d, kernels: %s, BLAS: %s\n", o->model, vlm_get_num_threads (),
            vlm_kernels_get ()->name, blas ? blas : "?");
    printf ("load: %.0f ms, peak RSS: %.0f MB\n", load_ms, peak_rss_mb ());
    printf ("%-22s %12s %12s\n", "", "median", "best");
    for (int t = 0; t < N_T; t++)
      if (o->image || t >= T_PREFILL_MS)
        printf ("%-22s %12.1f %12.1f\n", names[t], med[t], top[t]);
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "engine");
  json_builder_add_string_value (b, "vlm-pipeline");
  json_builder_set_member_name (b, "mode");
  json_builder_add_string_value (b, o->image ? "image" : "text");
  json_builder_set_member_name (b, "threads");
  json_builder_add_int_value (b, vlm_get_num_threads ());
  json_builder_set_member_name (b, "kernels");
  json_builder_add_string_value (b, vlm_kernels_get ()->name);
  json_builder_set_member_name (b, "blas");
  json_builder_add_string_value (b, blas ? blas : "");
  json_builder_set_member_name (b, "vision_precision");
  json_builder_add_string_value (b, o->vision_precision ? o->vision_precision : "f32");
  json_builder_set_member_name (b, "prompt_tokens");
  json_builder_add_int_value (b, o->image ? 0 : o->prompt_tokens);
  json_builder_set_member_name (b, "gen_tokens");
  json_builder_add_int_value (b, o->gen_tokens);
  json_builder_set_member_name (b, "repeat");
  json_builder_add_int_value (b, o->repeat);
  add_number (b, "load_ms", load_ms);
  for (int t = 0; t < N_T; t++)
    add_number (b, names[t], med[t]);
  add_number (b, "peak_rss_mb", peak_rss_mb ());
  json_builder_set_member_name (b, "best");
  json_builder_begin_object (b);
  for (int t = 0; t < N_T; t++)
    add_number (b, names[t], top[t]);
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *out = json_to_string (root, FALSE);
  printf ("%s\n", out);
}

int
vlm_cli_bench (int argc, char **argv)
{
  int code = VLM_EXIT_OK;
  BenchOptions o = { .prompt_tokens = 512, .gen_tokens = 128, .repeat = 3 };
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model, "Model folder or Hugging Face id (local cache)", "DIR|HF_ID" },
    { "image", 'i', 0, G_OPTION_ARG_FILENAME, &o.image, "Time a whole answer about this image (else the text decoder alone)", "PATH" },
    { "prompt", 'p', 0, G_OPTION_ARG_STRING, &o.prompt, "The question with --image (default: \"Can you describe this image?\")", "TEXT" },
    { "prompt-tokens", 0, 0, G_OPTION_ARG_INT, &o.prompt_tokens, "Prompt length without --image (default 512)", "N" },
    { "gen-tokens", 'n', 0, G_OPTION_ARG_INT, &o.gen_tokens, "Decode steps (default 128)", "N" },
    { "threads", 'j', 0, G_OPTION_ARG_INT, &o.threads, "Threads (default: VLM_NUM_THREADS or all cores)", "N" },
    { "repeat", 'r', 0, G_OPTION_ARG_INT, &o.repeat, "Runs after loading (default 3)", "K" },
    { "vision-precision", 0, 0, G_OPTION_ARG_STRING, &o.vision_precision, "Vision tower products: f32 (exact, default), bf16 (AVX512_BF16, ~1e-2 relative error) or f16 (AVX512_FP16, ~1e-3 relative error)", "f32|bf16|f16" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o.json, "Print one JSON line (medians; \"best\" holds the bests)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "Time loading, image preprocessing, the vision tower, prefill "
                                     "and decode of a model, each over several runs (median and best).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (vlm_cli_parse (ctx, &argc, &argv, &code)) {
    if (!o.model)
      code = vlm_cli_usage_error (ctx, "bench needs --model");
    else if (argc > 1)
      code = vlm_cli_usage_error (ctx, "unexpected argument '%s'", argv[1]);
    else if (o.prompt_tokens < 1 || o.prompt_tokens > 1 << 20 || o.gen_tokens < 1
             || o.gen_tokens > 1 << 20 || o.threads < 0 || o.repeat < 1 || o.repeat > 64)
      code = vlm_cli_usage_error (ctx, "--prompt-tokens and --gen-tokens must be positive, "
                                       "--repeat between 1 and 64");
    else {
      GError *error = NULL;
      double load_ms = 0, runs[64][N_T] = { { 0 } };
      if (!o.prompt)
        o.prompt = g_strdup ("Can you describe this image?");
      vlm_set_num_threads (o.threads);
      gboolean ok = o.image ? bench_image (&o, &load_ms, runs, &error)
                            : bench_text (&o, &load_ms, runs, &error);
      if (ok)
        report (&o, load_ms, runs);
      else
        code = vlm_cli_fail (error);
    }
  }
  g_free (o.model);
  g_free (o.image);
  g_free (o.prompt);
  g_free (o.vision_precision);
  return code;
}
