/* vlm-sampler.c: next-token selection with Hugging Face's logits processors, in their order:
 * repetition penalty, then (when sampling) temperature, top-k, top-p, min-p. The random
 * numbers come from our own xoshiro256** so a seed gives the same tokens on every machine. */
#include "vlm/vlm-sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
  PROP_0,
  PROP_DO_SAMPLE,
  PROP_TEMPERATURE,
  PROP_TOP_K,
  PROP_TOP_P,
  PROP_MIN_P,
  PROP_REPETITION_PENALTY,
  PROP_REPETITION_WINDOW,
  PROP_SEED,
  N_PROPS
};

typedef struct {
  float logit;
  gint32 id;
} Cand;

struct _VlmSampler {
  GObject parent_instance;
  gboolean do_sample;
  double temperature, top_p, min_p, repetition_penalty;
  int top_k, repetition_window;
  gint64 seed;
  guint set_mask;     /* bit per property the user set explicitly */
  guint64 rng[4];
  /* Scratch sized to the vocabulary on first use, so sampling allocates nothing. */
  gint64 cap;
  Cand *cands;
  float *heap;
  guint8 *seen;
};

static GParamSpec *props[N_PROPS];

G_DEFINE_FINAL_TYPE (VlmSampler, vlm_sampler, G_TYPE_OBJECT)

static guint64
splitmix64 (guint64 *s)
{
  guint64 z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline guint64
rotl (guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

static guint64
xoshiro_next (guint64 *s)
{
  guint64 r = rotl (s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return r;
}

static void
vlm_sampler_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  VlmSampler *self = VLM_SAMPLER (object);
  switch (id) {
  case PROP_DO_SAMPLE: self->do_sample = g_value_get_boolean (value); break;
  case PROP_TEMPERATURE: self->temperature = g_value_get_double (value); break;
  case PROP_TOP_K: self->top_k = g_value_get_int (value); break;
  case PROP_TOP_P: self->top_p = g_value_get_double (value); break;
  case PROP_MIN_P: self->min_p = g_value_get_double (value); break;
  case PROP_REPETITION_PENALTY: self->repetition_penalty = g_value_get_double (value); break;
  case PROP_REPETITION_WINDOW: self->repetition_window = g_value_get_int (value); break;
  case PROP_SEED: self->seed = g_value_get_int64 (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec); return;
  }
  self->set_mask |= 1u << id;
  if (id == PROP_SEED)
    vlm_sampler_reset (self);
}

static void
vlm_sampler_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  VlmSampler *self = VLM_SAMPLER (object);
  switch (id) {
  case PROP_DO_SAMPLE: g_value_set_boolean (value, self->do_sample); break;
  case PROP_TEMPERATURE: g_value_set_double (value, self->temperature); break;
  case PROP_TOP_K: g_value_set_int (value, self->top_k); break;
  case PROP_TOP_P: g_value_set_double (value, self->top_p); break;
  case PROP_MIN_P: g_value_set_double (value, self->min_p); break;
  case PROP_REPETITION_PENALTY: g_value_set_double (value, self->repetition_penalty); break;
  case PROP_REPETITION_WINDOW: g_value_set_int (value, self->repetition_window); break;
  case PROP_SEED: g_value_set_int64 (value, self->seed); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
vlm_sampler_finalize (GObject *object)
{
  VlmSampler *self = VLM_SAMPLER (object);
  g_free (self->cands);
  g_free (self->heap);
  g_free (self->seen);
  G_OBJECT_CLASS (vlm_sampler_parent_class)->finalize (object);
}

static void
vlm_sampler_class_init (VlmSamplerClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  oc->set_property = vlm_sampler_set_property;
  oc->get_property = vlm_sampler_get_property;
  oc->finalize = vlm_sampler_finalize;
  GParamFlags f = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  /* Defaults are Hugging Face GenerationConfig's. */
  props[PROP_DO_SAMPLE] = g_param_spec_boolean (
      "do-sample", "Do sample",
      "Sample instead of taking the argmax (unset: on when temperature/top-k/top-p/min-p is "
      "set, else generation_config.json do_sample, else off)", FALSE, f);
  props[PROP_TEMPERATURE] = g_param_spec_double (
      "temperature", "Temperature", "Divides the logits before sampling; 0 means greedy",
      0, 100, 1.0, f);
  props[PROP_TOP_K] = g_param_spec_int ("top-k", "Top k",
                                        "Keep the k most likely tokens (ties kept); 0 keeps all",
                                        0, G_MAXINT, 50, f);
  props[PROP_TOP_P] = g_param_spec_double (
      "top-p", "Top p", "Keep the most likely tokens whose probabilities sum to p (nucleus)",
      0, 1, 1.0, f);
  props[PROP_MIN_P] = g_param_spec_double (
      "min-p", "Min p", "Drop tokens less likely than min-p times the most likely one; 0: off",
      0, 1, 0.0, f);
  props[PROP_REPETITION_PENALTY] = g_param_spec_double (
      "repetition-penalty", "Repetition penalty",
      "Logits of tokens already in the context are divided by it when positive, multiplied "
      "when negative; 1: off", 0.01, 100, 1.0, f);
  props[PROP_REPETITION_WINDOW] = g_param_spec_int (
      "repetition-window", "Repetition window",
      "How many of the last context tokens (prompt and generated) the penalty looks at; "
      "0: all of them", 0, G_MAXINT, 0, f);
  props[PROP_SEED] = g_param_spec_int64 (
      "seed", "Seed", "Random seed; the same seed gives the same tokens; -1: a random seed",
      -1, G_MAXINT64, -1, f);
  g_object_class_install_properties (oc, N_PROPS, props);
}

static void
vlm_sampler_init (VlmSampler *self)
{
  self->temperature = 1.0;
  self->top_k = 50;
  self->top_p = 1.0;
  self->repetition_penalty = 1.0;
  self->seed = -1;
  vlm_sampler_reset (self);
}

/**
 * vlm_sampler_new:
 *
 * A sampler with Hugging Face's defaults: greedy until do-sample is set.
 *
 * Returns: (transfer full): a new #VlmSampler
 */
VlmSampler *
vlm_sampler_new (void)
{
  return g_object_new (VLM_TYPE_SAMPLER, NULL);
}

static gboolean
user_set (VlmSampler *user, guint prop)
{
  return user && (user->set_mask & (1u << prop));
}

/* A number (or boolean) member of the generation config. */
static gboolean
gen_number (JsonObject *gen, const char *key, double *out)
{
  JsonNode *n = gen ? json_object_get_member (gen, key) : NULL;
  if (!n || !JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  GType t = json_node_get_value_type (n);
  if (t == G_TYPE_INT64)
    *out = (double) json_node_get_int (n);
  else if (t == G_TYPE_DOUBLE)
    *out = json_node_get_double (n);
  else if (t == G_TYPE_BOOLEAN)
    *out = json_node_get_boolean (n);
  else
    return FALSE;
  return TRUE;
}

static void
pick_double (VlmSampler *user, JsonObject *gen, guint prop, const char *key, double *field)
{
  if (user_set (user, prop)) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_TYPE_DOUBLE);
    g_object_get_property (G_OBJECT (user), props[prop]->name, &v);
    *field = g_value_get_double (&v);
  } else {
    gen_number (gen, key, field);
  }
}

/**
 * vlm_sampler_new_for_generation:
 * @user: (nullable): the user's sampler settings
 * @generation_config: (nullable): the model's `generation_config.json`
 *
 * Resolves the settings of one generation: what the user set explicitly wins,
 * then the model's generation config, then Hugging Face's defaults. Sampling is
 * on when the user set do-sample, or set any of temperature, top-k, top-p and
 * min-p, or the generation config says `do_sample: true`; else decoding is greedy.
 * Every setting of the result counts as set by the user.
 *
 * Returns: (transfer full): a new sampler, seeded
 */
VlmSampler *
vlm_sampler_new_for_generation (VlmSampler *user, JsonObject *generation_config)
{
  VlmSampler *s = vlm_sampler_new ();
  JsonObject *gen = generation_config;
  double d;
  pick_double (user, gen, PROP_TEMPERATURE, "temperature", &s->temperature);
  pick_double (user, gen, PROP_TOP_P, "top_p", &s->top_p);
  pick_double (user, gen, PROP_MIN_P, "min_p", &s->min_p);
  pick_double (user, gen, PROP_REPETITION_PENALTY, "repetition_penalty",
               &s->repetition_penalty);
  if (user_set (user, PROP_TOP_K))
    s->top_k = user->top_k;
  else if (gen_number (gen, "top_k", &d))
    s->top_k = (int) CLAMP (d, 0, G_MAXINT);
  if (user) {
    s->repetition_window = user->repetition_window;
    s->seed = user->seed;
  }
  if (user_set (user, PROP_DO_SAMPLE))
    s->do_sample = user->do_sample;
  else if (user_set (user, PROP_TEMPERATURE) || user_set (user, PROP_TOP_K)
           || user_set (user, PROP_TOP_P) || user_set (user, PROP_MIN_P))
    s->do_sample = TRUE;
  else if (gen_number (gen, "do_sample", &d))
    s->do_sample = d != 0;
  /* Out-of-range model settings must not reach the maths. */
  s->temperature = CLAMP (s->temperature, 0, 100);
  s->top_p = CLAMP (s->top_p, 0, 1);
  s->min_p = CLAMP (s->min_p, 0, 1);
  s->repetition_penalty = CLAMP (s->repetition_penalty, 0.01, 100);
  /* Fully specified: resolving it again (a decoder does) changes nothing. */
  s->set_mask = ~0u;
  vlm_sampler_reset (s);
  return s;
}

/**
 * vlm_sampler_is_greedy:
 * @self: a sampler
 *
 * Returns: whether tokens are the argmax (do-sample off, or temperature 0)
 */
gboolean
vlm_sampler_is_greedy (VlmSampler *self)
{
  g_return_val_if_fail (VLM_IS_SAMPLER (self), TRUE);
  return !self->do_sample || self->temperature <= 0;
}

/**
 * vlm_sampler_reset:
 * @self: a sampler
 *
 * Restarts the random sequence from the seed (a fresh random seed when it is -1):
 * call it before each generation so that a seed reproduces it.
 */
void
vlm_sampler_reset (VlmSampler *self)
{
  g_return_if_fail (VLM_IS_SAMPLER (self));
  guint64 s = self->seed >= 0 ? (guint64) self->seed
                              : ((guint64) g_random_int () << 32) | g_random_int ();
  for (int i = 0; i < 4; i++)
    self->rng[i] = splitmix64 (&s);
}

static void
ensure_scratch (VlmSampler *self, gint64 n)
{
  if (n <= self->cap)
    return;
  g_free (self->cands);
  g_free (self->heap);
  g_free (self->seen);
  self->cands = g_new (Cand, n);
  self->heap = g_new (float, n);
  self->seen = g_new0 (guint8, n);
  self->cap = n;
}

static void
apply_repetition_penalty (VlmSampler *self, float *logits, gint64 n, const gint64 *ctx,
                          gsize n_ctx)
{
  float p = (float) self->repetition_penalty;
  gsize start = self->repetition_window > 0 && n_ctx > (gsize) self->repetition_window
                    ? n_ctx - (gsize) self->repetition_window : 0;
  /* Each distinct token is penalised once, however often it occurs. */
  for (gsize i = start; i < n_ctx; i++) {
    gint64 id = ctx[i];
    if (id < 0 || id >= n || self->seen[id])
      continue;
    self->seen[id] = 1;
    logits[id] = logits[id] > 0 ? logits[id] / p : logits[id] * p;
  }
  for (gsize i = start; i < n_ctx; i++)
    if (ctx[i] >= 0 && ctx[i] < n)
      self->seen[ctx[i]] = 0;
}

static gint64
argmax (const float *x, gint64 n)
{
  gint64 best = 0;
  for (gint64 i = 1; i < n; i++)
    if (x[i] > x[best] || isnan (x[best]))
      best = i;
  return best;
}

/* The k-th largest finite logit, through a min-heap of the k largest. */
static float
kth_largest (VlmSampler *self, const float *x, gint64 n, gint64 k)
{
  float *h = self->heap;
  gint64 size = 0;
  for (gint64 i = 0; i < n; i++) {
    float v = x[i];
    if (!isfinite (v))
      continue;
    gint64 c;
    if (size < k) {
      c = size++;
      while (c > 0 && h[(c - 1) / 2] > v) {
        h[c] = h[(c - 1) / 2];
        c = (c - 1) / 2;
      }
      h[c] = v;
    } else if (v > h[0]) {
      c = 0;
      for (;;) {
        gint64 l = 2 * c + 1, m = l;
        if (l >= size)
          break;
        if (l + 1 < size && h[l + 1] < h[l])
          m = l + 1;
        if (h[m] >= v)
          break;
        h[c] = h[m];
        c = m;
      }
      h[c] = v;
    }
  }
  return size < k ? -INFINITY : h[0];
}

static int
cand_cmp (const void *a, const void *b)
{
  const Cand *x = a, *y = b;
  if (x->logit != y->logit)
    return x->logit > y->logit ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static gint64
sample_filtered (VlmSampler *self, const float *logits, gint64 n)
{
  float thr = self->top_k > 0 && self->top_k < n ? kth_largest (self, logits, n, self->top_k)
                                                  : -INFINITY;
  gint64 m = 0;
  float inv_t = (float) (1.0 / self->temperature);
  for (gint64 i = 0; i < n; i++)
    if (isfinite (logits[i]) && logits[i] >= thr)
      self->cands[m++] = (Cand){ logits[i] * inv_t, (gint32) i };
  if (m == 0)
    return argmax (logits, n);
  qsort (self->cands, (size_t) m, sizeof (Cand), cand_cmp);
  /* Unnormalised probabilities relative to the best token. */
  float top = self->cands[0].logit;
  double total = 0;
  for (gint64 i = 0; i < m; i++) {
    self->cands[i].logit = expf (self->cands[i].logit - top);
    total += self->cands[i].logit;
  }
  gint64 keep = m;
  if (self->top_p < 1.0) {
    /* Keep a token while the mass strictly before it is below top-p (at least one). */
    double before = 0;
    for (keep = 0; keep < m && (keep == 0 || before < self->top_p * total); keep++)
      before += self->cands[keep].logit;
    total = before;
  }
  if (self->min_p > 0) {
    gint64 k = 1;
    double t = self->cands[0].logit;
    while (k < keep && self->cands[k].logit >= self->min_p * self->cands[0].logit)
      t += self->cands[k++].logit;
    keep = k;
    total = t;
  }
  double u = (double) (xoshiro_next (self->rng) >> 11) * 0x1.0p-53 * total, acc = 0;
  for (gint64 i = 0; i < keep; i++) {
    acc += self->cands[i].logit;
    if (u < acc)
      return self->cands[i].id;
  }
  return self->cands[keep - 1].id;
}

/**
 * vlm_sampler_sample:
 * @self: a sampler
 * @logits: (array length=n_vocab): the next-token logits, overwritten (penalised)
 * @n_vocab: vocabulary size
 * @context: (array length=n_context) (nullable): the tokens so far (prompt and
 *   generated), for the repetition penalty
 * @n_context: their number
 *
 * Returns: the chosen token id
 */
gint64
vlm_sampler_sample (VlmSampler *self, float *logits, gint64 n_vocab, const gint64 *context,
                    gsize n_context)
{
  g_return_val_if_fail (VLM_IS_SAMPLER (self) && logits && n_vocab > 0, 0);
  ensure_scratch (self, n_vocab);
  if (self->repetition_penalty != 1.0 && context)
    apply_repetition_penalty (self, logits, n_vocab, context, n_context);
  if (vlm_sampler_is_greedy (self))
    return argmax (logits, n_vocab);
  return sample_filtered (self, logits, n_vocab);
}
