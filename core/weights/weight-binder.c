/* weight-binder.c: bind declared names to checkpoint tensors, all or nothing.
 *
 * finish() works in two passes: the first resolves and checks every declaration
 * and collects every problem, so a broken checkpoint is reported in one error;
 * only when nothing is wrong does the second build the bound layers and tensors.
 */
#include "weights/weight-binder.h"
#include "vlm/vlm-error.h"

#include <string.h>

#define MAX_LISTED 64 /* per problem kind; the counts in the summary stay exact */

typedef enum { DECL_LINEAR, DECL_TENSOR } DeclKind;

typedef struct {
  DeclKind kind;
  char *name;       /* as declared */
  char **alts;      /* `|` alternatives */
  guint flags;
  guint ndim;
  gint64 shape[VLM_TENSOR_MAX_DIMS];
  VlmLinear *lin_dest;
  VlmTensor **tensor_dest;
  char *resolved;   /* full name of the module (linear) or tensor, once found */
  /* what pass 1 found, for pass 2 */
  VlmTensor *weight, *scales, *biases, *bias;
  int bits, group_size;
  gboolean conv_from_mlx;
} Decl;

struct _VlmWeightRequest {
  VlmWeights *weights;
  VlmTensorSet *set;
  GPtrArray *candidates; /* prefix, then aliases */
  const char *chosen;
  gboolean strict;
  gboolean finished;
  GPtrArray *decls;
  GHashTable *consumed;  /* full names bound by this request */
  GPtrArray *missing, *wrong, *unexpected;
};

static void
decl_free (Decl *d)
{
  g_free (d->name);
  g_strfreev (d->alts);
  g_free (d->resolved);
  g_free (d);
}

/**
 * vlm_weight_request_new:
 * @weights: the checkpoint
 * @prefix: the canonical (Hugging Face) prefix of the declared names, e.g.
 *   "model.text_model."; "" for full names
 * @aliases: (nullable) (array zero-terminated=1): other prefixes the same
 *   tensors are stored under (older HF names, mlx-vlm names)
 *
 * At finish() the candidate prefix under which most declarations are found is
 * used; with strict checking (the default) every tensor under it that no
 * declaration consumed is reported as unexpected.
 *
 * Returns: (transfer full): a request
 */
VlmWeightRequest *
vlm_weight_request_new (VlmWeights *weights, const char *prefix, const char *const *aliases)
{
  VlmWeightRequest *r = g_new0 (VlmWeightRequest, 1);
  r->weights = vlm_weights_ref (weights);
  r->set = vlm_weights_get_tensors (weights);
  r->candidates = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (r->candidates, g_strdup (prefix));
  for (guint i = 0; aliases && aliases[i]; i++)
    g_ptr_array_add (r->candidates, g_strdup (aliases[i]));
  r->chosen = g_ptr_array_index (r->candidates, 0);
  r->strict = TRUE;
  r->decls = g_ptr_array_new_with_free_func ((GDestroyNotify) decl_free);
  r->consumed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  r->missing = g_ptr_array_new_with_free_func (g_free);
  r->wrong = g_ptr_array_new_with_free_func (g_free);
  r->unexpected = g_ptr_array_new_with_free_func (g_free);
  return r;
}

/**
 * vlm_weight_request_set_strict:
 * @request: a request
 * @strict: %FALSE to report only problems with declared names (for requests
 *   that pick single tensors out of a shared prefix, such as "")
 */
void
vlm_weight_request_set_strict (VlmWeightRequest *request, gboolean strict)
{
  request->strict = strict;
}

static Decl *
add_decl (VlmWeightRequest *r, DeclKind kind, const char *name, guint flags, guint ndim,
          const gint64 *shape)
{
  g_return_val_if_fail (!r->finished, NULL);
  g_return_val_if_fail (ndim >= 1 && ndim <= VLM_TENSOR_MAX_DIMS, NULL);
  Decl *d = g_new0 (Decl, 1);
  d->kind = kind;
  d->name = g_strdup (name);
  d->alts = g_strsplit (name, "|", -1);
  d->flags = flags;
  d->ndim = ndim;
  memcpy (d->shape, shape, ndim * sizeof (gint64));
  g_ptr_array_add (r->decls, d);
  return d;
}

/**
 * vlm_weight_request_linear:
 * @request: a request
 * @module: the module name, e.g. "layers.3.self_attn.q_proj" (binds `.weight`,
 *   `.bias` and, when `.scales` exists, MLX `.scales`/`.biases`)
 * @out: rows of the weight (-1: any)
 * @in: columns of the (unpacked) weight (-1: any)
 * @flags: #VlmWeightFlags
 * @dest: (out caller-allocates): filled at finish(); left zeroed when an
 *   optional module is absent
 */
void
vlm_weight_request_linear (VlmWeightRequest *request, const char *module, gint64 out, gint64 in,
                           guint flags, VlmLinear *dest)
{
  Decl *d = add_decl (request, DECL_LINEAR, module, flags, 2, (gint64[]) { out, in });
  if (d)
    d->lin_dest = dest;
}

/**
 * vlm_weight_request_embedding:
 * @request: a request
 * @module: the module name, e.g. "embed_tokens"
 * @rows: table rows (-1: any)
 * @dim: embedding width (-1: any)
 * @flags: #VlmWeightFlags
 * @dest: (out caller-allocates): the table as a layer for vlm_linear_embed()
 *
 * An embedding table, dense or MLX-quantized; it has no bias.
 */
void
vlm_weight_request_embedding (VlmWeightRequest *request, const char *module, gint64 rows,
                              gint64 dim, guint flags, VlmLinear *dest)
{
  vlm_weight_request_linear (request, module, rows, dim, flags | VLM_WEIGHT_NO_BIAS, dest);
}

/**
 * vlm_weight_request_tensor:
 * @request: a request
 * @name: the tensor name, e.g. "norm.weight"
 * @ndim: rank
 * @shape: (array length=ndim): expected shape, -1 for any size; for
 *   %VLM_WEIGHT_CONV the Hugging Face order [O, I, k...]
 * @flags: #VlmWeightFlags
 * @dest: (out) (transfer full): set at finish() to a contiguous F32 tensor in
 *   the declared order (the mapped data itself when it is F32 already); left
 *   %NULL when an optional tensor is absent. A quantized `*.weight` (an
 *   embedding table used as a plain tensor) is dequantized.
 */
void
vlm_weight_request_tensor (VlmWeightRequest *request, const char *name, guint ndim,
                           const gint64 *shape, guint flags, VlmTensor **dest)
{
  Decl *d = add_decl (request, DECL_TENSOR, name, flags, ndim, shape);
  if (d)
    d->tensor_dest = dest;
}

static char *
full_name (const char *prefix, const char *alt, const char *suffix)
{
  return alt[0] == '/' ? g_strconcat (alt + 1, suffix, NULL)
                       : g_strconcat (prefix, alt, suffix, NULL);
}

static const char *
key_suffix (const Decl *d)
{
  return d->kind == DECL_LINEAR ? ".weight" : "";
}

/* The full name of the first alternative present under @prefix, or NULL. */
static char *
resolve (VlmWeightRequest *r, const Decl *d, const char *prefix, gboolean relative_only)
{
  for (guint i = 0; d->alts[i]; i++) {
    if (relative_only && d->alts[i][0] == '/')
      continue;
    g_autofree char *base = full_name (prefix, d->alts[i], "");
    g_autofree char *key = g_strconcat (base, key_suffix (d), NULL);
    if (vlm_tensor_set_contains (r->set, key))
      return g_steal_pointer (&base);
  }
  return NULL;
}

static void
choose_prefix (VlmWeightRequest *r)
{
  guint best = 0;
  for (guint c = 0; c < r->candidates->len; c++) {
    const char *prefix = g_ptr_array_index (r->candidates, c);
    guint found = 0;
    for (guint i = 0; i < r->decls->len; i++) {
      g_autofree char *name = resolve (r, g_ptr_array_index (r->decls, i), prefix, TRUE);
      found += name != NULL;
    }
    if (found > best) {
      best = found;
      r->chosen = prefix;
    }
  }
}

static void
append_shape (GString *s, guint ndim, const gint64 *shape)
{
  g_string_append_c (s, '[');
  for (guint i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      g_string_append_printf (s, "%s*", i ? ", " : "");
    else
      g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  }
  g_string_append_c (s, ']');
}

static char *
describe (VlmTensor *t)
{
  GString *s = g_string_new (vlm_dtype_name (vlm_tensor_get_dtype (t)));
  guint ndim;
  const gint64 *shape = vlm_tensor_get_shape (t, &ndim);
  g_string_append_c (s, ' ');
  append_shape (s, ndim, shape);
  return g_string_free (s, FALSE);
}

static gboolean
shape_matches (guint ndim, const gint64 *expected, guint actual_ndim, const gint64 *actual)
{
  if (ndim != actual_ndim)
    return FALSE;
  for (guint i = 0; i < ndim; i++)
    if (expected[i] >= 0 && expected[i] != actual[i])
      return FALSE;
  return TRUE;
}

static void G_GNUC_PRINTF (2, 3)
problem (GPtrArray *list, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_ptr_array_add (list, g_strdup_vprintf (format, ap));
  va_end (ap);
}

static void
wrong_shape (VlmWeightRequest *r, const char *name, guint ndim, const gint64 *expected,
             VlmTensor *actual, const char *note)
{
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "%s expected ", name);
  append_shape (s, ndim, expected);
  g_autofree char *got = describe (actual);
  g_string_append_printf (s, " got %s%s", got, note ? note : "");
  g_ptr_array_add (r->wrong, g_string_free (s, FALSE));
}

static gboolean
is_linear_dtype (VlmDType t)
{
  return t == VLM_DTYPE_F32 || t == VLM_DTYPE_BF16 || t == VLM_DTYPE_F16;
}

/* Takes the tensor @base@suffix out of the checkpoint for this request. */
static VlmTensor *
take (VlmWeightRequest *r, const char *base, const char *suffix)
{
  g_autofree char *key = g_strconcat (base, suffix, NULL);
  VlmTensor *t = vlm_tensor_set_get (r->set, key);
  if (t)
    g_hash_table_add (r->consumed, g_steal_pointer (&key));
  return t;
}

static gboolean
supported_quant (int bits, int group_size)
{
  return bits >= 2 && bits <= 8 && bits != 7
         && (group_size == 32 || group_size == 64 || group_size == 128);
}

/* Pass 1 for an MLX-quantized module: packed words, per-group scales and biases. */
static void
check_quantized (VlmWeightRequest *r, Decl *d, const char *module)
{
  g_autofree char *wname = g_strconcat (module, ".weight", NULL);
  d->scales = take (r, module, ".scales");
  d->biases = take (r, module, ".biases");
  if (!d->biases)
    problem (r->missing, "%s.biases (%s.scales exists, so the module is quantized)", module,
             module);
  if (vlm_tensor_get_dtype (d->weight) != VLM_DTYPE_U32 || vlm_tensor_get_ndim (d->weight) != 2) {
    g_autofree char *got = describe (d->weight);
    problem (r->wrong, "%s expected U32 [out, words] (%s.scales exists) got %s", wname, module,
             got);
    return;
  }
  gint64 rows = vlm_tensor_get_dim (d->weight, 0), words = vlm_tensor_get_dim (d->weight, 1);
  gint64 groups = vlm_tensor_get_ndim (d->scales) == 2 ? vlm_tensor_get_dim (d->scales, 1) : 0;
  gint64 in = -1;
  if (vlm_weights_get_module_quantization (r->weights, module, &d->bits, &d->group_size)) {
    if (words * 32 % d->bits == 0)
      in = words * 32 / d->bits;
  } else if (d->shape[1] > 0 && words * 32 % d->shape[1] == 0 && groups > 0
             && d->shape[1] % groups == 0) {
    /* No quantization section in the config: the declared width decides. */
    in = d->shape[1];
    d->bits = (int) (words * 32 / in);
    d->group_size = (int) (in / groups);
  }
  if (in < 0 || !supported_quant (d->bits, d->group_size) || in % d->group_size != 0) {
    g_autofree char *got = describe (d->weight);
    problem (r->wrong, "%s: %s holds no whole groups of a supported quantization "
             "(%d bits, group size %d)", wname, got, d->bits, d->group_size);
    return;
  }
  gint64 logical[2] = { rows, in };
  if (!shape_matches (2, d->shape, 2, logical)) {
    g_autofree char *note = g_strdup_printf (" (%d-bit, %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT
                                             " unpacked)", d->bits, rows, in);
    wrong_shape (r, wname, 2, d->shape, d->weight, note);
    return;
  }
  gint64 sb_shape[2] = { rows, in / d->group_size };
  VlmTensor *sb[2] = { d->scales, d->biases };
  for (int i = 0; i < 2; i++) {
    if (!sb[i])
      continue;
    guint nd;
    const gint64 *shape = vlm_tensor_get_shape (sb[i], &nd);
    g_autofree char *n = g_strconcat (module, i ? ".biases" : ".scales", NULL);
    if (!shape_matches (2, sb_shape, nd, shape) || !is_linear_dtype (vlm_tensor_get_dtype (sb[i]))
        || vlm_tensor_get_dtype (sb[i]) != vlm_tensor_get_dtype (d->scales))
      wrong_shape (r, n, 2, sb_shape, sb[i], " (F32/BF16/F16, one per group)");
  }
}

/* Pass 1 for the weight of a linear or embedding found at @module. */
static void
check_linear (VlmWeightRequest *r, Decl *d, const char *module)
{
  d->weight = take (r, module, ".weight");
  g_autofree char *scales = g_strconcat (module, ".scales", NULL);
  if (vlm_tensor_set_contains (r->set, scales))
    check_quantized (r, d, module);
  else if (!is_linear_dtype (vlm_tensor_get_dtype (d->weight))
           || !shape_matches (2, d->shape, vlm_tensor_get_ndim (d->weight),
                              vlm_tensor_get_shape (d->weight, NULL))) {
    g_autofree char *wname = g_strconcat (module, ".weight", NULL);
    wrong_shape (r, wname, 2, d->shape, d->weight,
                 is_linear_dtype (vlm_tensor_get_dtype (d->weight)) ? NULL
                 : " (F32, BF16 or F16, or U32 with .scales)");
  }

  g_autofree char *bias_name = g_strconcat (module, ".bias", NULL);
  if (d->flags & VLM_WEIGHT_NO_BIAS) {
    /* Reported even by lenient requests: the model would silently drop it. */
    if (vlm_tensor_set_contains (r->set, bias_name)) {
      g_autofree char *got = describe (vlm_tensor_set_get (r->set, bias_name));
      problem (r->unexpected, "%s %s (the module has no bias)", bias_name, got);
      g_hash_table_add (r->consumed, g_strdup (bias_name));
    }
    return;
  }
  d->bias = take (r, module, ".bias");
  if (!d->bias && (d->flags & VLM_WEIGHT_BIAS))
    problem (r->missing, "%s", bias_name);
  if (d->bias && (!vlm_dtype_is_float (vlm_tensor_get_dtype (d->bias))
                  || !shape_matches (1, d->shape, vlm_tensor_get_ndim (d->bias),
                                     vlm_tensor_get_shape (d->bias, NULL))))
    wrong_shape (r, bias_name, 1, d->shape, d->bias, NULL);
}

/* Pass 1 for a plain tensor found at @name. */
static void
check_tensor (VlmWeightRequest *r, Decl *d, const char *name)
{
  if (g_str_has_suffix (name, ".weight")) {
    g_autofree char *module = g_strndup (name, strlen (name) - strlen (".weight"));
    g_autofree char *scales = g_strconcat (module, ".scales", NULL);
    if (vlm_tensor_set_contains (r->set, scales)) {
      if (d->ndim != 2) {
        problem (r->wrong, "%s is quantized, so it must be declared 2-D (got rank %u)", name,
                 d->ndim);
        return;
      }
      d->weight = take (r, module, ".weight");
      check_quantized (r, d, module);
      return;
    }
  }
  d->weight = take (r, name, "");
  guint nd;
  const gint64 *shape = vlm_tensor_get_shape (d->weight, &nd);
  if (!vlm_dtype_is_float (vlm_tensor_get_dtype (d->weight))) {
    wrong_shape (r, name, d->ndim, d->shape, d->weight, " (a float tensor)");
    return;
  }
  if ((d->flags & VLM_WEIGHT_CONV) && d->ndim >= 3) {
    /* mlx-vlm stores conv kernels channels-last: [O, k..., I]. */
    gint64 mlx[VLM_TENSOR_MAX_DIMS];
    mlx[0] = d->shape[0];
    for (guint i = 2; i < d->ndim; i++)
      mlx[i - 1] = d->shape[i];
    mlx[d->ndim - 1] = d->shape[1];
    gboolean as_mlx = shape_matches (d->ndim, mlx, nd, shape);
    gboolean as_hf = shape_matches (d->ndim, d->shape, nd, shape);
    /* In an mlx checkpoint the stored order wins when both fit (I == k). */
    d->conv_from_mlx = as_mlx && (vlm_weights_is_mlx_layout (r->weights) || !as_hf);
    if (!as_mlx && !as_hf)
      wrong_shape (r, name, d->ndim, vlm_weights_is_mlx_layout (r->weights) ? mlx : d->shape,
                   d->weight, vlm_weights_is_mlx_layout (r->weights)
                   ? " (a conv kernel, channels-last as mlx stores it)" : " (a conv kernel)");
    return;
  }
  if (!shape_matches (d->ndim, d->shape, nd, shape))
    wrong_shape (r, name, d->ndim, d->shape, d->weight, NULL);
}

static void
check_decl (VlmWeightRequest *r, Decl *d)
{
  d->resolved = resolve (r, d, r->chosen, FALSE);
  if (!d->resolved) {
    if (d->flags & VLM_WEIGHT_OPTIONAL)
      return;
    GString *s = g_string_new (NULL);
    for (guint i = 0; d->alts[i]; i++) {
      g_autofree char *n = full_name (r->chosen, d->alts[i], key_suffix (d));
      g_string_append_printf (s, i == 0 ? "%s" : i == 1 ? " (also tried %s" : ", %s", n);
    }
    if (d->alts[0] && d->alts[1])
      g_string_append_c (s, ')');
    g_ptr_array_add (r->missing, g_string_free (s, FALSE));
    return;
  }
  if (d->kind == DECL_LINEAR)
    check_linear (r, d, d->resolved);
  else
    check_tensor (r, d, d->resolved);
}

static void
find_unexpected (VlmWeightRequest *r)
{
  guint n = vlm_tensor_set_get_size (r->set);
  for (guint i = 0; i < n; i++) {
    const char *name = vlm_tensor_set_get_nth_name (r->set, i);
    if (g_str_has_prefix (name, r->chosen) && !g_hash_table_contains (r->consumed, name)) {
      g_autofree char *got = describe (vlm_tensor_set_get_nth (r->set, i));
      problem (r->unexpected, "%s %s", name, got);
    }
  }
}

static void
list_problems (GString *s, const char *label, GPtrArray *list)
{
  for (guint i = 0; i < list->len && i < MAX_LISTED; i++)
    g_string_append_printf (s, "\n  %s: %s", label, (char *) g_ptr_array_index (list, i));
  if (list->len > MAX_LISTED)
    g_string_append_printf (s, "\n  ... and %u more %s", list->len - MAX_LISTED, label);
}

static void
report (VlmWeightRequest *r, GError **error)
{
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "%s: the weights under '%s' do not match the model (%u missing, "
                          "%u wrongly shaped, %u unexpected):", vlm_weights_get_path (r->weights),
                          r->chosen, r->missing->len, r->wrong->len, r->unexpected->len);
  list_problems (s, "missing", r->missing);
  list_problems (s, "wrong shape", r->wrong);
  list_problems (s, "unexpected", r->unexpected);
  g_set_error_literal (error, VLM_ERROR, VLM_ERROR_FORMAT, s->str);
  g_string_free (s, TRUE);
}

/* Pass 2: F32 in the declared order, without a copy when already so. */
static VlmTensor *
build_tensor (VlmWeightRequest *r, Decl *d, GError **error)
{
  if (d->scales) {
    VlmLinear lin;
    if (!vlm_linear_init_quant (&lin, d->weight, d->scales, d->biases, NULL, d->bits,
                                d->group_size, error))
      return NULL;
    VlmTensor *t = vlm_tensor_new (VLM_DTYPE_F32, 2, (gint64[]) { lin.out, lin.in });
    vlm_linear_dequant_rows (&lin, 0, lin.out, vlm_tensor_get_data_mut (t));
    vlm_linear_clear (&lin);
    return t;
  }
  g_autoptr (VlmTensor) ordered = NULL;
  if (d->conv_from_mlx) {
    guint axes[VLM_TENSOR_MAX_DIMS] = { 0, d->ndim - 1 };
    for (guint i = 2; i < d->ndim; i++)
      axes[i] = i - 1;
    ordered = vlm_tensor_permute (d->weight, axes, d->ndim, error);
    if (!ordered)
      return NULL;
  } else {
    ordered = vlm_tensor_ref (d->weight);
  }
  if (vlm_tensor_get_dtype (ordered) == VLM_DTYPE_F32)
    return vlm_tensor_contiguous (ordered);
  return vlm_tensor_to_dtype (ordered, VLM_DTYPE_F32, error);
}

static gboolean
build (VlmWeightRequest *r, Decl *d, VlmLinear *lin, VlmTensor **tensor, GError **error)
{
  if (d->kind == DECL_TENSOR)
    return (*tensor = build_tensor (r, d, error)) != NULL;
  if (d->scales)
    return vlm_linear_init_quant (lin, d->weight, d->scales, d->biases, d->bias, d->bits,
                                  d->group_size, error);
  return vlm_linear_init_dense (lin, d->weight, d->bias, error);
}

/**
 * vlm_weight_request_finish:
 * @request: a request
 * @error: return location for a #GError
 *
 * Binds every declaration. On any problem nothing is bound and @error lists
 * every missing tensor, every tensor of the wrong shape or type (expected and
 * actual shape) and every unexpected tensor under the chosen prefix.
 *
 * Returns: %TRUE when everything was bound
 */
gboolean
vlm_weight_request_finish (VlmWeightRequest *request, GError **error)
{
  VlmWeightRequest *r = request;
  g_return_val_if_fail (!r->finished, FALSE);
  r->finished = TRUE;
  choose_prefix (r);
  for (guint i = 0; i < r->decls->len; i++)
    check_decl (r, g_ptr_array_index (r->decls, i));
  if (r->strict)
    find_unexpected (r);
  if (r->missing->len || r->wrong->len || r->unexpected->len) {
    report (r, error);
    return FALSE;
  }

  guint n = r->decls->len;
  VlmLinear *lins = g_new0 (VlmLinear, n);
  VlmTensor **tensors = g_new0 (VlmTensor *, n);
  gboolean ok = TRUE;
  for (guint i = 0; i < n && ok; i++) {
    Decl *d = g_ptr_array_index (r->decls, i);
    if (d->resolved)
      ok = build (r, d, &lins[i], &tensors[i], error);
  }
  for (guint i = 0; i < n; i++) {
    Decl *d = g_ptr_array_index (r->decls, i);
    if (!ok) {
      vlm_linear_clear (&lins[i]);
      g_clear_pointer (&tensors[i], vlm_tensor_unref);
    } else if (d->kind == DECL_LINEAR) {
      *d->lin_dest = lins[i];
    } else {
      *d->tensor_dest = tensors[i];
    }
  }
  g_free (lins);
  g_free (tensors);
  return ok;
}

/**
 * vlm_weight_request_get_prefix:
 * @request: a finished request
 *
 * Returns: the prefix the checkpoint uses (the canonical one or an alias)
 */
const char *
vlm_weight_request_get_prefix (VlmWeightRequest *request)
{
  return request->chosen;
}

/**
 * vlm_weight_request_resolved:
 * @request: a finished request
 * @name: a name exactly as declared
 *
 * Returns: (nullable): the checkpoint name it was bound to (the module for a
 *   linear), or %NULL when it was absent (optional) or not declared
 */
const char *
vlm_weight_request_resolved (VlmWeightRequest *request, const char *name)
{
  for (guint i = 0; i < request->decls->len; i++) {
    Decl *d = g_ptr_array_index (request->decls, i);
    if (g_str_equal (d->name, name))
      return d->resolved;
  }
  return NULL;
}

/**
 * vlm_weight_request_free:
 * @request: (nullable): a request
 */
void
vlm_weight_request_free (VlmWeightRequest *request)
{
  if (!request)
    return;
  g_ptr_array_unref (request->decls);
  g_ptr_array_unref (request->candidates);
  g_hash_table_unref (request->consumed);
  g_ptr_array_unref (request->missing);
  g_ptr_array_unref (request->wrong);
  g_ptr_array_unref (request->unexpected);
  vlm_weights_unref (request->weights);
  g_free (request);
}
