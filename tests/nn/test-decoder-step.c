/* test-decoder-step.c: one step over several sequences (continuous batching) equals each
 * sequence run alone: prompts of different lengths prefilled together, then a step that
 * mixes single decode rows with a prompt slice, for every decoder family of the fixtures
 * (Gemma's norms and sliding layers, Qwen2-VL's M-RoPE streams, bidirectional spans). */
#include "nn-test-util.h"

#include "nn/decoder-step.h"

#include <string.h>

static const char *const archs[] = { "idefics3", "smolvlm", "llava", "paligemma", "gemma3",
                                     "qwen2_vl", "qwen2_5_vl" };

typedef struct {
  gint64 first, second;     /* rows of the two steps */
  gint64 spans[2];          /* of the first step's rows */
  gboolean streams;         /* the fixture's M-RoPE streams for the first step */
} Plan;

/* The logits after each of a sequence's two forward calls, run alone. */
static void
run_alone (VlmDecoder *dec, const float *x, const Plan *p, const gint64 *streams,
           float *logits)
{
  g_autoptr (GError) error = NULL;
  gint64 D = dec->cfg.hidden, V = dec->cfg.vocab;
  g_autoptr (VlmDecoderState) s = vlm_decoder_state_new (dec, p->first, p->first + p->second,
                                                          &error);
  g_assert_no_error (error);
  s->spans = g_memdup2 (p->spans, sizeof p->spans);
  s->n_spans = 1;
  s->next_streams = p->streams ? streams : NULL;
  vlm_decoder_forward (dec, s, x, p->first, NULL);
  memcpy (logits, s->logits, (gsize) V * sizeof (float));
  vlm_decoder_forward (dec, s, x + p->first * D, p->second, NULL);
  memcpy (logits + V, s->logits, (gsize) V * sizeof (float));
}

static void
test_step (gconstpointer data)
{
  const char *arch = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmDecoder) dec = nn_load_decoder (arch);
  g_autoptr (VlmTensor) embeds = nn_golden (arch, "inputs_embeds");
  const float *x = vlm_tensor_get_data (embeds);
  gint64 L = vlm_tensor_get_dim (embeds, 0), D = dec->cfg.hidden, V = dec->cfg.vocab;
  gboolean mrope = dec->cfg.mrope_section[0] > 0;
  g_autoptr (VlmTensor) streams = mrope ? nn_golden (arch, "position_ids") : NULL;
  g_assert_true (!mrope || vlm_tensor_get_numel (streams) == 3 * L);
  /* A: the whole prompt then one token; B: a shorter prompt then one token; C: two
   * prompt slices, the second beside A's and B's decode rows. */
  const Plan plans[] = { { L, 1, { 2, 9 }, mrope }, { L - 5, 1, { 0, 4 }, FALSE },
                         { 7, 5, { 3, 6 }, FALSE } };
  enum { N = G_N_ELEMENTS (plans) };
  g_autofree float *want = g_new (float, N * 2 * V);
  for (guint i = 0; i < N; i++)
    run_alone (dec, x, &plans[i], mrope ? vlm_tensor_get_data (streams) : NULL,
               want + i * 2 * V);

  g_autoptr (VlmDecoderScratch) scratch = vlm_decoder_scratch_new (dec, 3 * L, N, &error);
  g_assert_no_error (error);
  VlmKvCache *caches[N];
  for (guint i = 0; i < N; i++) {
    caches[i] = vlm_kv_cache_new (dec->cfg.n_layers, plans[i].first + plans[i].second,
                                  dec->cfg.n_kv_heads * dec->cfg.head_dim, &error);
    g_assert_no_error (error);
  }
  g_autofree float *got = g_new (float, N * V);
  for (guint round = 0; round < 2; round++) {
    VlmDecoderSeq seqs[N];
    for (guint i = 0; i < N; i++) {
      const Plan *p = &plans[i];
      seqs[i] = (VlmDecoderSeq) { .cache = caches[i], .embeds = x + (round ? p->first * D : 0),
                                  .rows = round ? p->second : p->first,
                                  .streams = !round && p->streams ? vlm_tensor_get_data (streams)
                                                                  : NULL,
                                  .spans = p->spans, .n_spans = 1 };
    }
    vlm_decoder_step (dec, scratch, seqs, N, NULL, got);
    for (guint i = 0; i < N; i++) {
      double err = nn_rel_l2 (got + i * V, want + (i * 2 + round) * V, V);
      g_test_message ("%s step %u sequence %u: relative L2 %.3g", arch, round, i, err);
      /* Rows alone take the GEMV kernels, rows together a GEMM: the sums are ordered
       * differently (about 1e-6 here); a wrong position, mask or cache row is ~1e-1. */
      g_assert_cmpfloat (err, <, 1e-4);
    }
  }
  for (guint i = 0; i < N; i++) {
    g_assert_cmpint (caches[i]->len, ==, plans[i].first + plans[i].second);
    vlm_kv_cache_free (caches[i]);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (archs); i++) {
    g_autofree char *name = g_strdup_printf ("/nn/decoder-step/%s", archs[i]);
    g_test_add_data_func (name, archs[i], test_step);
  }
  return g_test_run ();
}
