/* fuzz-safetensors.c: libFuzzer target for the safetensors file parser (prefix + header). */
#include "weights/safetensors-header.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  VlmStHeader hdr;
  guint64 start;
  GError *error = NULL;
  if (vlm_st_parse_file_bytes (data, size, "fuzz", &hdr, &start, &error))
    vlm_st_header_clear (&hdr);
  else
    g_error_free (error);
  return 0;
}
