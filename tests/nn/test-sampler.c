/* test-sampler.c: VlmSampler on small synthetic logits: greedy, seeds, top-k, top-p,
 * min-p (statistical checks with fixed seeds), repetition penalty, and how the settings
 * combine with a model's generation config. */
#include <vlm/vlm.h>

#include <math.h>
#include <string.h>

#define DRAWS 4000

/* Logits whose softmax is @probs. */
static void
logits_from_probs (const double *probs, guint n, float *out)
{
  for (guint i = 0; i < n; i++)
    out[i] = (float) log (probs[i]);
}

static void
histogram (VlmSampler *s, const float *logits, guint n, guint *counts)
{
  float *work = g_new (float, n);
  memset (counts, 0, n * sizeof (guint));
  for (int d = 0; d < DRAWS; d++) {
    memcpy (work, logits, n * sizeof (float));
    gint64 t = vlm_sampler_sample (s, work, n, NULL, 0);
    g_assert_cmpint (t, >=, 0);
    g_assert_cmpint (t, <, n);
    counts[t]++;
  }
  g_free (work);
}

static VlmSampler *
sampler (const char *first_property, ...)
{
  va_list ap;
  va_start (ap, first_property);
  VlmSampler *s = VLM_SAMPLER (g_object_new_valist (VLM_TYPE_SAMPLER, first_property, ap));
  va_end (ap);
  return s;
}

static void
test_greedy (void)
{
  float logits[] = { 0.1f, -2.0f, 3.5f, 3.4f, -0.5f };
  g_autoptr (VlmSampler) s = vlm_sampler_new ();
  g_assert_true (vlm_sampler_is_greedy (s));
  g_assert_cmpint (vlm_sampler_sample (s, logits, 5, NULL, 0), ==, 2);
  /* Sampling at temperature 0 is greedy too. */
  g_autoptr (VlmSampler) t0 = sampler ("do-sample", TRUE, "temperature", 0.0, NULL);
  g_assert_true (vlm_sampler_is_greedy (t0));
  g_assert_cmpint (vlm_sampler_sample (t0, logits, 5, NULL, 0), ==, 2);
}

static void
test_seed (void)
{
  double p[] = { 0.3, 0.25, 0.2, 0.15, 0.1 };
  float logits[5], work[5];
  logits_from_probs (p, 5, logits);
  g_autoptr (VlmSampler) s = sampler ("do-sample", TRUE, "seed", (gint64) 1234, NULL);
  gint64 first[64];
  for (int run = 0; run < 2; run++) {
    vlm_sampler_reset (s);
    gboolean varied = FALSE;
    for (int i = 0; i < 64; i++) {
      memcpy (work, logits, sizeof logits);
      gint64 t = vlm_sampler_sample (s, work, 5, NULL, 0);
      if (run == 0)
        first[i] = t;
      else
        g_assert_cmpint (t, ==, first[i]);
      varied |= t != first[0];
    }
    g_assert_true (varied);
  }
  /* A second sampler with the same seed draws the same sequence. */
  g_autoptr (VlmSampler) twin = sampler ("do-sample", TRUE, "seed", (gint64) 1234, NULL);
  for (int i = 0; i < 64; i++) {
    memcpy (work, logits, sizeof logits);
    g_assert_cmpint (vlm_sampler_sample (twin, work, 5, NULL, 0), ==, first[i]);
  }
}

static void
test_top_k (void)
{
  double p[] = { 0.1, 0.2, 0.4, 0.2, 0.1 };
  float logits[5];
  logits_from_probs (p, 5, logits);
  guint counts[5];
  g_autoptr (VlmSampler) k1 = sampler ("top-k", 1, "temperature", 2.0, "seed", (gint64) 3, NULL);
  g_object_set (k1, "do-sample", TRUE, NULL);
  histogram (k1, logits, 5, counts);
  g_assert_cmpuint (counts[2], ==, DRAWS);
  /* top-k 3 keeps the tied 0.2 tokens as well as the best. */
  g_autoptr (VlmSampler) k3 = sampler ("do-sample", TRUE, "top-k", 3, "seed", (gint64) 4, NULL);
  histogram (k3, logits, 5, counts);
  g_assert_cmpuint (counts[0] + counts[4], ==, 0);
  g_assert_cmpfloat (fabs (counts[2] / (double) DRAWS - 0.5), <, 0.04);
}

static void
test_top_p (void)
{
  double p[] = { 0.05, 0.5, 0.15, 0.3 };
  float logits[4];
  logits_from_probs (p, 4, logits);
  guint counts[4];
  /* 0.5 + 0.3 reaches 0.7: tokens 1 and 3 stay, renormalised to 0.625 / 0.375. */
  g_autoptr (VlmSampler) s = sampler ("do-sample", TRUE, "top-k", 0, "top-p", 0.7,
                                      "seed", (gint64) 5, NULL);
  histogram (s, logits, 4, counts);
  g_assert_cmpuint (counts[0] + counts[2], ==, 0);
  g_assert_cmpfloat (fabs (counts[1] / (double) DRAWS - 0.625), <, 0.04);
  /* Without filtering every token appears with its probability. */
  g_autoptr (VlmSampler) all = sampler ("do-sample", TRUE, "top-k", 0, "seed", (gint64) 6, NULL);
  histogram (all, logits, 4, counts);
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat (fabs (counts[i] / (double) DRAWS - p[i]), <, 0.04);
}

static void
test_min_p (void)
{
  double p[] = { 0.05, 0.5, 0.15, 0.3 };
  float logits[4];
  logits_from_probs (p, 4, logits);
  guint counts[4];
  /* min-p 0.2: tokens below 0.2 * 0.5 = 0.1 go. */
  g_autoptr (VlmSampler) s = sampler ("min-p", 0.2, "top-k", 0, "seed", (gint64) 7, NULL);
  g_object_set (s, "do-sample", TRUE, NULL);
  histogram (s, logits, 4, counts);
  g_assert_cmpuint (counts[0], ==, 0);
  g_assert_cmpuint (counts[2], >, 0);
  g_assert_cmpfloat (fabs (counts[1] / (double) DRAWS - 0.5 / 0.95), <, 0.04);
}

static void
test_repetition_penalty (void)
{
  float logits[] = { 2.0f, -1.0f, 1.5f, 0.5f };
  const gint64 ctx[] = { 0, 1, 0 };
  g_autoptr (VlmSampler) s = sampler ("repetition-penalty", 2.0, NULL);
  float work[4];
  memcpy (work, logits, sizeof logits);
  /* Seen tokens lose: positive logits are divided, negative multiplied, once each. */
  g_assert_cmpint (vlm_sampler_sample (s, work, 4, ctx, 3), ==, 2);
  g_assert_cmpfloat (work[0], ==, logits[0] / 2);
  g_assert_cmpfloat (work[1], ==, logits[1] * 2);
  g_assert_cmpfloat (work[2], ==, logits[2]);
  /* A window of 1 looks at the last token only. */
  g_object_set (s, "repetition-window", 1, NULL);
  memcpy (work, logits, sizeof logits);
  g_assert_cmpint (vlm_sampler_sample (s, work, 4, ctx, 3), ==, 2);
  g_assert_cmpfloat (work[0], ==, logits[0] / 2);
  g_assert_cmpfloat (work[1], ==, logits[1]);
}

static JsonObject *
json_object (const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) n = json_from_string (text, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (n));
}

static void
test_generation_config (void)
{
  g_autoptr (JsonObject) sample = json_object ("{\"do_sample\": true, \"temperature\": 0.5, "
                                               "\"top_k\": 3, \"top_p\": 0.9}");
  g_autoptr (JsonObject) plain = json_object ("{\"eos_token_id\": [1, 2]}");
  double t, tp;
  int k;
  /* Nothing from the user: the model's settings. */
  g_autoptr (VlmSampler) a = vlm_sampler_new_for_generation (NULL, sample);
  g_assert_false (vlm_sampler_is_greedy (a));
  g_object_get (a, "temperature", &t, "top-k", &k, "top-p", &tp, NULL);
  g_assert_cmpfloat (t, ==, 0.5);
  g_assert_cmpint (k, ==, 3);
  g_assert_cmpfloat (tp, ==, 0.9);
  /* No do_sample: greedy. */
  g_autoptr (VlmSampler) b = vlm_sampler_new_for_generation (NULL, plain);
  g_assert_true (vlm_sampler_is_greedy (b));
  g_autoptr (VlmSampler) none = vlm_sampler_new_for_generation (NULL, NULL);
  g_assert_true (vlm_sampler_is_greedy (none));
  /* The user's explicit settings win; setting a temperature asks for sampling. */
  g_autoptr (VlmSampler) u = sampler ("temperature", 0.8, NULL);
  g_autoptr (VlmSampler) c = vlm_sampler_new_for_generation (u, plain);
  g_assert_false (vlm_sampler_is_greedy (c));
  g_object_get (c, "temperature", &t, NULL);
  g_assert_cmpfloat (t, ==, 0.8);
  /* A resolved sampler is fully specified: resolving it again changes nothing. */
  g_autoptr (VlmSampler) again = vlm_sampler_new_for_generation (c, sample);
  g_assert_false (vlm_sampler_is_greedy (again));
  g_object_get (again, "temperature", &t, "top-k", &k, NULL);
  g_assert_cmpfloat (t, ==, 0.8);
  g_assert_cmpint (k, ==, 50);
  g_autoptr (VlmSampler) off = sampler ("do-sample", FALSE, NULL);
  g_autoptr (VlmSampler) d = vlm_sampler_new_for_generation (off, sample);
  g_assert_true (vlm_sampler_is_greedy (d));
  g_object_get (d, "top-k", &k, NULL);
  g_assert_cmpint (k, ==, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nn/sampler/greedy", test_greedy);
  g_test_add_func ("/nn/sampler/seed", test_seed);
  g_test_add_func ("/nn/sampler/top-k", test_top_k);
  g_test_add_func ("/nn/sampler/top-p", test_top_p);
  g_test_add_func ("/nn/sampler/min-p", test_min_p);
  g_test_add_func ("/nn/sampler/repetition-penalty", test_repetition_penalty);
  g_test_add_func ("/nn/sampler/generation-config", test_generation_config);
  return g_test_run ();
}
