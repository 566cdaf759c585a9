/* Layers of the CPU engine. Tensors are float32, one image at a time, (C, H, W) row-major;
 * a batch is a loop over images. Every layer has a *_forward and a *_backward (but WCT, forward only).
 * Backward conventions: dx is OVERWRITTEN (not accumulated); parameter gradients (dw, db) are
 * ACCUMULATED (+=) so a batch loop sums them; any gradient pointer may be NULL to skip it.
 * Layers are multithreaded internally with OpenMP (the GEMM runs single-threaded inside each
 * worker, so there is one pool of threads, never two fighting for the cores); none allocates:
 * scratch memory is passed in as `ws`, sized by the matching *_workspace function. */
#ifndef IMPASTO_NN_H
#define IMPASTO_NN_H

#include <stddef.h>
#include <stdint.h>

/* PAD_REPLICATE (edge pixels repeated) is used inside conv_winograd.c only: reflection padding of
 * a x2 nearest-upsampled map is replication on the small one. */
typedef enum { PAD_ZERO = 0, PAD_REFLECT, PAD_REPLICATE } pad_mode;

/* ---- conv2d.c --------------------------------------------------------------------------- */
typedef struct conv2d_desc {
    int c, h, w;       /* input channels, height, width */
    int oc, kh, kw;    /* output channels, kernel size */
    int stride;        /* same in both directions */
    int pad;           /* same on all four sides */
    pad_mode padding;
    int threads;       /* workers the conv may use (<= 1: the calling thread only); the
                        * workspace is sized for them, so keep it fixed once ws is allocated */
} conv2d_desc;

int conv2d_out_h(const conv2d_desc *d);
int conv2d_out_w(const conv2d_desc *d);
/* Floats of scratch that conv2d_forward/backward need (the same for both). Bounded
 * (the im2col matrix is built a band of output rows at a time, one band per thread), not
 * proportional to H*W. */
size_t conv2d_workspace(const conv2d_desc *d);
/* x (C,H,W), w (OC,C,KH,KW), b (OC) or NULL -> y (OC,OH,OW); relu != 0 fuses y = max(y, 0). */
void conv2d_forward(const conv2d_desc *d, const float *x, const float *w, const float *b,
                    float *y, int relu, float *ws);
/* dy (OC,OH,OW) -> dx (C,H,W) overwritten; dw (OC,C,KH,KW), db (OC) accumulated.
 * x is needed only for dw (may be NULL when dw is NULL). */
void conv2d_backward(const conv2d_desc *d, const float *x, const float *w, const float *dy,
                     float *dx, float *dw, float *db, float *ws);

/* ---- conv_direct.c ---------------------------------------------------------------------- */
/* Direct convolution (no column matrix), forward only, stride 1 or 2 with "same" padding (odd
 * square kernel up to 15, pad = k/2), so OH = ceil(H / stride). d describes the convolution on the
 * x`up` nearest-upsampled input (d->h and d->w multiples of up): x is the SMALL map
 * (C, H/up, W/up), upsampled on the fly. w (OC,C,K,K), b (OC) or NULL -> y (OC,OH,OW). */
int conv2d_direct_supported(const conv2d_desc *d);
size_t conv2d_direct_workspace(const conv2d_desc *d);
void conv2d_direct_forward(const conv2d_desc *d, int up, const float *x, const float *w, const float *b,
                           float *y, float *ws);
/* For tests and benchmarks: "auto", "avx2" or "portable", process-wide; returns -1 (path
 * unchanged) for an unknown name or one the CPU cannot run. Not thread-safe against convs running. */
int conv2d_direct_set_path(const char *name);

/* ---- conv_winograd.c -------------------------------------------------------------------- */
/* The same for 3x3, stride 1, pad 1 by Winograd's F(4x4, 3x3): 4 times fewer multiplies,
 * through 36 GEMMs per band of rows. Same arguments as conv2d_direct_forward; with up = 2 it runs
 * on the small map as a sub-pixel convolution (conv_winograd.c), and the workspace depends on up. */
int conv2d_winograd_supported(const conv2d_desc *d);
size_t conv2d_winograd_workspace(const conv2d_desc *d, int up);
void conv2d_winograd_forward(const conv2d_desc *d, int up, const float *x, const float *w, const float *b,
                             float *y, float *ws);
/* The same with relu != 0 fusing y = max(y, 0) into the output transform. */
void conv2d_winograd_forward_relu(const conv2d_desc *d, int up, const float *x, const float *w, const float *b,
                                  float *y, int relu, float *ws);
/* Backward-data of a supported ZERO-padded 3x3 convolution d (no upsampling): the input gradient is
 * itself a 3x3 stride-1 pad-1 convolution of dy with every kernel turned by 180 degrees and the
 * channel roles exchanged, dx[c] = sum_o rot180(w[o][c]) * dy[o], run by the same F(4x4, 3x3).
 * w (OC,C,3,3) as for the forward; dy (OC,H,W) -> dx (C,H,W) overwritten. mask (OC,H,W) or NULL:
 * when given, dy counts only where mask > 0 (the backward of a ReLU whose output is mask, fused).
 * The workspace may differ from the forward's; the kernels are transformed on every call. */
int conv2d_winograd_backward_supported(const conv2d_desc *d);
size_t conv2d_winograd_backward_workspace(const conv2d_desc *d);
void conv2d_winograd_backward_data(const conv2d_desc *d, const float *w, const float *dy, const float *mask,
                                   float *dx, float *ws);
/* The kernels transformed once, for layers run many times on one set of weights: uk (floats by
 * conv2d_winograd_kernels_size, 64-byte aligned) receives the forward's (backward = 0) or the
 * backward-data's (1) transformed kernels of w (OC,C,3,3) for d, in the layout of the GEMM path in
 * force; the returned tile height (MR) goes with them. The *_pre variants (no upsampling) then skip
 * the per-call transform, and fall back to it when the path in force has another MR (tests switch
 * paths); w is still passed for that. */
size_t conv2d_winograd_kernels_size(const conv2d_desc *d, int backward);
int conv2d_winograd_transform_kernels(const conv2d_desc *d, int backward, const float *w, float *uk);
void conv2d_winograd_forward_pre(const conv2d_desc *d, const float *x, const float *w, const float *uk, int uk_mr,
                                 const float *b, float *y, int relu, float *ws);
void conv2d_winograd_backward_data_pre(const conv2d_desc *d, const float *w, const float *uk, int uk_mr,
                                       const float *dy, const float *mask, float *dx, float *ws);
/* The same with the ReLU's mask as a bitmap (bitmap layout below, OC planes of H*W bits): dy counts
 * only where the bit is set. */
void conv2d_winograd_backward_data_bits(const conv2d_desc *d, const float *w, const float *uk, int uk_mr,
                                        const float *dy, const uint64_t *mask_bits, float *dx, float *ws);

/* ---- bitmaps ---------------------------------------------------------------------------- */
/* A backward pass needs only one bit of most forward outputs (is this ReLU output positive? is this
 * input its pooling window's maximum?), so training-free passes that must remember them (Gatys'
 * optimisation) keep bitmaps instead of float maps, 32 times smaller. A bitmap of a (C, HW) tensor
 * gives each channel its own run of bitmap_plane_words(HW) 64-bit words (bit k of channel c is bit
 * k % 64 of word c * plane + k / 64), so layers that split the work by channel never share a word. */
static inline size_t bitmap_plane_words(size_t hw) { return (hw + 63) / 64; }
static inline int bitmap_get(const uint64_t *plane, size_t k) { return (int)(plane[k >> 6] >> (k & 63)) & 1; }
/* bitmap.c. Bits k0 .. k0 + n - 1 of one plane, against n floats:
 * dst[i] = src[i] where bit k0 + i is set, else 0 (dst == src allowed); */
void bitmap_select(const uint64_t *plane, size_t k0, size_t n, const float *src, float *dst);
/* sets bit k0 + i where v[i] > 0, leaving the others as they are (clear the plane first). */
void bitmap_or_positive(const float *v, size_t n, uint64_t *plane, size_t k0);
/* ORs v into bits k .. k + 31 (bit k = v's lowest); v's set bits must lie in the plane. */
void bitmap_or32(uint64_t *plane, size_t k, uint32_t v);

/* ---- relu.c ----------------------------------------------------------------------------- */
/* y = max(x, 0), in place allowed. */
void relu_forward(size_t n, const float *x, float *y);
/* dx = dy where y > 0 else 0, from the forward OUTPUT y; in place (dx == dy) allowed. */
void relu_backward(size_t n, const float *y, const float *dy, float *dx);
/* bits (bitmap of C planes of hw) = y > 0, from the forward output y (C, hw). */
void relu_mask_bits(int c, size_t hw, const float *y, uint64_t *bits);
/* dx = dy where the bit is set else 0 (the ReLU backward from relu_mask_bits); dx == dy allowed. */
void relu_backward_bits(int c, size_t hw, const uint64_t *bits, const float *dy, float *dx);

/* ---- pool.c ----------------------------------------------------------------------------- */
typedef enum { POOL_MAX = 0, POOL_AVG } pool_kind;
typedef struct pool_desc {
    int c, h, w;
    int k, stride, pad;
    int ceil_mode;     /* Caffe/loadcaffe (neural-style) round the output size up */
    pool_kind kind;
} pool_desc;

int pool_out_h(const pool_desc *d);
int pool_out_w(const pool_desc *d);
/* x (C,H,W) -> y (C,OH,OW). Average pooling divides by the number of window cells inside the
 * padded input (PyTorch's count_include_pad=True, windows clipped at the far edge in ceil mode). */
void pool_forward(const pool_desc *d, const float *x, float *y);
/* dy (C,OH,OW) -> dx (C,H,W) overwritten. Max pooling routes each gradient to the first maximum
 * of its window (recomputed from x), as PyTorch does. */
void pool_backward(const pool_desc *d, const float *x, const float *dy, float *dx);
/* Max pooling that remembers its choices: pool_forward, and route (bitmap of C planes of H*W,
 * overwritten) marks each window's first maximum — the cell pool_backward would route to. For
 * windows that do not overlap (k <= stride, pool_route_supported), so that one bit per input cell
 * says where its window's gradient goes: pool_backward_route then needs neither x nor its 32
 * times larger float map. */
int pool_route_supported(const pool_desc *d);
void pool_forward_route(const pool_desc *d, const float *x, float *y, uint64_t *route);
void pool_backward_route(const pool_desc *d, const uint64_t *route, const float *dy, float *dx);

/* ---- norm.c ----------------------------------------------------------------------------- */
/* Instance normalisation (Ulyanov et al. 2016): x (C, HW) -> y (C, HW), each channel normalised
 * over its HW pixels (biased variance), then y = gamma * xhat + beta; gamma, beta (C) or NULL
 * (1 and 0). relu != 0 fuses y = max(y, 0). mean, invstd (C) receive the statistics the backward
 * pass needs (either may be NULL). y == x allowed. */
void instance_norm_forward(int c, size_t hw, const float *x, const float *gamma, const float *beta,
                           float eps, float *y, float *mean, float *invstd, int relu, int threads);
/* The moments both norms start from: *s1 = sum of (x[i] - shift), *s2 = sum of (x[i] - shift)^2
 * over n values, in float chunks of 512 (vectorised) summed in double. */
void norm_sums(const float *x, size_t n, float shift, double *s1, double *s2);
/* Forward only, for residual blocks: r (C, HW) += the instance norm of x (C, HW) (no ReLU), in
 * one pass over r; the statistics are not kept. */
void instance_norm_add_forward(int c, size_t hw, const float *x, const float *gamma, const float *beta, float eps,
                               float *r, int threads);
/* dy (C, HW) -> dx (C, HW) overwritten (dx == dy allowed; dx may be NULL); dgamma, dbeta (C)
 * accumulated. x, mean and invstd are the forward's input and statistics. relu_y: NULL, or the
 * output of a forward with relu != 0, when dy is the gradient at the ReLU's output: the ReLU's
 * backward is applied first, as relu_backward(relu_y) would (the same numbers, one pass less). */
void instance_norm_backward(int c, size_t hw, const float *x, const float *gamma, const float *mean,
                            const float *invstd, const float *dy, const float *relu_y, float *dx, float *dgamma,
                            float *dbeta, int threads);

/* ---- upsample.c ------------------------------------------------------------------------- */
/* Nearest-neighbour upsampling by a whole factor s: x (C,H,W) -> y (C,H*s,W*s). */
void upsample_nearest_forward(int c, int h, int w, int s, const float *x, float *y, int threads);
/* dy (C,H*s,W*s) -> dx (C,H,W) overwritten: the sum over each s x s block. */
void upsample_nearest_backward(int c, int h, int w, int s, const float *dy, float *dx, int threads);

/* ---- adain.c ---------------------------------------------------------------------------- */
/* Adaptive instance normalisation (Huang & Belongie 2017, "Arbitrary Style Transfer in
 * Real-time with Adaptive Instance Normalization", eq. 8), per channel over the n = H*W
 * positions, with the moments as naoto0804/pytorch-AdaIN computes them:
 *   mu(x) = mean,  sigma(x) = sqrt(sum((x - mu)^2) / (n - 1) + eps),  eps = ADAIN_EPS
 * (the unbiased variance; n = 1 counts as variance 0), and
 *   t = sigma(s) * (c - mu(c)) / sigma(c) + mu(s),   t' = alpha * t + (1 - alpha) * c. */
#define ADAIN_EPS 1e-5f

/* x (C, n) -> mean (C), std (C). */
void adain_moments(int c, size_t n, const float *x, float *mean, float *std);
/* content (C, n) with the style's moments s_mean, s_std (C) -> y (C, n); y may alias content. */
void adain_forward(int c, size_t n, const float *content, const float *s_mean, const float *s_std,
                   float alpha, float *y);
/* Gradients of t' through adain_forward, the style given as its features s (C, ns):
 * dy (C, n) -> dc (C, n) and ds (C, ns), both overwritten; either may be NULL. */
void adain_backward(int c, size_t n, const float *content, size_t ns, const float *s, float alpha,
                    const float *dy, float *dc, float *ds);

/* ---- wct.c ------------------------------------------------------------------------------ */
/* The whitening and colouring transform (Li, Fang, Yang, Wang, Lu & Yang, "Universal Style
 * Transfer via Feature Transforms", NIPS 2017, section 2.2), forward only (the method decodes its
 * output and never differentiates through it). With the per-channel means m_c, m_s removed and
 * the covariances fc fc^T / (n_c - 1) = Ec Dc Ec^T, fs fs^T / (n_s - 1) = Es Ds Es^T:
 *   whiten (eq. 2)   f^_c = Ec Dc^-1/2 Ec^T (f_c - m_c)
 *   colour (eq. 3)   f^_cs = Es Ds^1/2 Es^T f^_c + m_s
 *   blend            y = alpha f^_cs + (1 - alpha) f_c
 * Eigenvalues below WCT_EIG_EPS and their vectors are dropped from both factorisations, as the
 * authors' Torch code does (it stops at the first singular value < 1e-5). The covariances and
 * their eigendecomposition (LAPACK dsyevd) are computed in double. */
#define WCT_EIG_EPS 1e-5

/* Doubles of scratch wct_forward needs for c channels and nc, ns positions (0 on overflow). */
size_t wct_workspace(int c, size_t nc, size_t ns);
/* content (C, nc), style (C, ns) -> y (C, nc); y must not alias content. nc, ns >= 2.
 * Returns 0, or the LAPACK info (non-zero) when the eigendecomposition did not converge. */
int wct_forward(int c, size_t nc, const float *content, size_t ns, const float *style, float alpha,
                float *y, double *ws);
/* The same in parts, for statistics gathered over tiles of an image. With a shift K (C) near the
 * data (e.g. the first tile's mean): x (C, n) -> s1 (C) += sum_i (x_i - K) and the upper
 * triangle of s2 (C, C) += sum_i (x_i - K)(x_i - K)^T; xd is (C, n) doubles of scratch. */
void wct_accumulate(int c, size_t n, const float *x, const double *shift, double *s1, double *s2, double *xd);
/* After n >= 2 positions in all: mean (C) = K + s1 / n, and s2 becomes the covariance
 * (s2 - s1 s1^T / n) / (n - 1), both triangles. */
void wct_moments(int c, size_t n, const double *shift, const double *s1, double *s2, double *mean);
/* Doubles of scratch wct_build needs (0 for a bad c). */
size_t wct_build_workspace(int c);
/* The whole transform from the means mc, ms (C) and covariances cov_c, cov_s (C, C) (not
 * modified): t (C, C) = K W and b (C) = m_s - T m_c, in float. 0 or the LAPACK info. */
int wct_build(int c, const double *mc, const double *cov_c, const double *ms, const double *cov_s, float *t, float *b,
              double *ws);
/* x (C, n) -> y (C, n) = alpha (t x + b) + (1 - alpha) x; y must not alias x. */
void wct_apply(int c, size_t n, const float *x, const float *t, const float *b, float alpha, float *y);

/* ---- attention.c ------------------------------------------------------------------------ */
/* Softmax attention of nq queries over nk keys, computed in blocks of kblock keys (0: all at
 * once) with a streaming softmax (a running maximum and sum per query), so the nq x nk score
 * matrix is never held whole (nq x kblock floats of it at a time):
 *   out_i = sum_j softmax_j(inv_t <q_i, k_j> + bias_j) v_j
 * q (d, nq) with row stride ldq (query i is column i), k (d, nk) with ldk, v (dv, nk) with ldv,
 * bias (nk) or NULL (-INFINITY excludes a key; a query whose keys are all excluded gets 0),
 * out (nq, dv) row-major. hard = 1: out_i = v_j of the largest score instead (the first of
 * equals), the limit of inv_t -> infinity. Returns 0, or -1 when out of memory. */
int attention_forward(size_t nq, size_t d, const float *q, size_t ldq, size_t nk, const float *k, size_t ldk,
                      size_t dv, const float *v, size_t ldv, const float *bias, float inv_t, int hard, size_t kblock,
                      float *out);

/* ---- conv_transpose.c ------------------------------------------------------------------- */
/* Transposed convolution (PyTorch's ConvTranspose2d, "fractionally strided"), as the gradient of
 * a convolution with respect to its input: x (C,H,W) -> y (OC,OH,OW) with
 *   OH = (H - 1) * stride - 2 * pad + k + out_pad   (the same for OW),
 * zero padding only, 0 <= out_pad < stride. The weight is PyTorch's layout w (C, OC, K, K) (input
 * channels first), which is exactly the weight of the convolution (OC,OH,OW) -> (C,H,W) that this
 * layer transposes; so the forward is that convolution's backward-data, the data gradient its
 * forward, and the weight gradient its weight gradient with x and dy exchanged. */
typedef struct convt_desc {
    int c, h, w;        /* input channels, height, width */
    int oc, k;          /* output channels, square kernel size */
    int stride, pad, out_pad;
    int threads;        /* as conv2d_desc's */
} convt_desc;

int convt_out_h(const convt_desc *d);
int convt_out_w(const convt_desc *d);
/* Floats of scratch convt_forward/backward need (the same for both). */
size_t convt_workspace(const convt_desc *d);
/* x (C,H,W), w (C,OC,K,K), b (OC) or NULL -> y (OC,OH,OW). */
void convt_forward(const convt_desc *d, const float *x, const float *w, const float *b, float *y, float *ws);
/* dy (OC,OH,OW) -> dx (C,H,W) overwritten (may be NULL); dw (C,OC,K,K), db (OC) accumulated (either
 * may be NULL). x is needed only for dw. */
void convt_backward(const convt_desc *d, const float *x, const float *w, const float *dy, float *dx, float *dw,
                    float *db, float *ws);

/* ---- batch_norm.c ----------------------------------------------------------------------- */
/* Batch normalisation (Ioffe & Szegedy 2015) of n images x (N, C, HW): each channel normalised
 * over its N*HW values, y = gamma * xhat + beta (gamma, beta (C) or NULL: 1 and 0), as PyTorch's
 * BatchNorm2d. Training mode uses the batch's statistics (biased variance) and moves the running
 * ones: running_mean = (1 - momentum) running_mean + momentum mean, running_var likewise with the
 * UNBIASED variance (N*HW / (N*HW - 1) times the biased one); either running array may be NULL.
 * mean, invstd (C) receive the batch statistics for the backward pass (either may be NULL).
 * y == x allowed. With batch size 1, as pix2pix trains, this is an instance norm that also keeps
 * running statistics. */
void batch_norm_forward_train(int n, int c, size_t hw, const float *x, const float *gamma, const float *beta,
                              float eps, float momentum, float *y, float *mean, float *invstd,
                              float *running_mean, float *running_var, int threads);
/* Evaluation mode: y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta. */
void batch_norm_forward_eval(int n, int c, size_t hw, const float *x, const float *gamma, const float *beta,
                             const float *running_mean, const float *running_var, float eps, float *y,
                             int threads);
/* Training-mode backward from the forward's x and statistics: dy (N,C,HW) -> dx (N,C,HW)
 * overwritten (dx == dy allowed; may be NULL); dgamma, dbeta (C) accumulated (may be NULL). */
void batch_norm_backward_train(int n, int c, size_t hw, const float *x, const float *gamma, const float *mean,
                               const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta,
                               int threads);
/* Evaluation-mode backward (the statistics are constants): dx = dy * gamma / sqrt(running_var +
 * eps); dgamma += sum dy * xhat, dbeta += sum dy. */
void batch_norm_backward_eval(int n, int c, size_t hw, const float *x, const float *gamma,
                              const float *running_mean, const float *running_var, float eps, const float *dy,
                              float *dx, float *dgamma, float *dbeta, int threads);

/* ---- leaky_relu.c ----------------------------------------------------------------------- */
/* y = x > 0 ? x : slope * x (0 < slope < 1; in place allowed). */
void leaky_relu_forward(size_t n, float slope, const float *x, float *y);
/* dx = dy where y > 0 else slope * dy, from the forward OUTPUT y (its sign is the input's);
 * dx == dy allowed. */
void leaky_relu_backward(size_t n, float slope, const float *y, const float *dy, float *dx);

/* ---- tanh.c ----------------------------------------------------------------------------- */
/* y = tanh(x) (in place allowed); dx = dy * (1 - y^2) from the forward OUTPUT y (dx == dy allowed). */
void tanh_forward(size_t n, const float *x, float *y);
void tanh_backward(size_t n, const float *y, const float *dy, float *dx);

/* ---- dropout.c -------------------------------------------------------------------------- */
/* Inverted dropout (Srivastava et al. 2014, as PyTorch's nn.Dropout in training mode): each value
 * kept with probability 1 - p and scaled by 1 / (1 - p), else 0. The kept positions are a bitmap
 * (bitmap_plane_words(n) words, bit i = value i kept), drawn by dropout_mask from the caller's
 * core/rng.h state, so the backward pass and a resumed run see the same mask. 0 <= p < 1. */
void dropout_mask(size_t n, float p, uint64_t *rng_state, uint64_t *keep);
/* y = x * keep / (1 - p); in place allowed. dx = dy * keep / (1 - p); dx == dy allowed. */
void dropout_forward(size_t n, float p, const uint64_t *keep, const float *x, float *y);
void dropout_backward(size_t n, float p, const uint64_t *keep, const float *dy, float *dx);

/* ---- pad.c ------------------------------------------------------------------------------ */
/* Padding by `pad` on all four sides: x (C,H,W) -> y (C,H+2pad,W+2pad), PAD_ZERO or PAD_REFLECT
 * (PyTorch's ReflectionPad2d: the edge pixel is not repeated, so pad < H and pad < W).
 * The backward sums each padded cell's gradient into the pixel it copied: dy -> dx overwritten. */
void pad_forward(int c, int h, int w, int pad, pad_mode mode, const float *x, float *y);
void pad_backward(int c, int h, int w, int pad, pad_mode mode, const float *dy, float *dx);

/* ---- concat.c --------------------------------------------------------------------------- */
/* Channel concatenation (U-Net's skips): a (CA, HW), b (CB, HW) -> y (CA + CB, HW); the backward
 * splits dy (CA + CB, HW) into da (CA, HW) and db (CB, HW), ACCUMULATED (+=, since the inputs of a
 * skip are read by other layers too); either may be NULL. */
void concat_forward(int ca, int cb, size_t hw, const float *a, const float *b, float *y);
void concat_backward(int ca, int cb, size_t hw, const float *dy, float *da, float *db);

#endif
