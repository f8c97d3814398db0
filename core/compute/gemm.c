/* gemm.c: OpenBLAS sgemm split across the pool (OpenBLAS itself runs single-threaded). */
#include "compute/linear.h"
#include "compute/threadpool.h"
#include "compute/blas-setup.h"

#include <cblas.h>

typedef struct {
  gint64 M, N, K, lda, ldb, ldc;
  const float *A, *B;
  float *C;
  gboolean trans_b, accumulate, split_n;
} GemmJob;

static void
gemm_range (gpointer data, gint64 begin, gint64 end)
{
  const GemmJob *j = data;
  float beta = j->accumulate ? 1.0f : 0.0f;
  if (j->split_n) {
    const float *B = j->trans_b ? j->B + begin * j->ldb : j->B + begin;
    cblas_sgemm (CblasRowMajor, CblasNoTrans, j->trans_b ? CblasTrans : CblasNoTrans,
                 (blasint) j->M, (blasint) (end - begin), (blasint) j->K, 1.0f, j->A,
                 (blasint) j->lda, B, (blasint) j->ldb, beta, j->C + begin, (blasint) j->ldc);
  } else {
    cblas_sgemm (CblasRowMajor, CblasNoTrans, j->trans_b ? CblasTrans : CblasNoTrans,
                 (blasint) (end - begin), (blasint) j->N, (blasint) j->K, 1.0f,
                 j->A + begin * j->lda, (blasint) j->lda, j->B, (blasint) j->ldb, beta,
                 j->C + begin * j->ldc, (blasint) j->ldc);
  }
}

/**
 * vlm_sgemm:
 * @M: rows of A and C
 * @N: columns of C
 * @K: the inner dimension
 * @A: [M, K] row-major with leading dimension @lda
 * @lda: leading dimension of A
 * @B: [K, N], or [N, K] when @trans_b
 * @ldb: leading dimension of B
 * @trans_b: whether B is stored transposed (a weight [out, in])
 * @C: [M, N] output with leading dimension @ldc
 * @ldc: leading dimension of C
 * @accumulate: add to C instead of overwriting it
 */
void
vlm_sgemm (gint64 M, gint64 N, gint64 K, const float *A, gint64 lda, const float *B, gint64 ldb,
           gboolean trans_b, float *C, gint64 ldc, gboolean accumulate)
{
  GemmJob j = { M, N, K, lda, ldb, ldc, A, B, C, trans_b, accumulate, N >= M };
  if (M <= 0 || N <= 0)
    return;
  vlm_blas_setup ();
  if (K <= 0) {
    for (gint64 i = 0; i < M && !accumulate; i++)
      for (gint64 c = 0; c < N; c++)
        C[i * ldc + c] = 0;
    return;
  }
  /* Small products are not worth waking the pool for. */
  gint64 grain = (double) M * N * K < 4e6 ? G_MAXINT64 : 64;
  vlm_parallel_for (j.split_n ? N : M, grain, gemm_range, &j);
}
