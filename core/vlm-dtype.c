/* vlm-dtype.c: dtype names, sizes and the half-precision conversions. */
#include "vlm/vlm-tensor.h"

#include <string.h>

static const struct {
  const char *name;
  gsize size;
} dtype_info[] = {
  [VLM_DTYPE_F32] = { "F32", 4 },
  [VLM_DTYPE_F16] = { "F16", 2 },
  [VLM_DTYPE_BF16] = { "BF16", 2 },
  [VLM_DTYPE_I64] = { "I64", 8 },
  [VLM_DTYPE_I32] = { "I32", 4 },
  [VLM_DTYPE_U8] = { "U8", 1 },
  [VLM_DTYPE_BOOL] = { "BOOL", 1 },
  [VLM_DTYPE_U32] = { "U32", 4 },
  [VLM_DTYPE_I8] = { "I8", 1 },
  [VLM_DTYPE_F64] = { "F64", 8 },
};

/**
 * vlm_dtype_size:
 * @dtype: a #VlmDType
 *
 * Returns: the size of one element in bytes
 */
gsize
vlm_dtype_size (VlmDType dtype)
{
  g_return_val_if_fail ((guint) dtype < G_N_ELEMENTS (dtype_info), 0);
  return dtype_info[dtype].size;
}

/**
 * vlm_dtype_name:
 * @dtype: a #VlmDType
 *
 * Returns: the safetensors name of @dtype ("F32", "BF16", ...)
 */
const char *
vlm_dtype_name (VlmDType dtype)
{
  g_return_val_if_fail ((guint) dtype < G_N_ELEMENTS (dtype_info), "?");
  return dtype_info[dtype].name;
}

/**
 * vlm_dtype_from_name:
 * @name: a safetensors dtype name such as "BF16"
 * @out: (out): the dtype
 *
 * Returns: %TRUE if @name is a known dtype
 */
gboolean
vlm_dtype_from_name (const char *name, VlmDType *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (dtype_info); i++)
    if (g_strcmp0 (name, dtype_info[i].name) == 0) {
      *out = (VlmDType) i;
      return TRUE;
    }
  return FALSE;
}

/**
 * vlm_dtype_is_float:
 * @dtype: a #VlmDType
 *
 * Returns: %TRUE for the floating-point dtypes
 */
gboolean
vlm_dtype_is_float (VlmDType dtype)
{
  return dtype == VLM_DTYPE_F32 || dtype == VLM_DTYPE_F16 || dtype == VLM_DTYPE_BF16
         || dtype == VLM_DTYPE_F64;
}

GType
vlm_dtype_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { VLM_DTYPE_F32, "VLM_DTYPE_F32", "f32" },
    { VLM_DTYPE_F16, "VLM_DTYPE_F16", "f16" },
    { VLM_DTYPE_BF16, "VLM_DTYPE_BF16", "bf16" },
    { VLM_DTYPE_I64, "VLM_DTYPE_I64", "i64" },
    { VLM_DTYPE_I32, "VLM_DTYPE_I32", "i32" },
    { VLM_DTYPE_U8, "VLM_DTYPE_U8", "u8" },
    { VLM_DTYPE_BOOL, "VLM_DTYPE_BOOL", "bool" },
    { VLM_DTYPE_U32, "VLM_DTYPE_U32", "u32" },
    { VLM_DTYPE_I8, "VLM_DTYPE_I8", "i8" },
    { VLM_DTYPE_F64, "VLM_DTYPE_F64", "f64" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("VlmDType", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/**
 * vlm_bf16_to_f32:
 * @value: bfloat16 bits
 *
 * Returns: the float value
 */
float
vlm_bf16_to_f32 (guint16 value)
{
  guint32 bits = (guint32) value << 16;
  float f;
  memcpy (&f, &bits, 4);
  return f;
}

/**
 * vlm_f32_to_bf16:
 * @value: a float
 *
 * Rounds to nearest even, as PyTorch does; NaN stays NaN.
 *
 * Returns: bfloat16 bits
 */
guint16
vlm_f32_to_bf16 (float value)
{
  guint32 bits;
  memcpy (&bits, &value, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return (guint16) ((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return (guint16) (bits >> 16);
}

/**
 * vlm_f16_to_f32:
 * @value: IEEE half bits
 *
 * Returns: the float value
 */
float
vlm_f16_to_f32 (guint16 value)
{
  guint32 sign = (guint32) (value & 0x8000u) << 16;
  guint32 exp = (value >> 10) & 0x1fu;
  guint32 mant = value & 0x3ffu;
  guint32 bits;
  if (exp == 0) {
    if (mant == 0)
      bits = sign;
    else {
      /* subnormal: renormalise */
      int e = -1;
      do {
        e++;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | ((guint32) (127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31)
    bits = sign | 0x7f800000u | (mant << 13);
  else
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  float f;
  memcpy (&f, &bits, 4);
  return f;
}

/**
 * vlm_f32_to_f16:
 * @value: a float
 *
 * Rounds to nearest even; overflow gives infinity.
 *
 * Returns: IEEE half bits
 */
guint16
vlm_f32_to_f16 (float value)
{
  guint32 bits;
  memcpy (&bits, &value, 4);
  guint32 sign = (bits >> 16) & 0x8000u;
  guint32 absb = bits & 0x7fffffffu;
  if (absb > 0x7f800000u)
    return (guint16) (sign | 0x7e00u);
  if (absb >= 0x477ff000u) /* rounds to >= 65520: infinity */
    return (guint16) (sign | 0x7c00u);
  if (absb < 0x38800000u) {
    /* result is subnormal or zero: align into the 10-bit mantissa */
    if (absb < 0x33000000u)
      return (guint16) sign;
    guint32 e = absb >> 23;
    guint32 m = (absb & 0x7fffffu) | 0x800000u;
    guint32 shift = 126 - e; /* 14 + (112 - e) + ... */
    guint32 half = m >> (shift);
    guint32 rem = m & ((1u << shift) - 1);
    guint32 mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u)))
      half++;
    return (guint16) (sign | half);
  }
  guint32 r = absb - 0x38000000u; /* rebias exponent 127 -> 15 */
  guint32 half = r >> 13;
  guint32 rem = r & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u)))
    half++;
  return (guint16) (sign | half);
}
