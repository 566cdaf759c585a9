/* impasto — neural image style transfer on the CPU.
 *
 * The one public header of libimpasto. Every call takes a context (impasto_ctx) that owns the
 * settings (threads, limits) and the last error message; calls return an impasto_status and never
 * exit, abort or print. Handles are opaque; every *_free accepts NULL.
 *
 * Images are float32, interleaved (H, W, C) with C = 1 (gray), 2 (gray+alpha), 3 (RGB) or
 * 4 (RGBA), values 0..1.
 *
 * ABI policy: there is no ABI promise before 1.0. Any 0.x release may change the binary
 * interface; above all, the options structs (impasto_transfer_options and the others) may grow
 * new fields. So: always fill an options struct with its *_options_init function before setting
 * the fields you want (never a struct literal or a memset alone), and rebuild your program
 * against each new release. The shared library's SONAME stays libimpasto.so.0 through all of
 * 0.x, so the system will load a newer 0.x library under an older program: that is exactly the
 * case this policy says to avoid. From 1.0 on, the SONAME's major number will change whenever
 * the ABI breaks. Only impasto_* symbols are exported, from libimpasto.so and libimpasto.a alike.
 */
#ifndef IMPASTO_H
#define IMPASTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header. The Makefile reads the three numbers from here (the shared
 * library's file name and SONAME); IMPASTO_VERSION is made from them ("0.1.0"), so the numbers
 * and the string cannot disagree. */
#define IMPASTO_VERSION_MAJOR 0
#define IMPASTO_VERSION_MINOR 1
#define IMPASTO_VERSION_PATCH 0
#define IMPASTO_VERSION_STR_(n) #n
#define IMPASTO_VERSION_XSTR_(n) IMPASTO_VERSION_STR_(n)
#define IMPASTO_VERSION                                                                         \
    IMPASTO_VERSION_XSTR_(IMPASTO_VERSION_MAJOR) "." IMPASTO_VERSION_XSTR_(IMPASTO_VERSION_MINOR) \
    "." IMPASTO_VERSION_XSTR_(IMPASTO_VERSION_PATCH)

typedef enum impasto_status {
    IMPASTO_OK = 0,
    IMPASTO_ERR_INVALID_ARG,  /* a bad argument or option value */
    IMPASTO_ERR_IO,           /* a file could not be opened, read or written, or is not a regular
                                 file (a FIFO, device or folder: refused at once, never waited on) */
    IMPASTO_ERR_FORMAT,       /* a file is corrupt, truncated or not of the expected format */
    IMPASTO_ERR_TOO_LARGE,    /* an image or tensor exceeds a limit (see impasto_ctx_set_max_pixels) */
    IMPASTO_ERR_NOMEM,        /* out of memory */
    IMPASTO_ERR_UNSUPPORTED,  /* a valid file using a feature impasto does not support */
    IMPASTO_ERR_CHECKSUM,     /* a file's checksum does not match its manifest */
    IMPASTO_ERR_CANCELLED,    /* the progress callback asked to stop */
    IMPASTO_ERR_NOT_FINITE    /* a loss, feature or output value became NaN or infinite (a model
                                 whose weights overflow float, or weights too large for the input) */
} impasto_status;

/* A short fixed description of a status ("corrupt or unsupported file", ...). */
const char *impasto_status_string(impasto_status s);

/* The version of the library that is running, "MAJOR.MINOR.PATCH". It is the IMPASTO_VERSION the
 * library was built with, which may differ from the one the calling program was compiled
 * against when that program runs with a newer (or older) libimpasto.so (see the ABI policy at
 * the top). */
const char *impasto_version(void);

/* Frees memory the library allocated and handed to the caller (impasto_image_save_memory's
 * buffer). Use it rather than free(): the caller's and the library's allocators may differ (a
 * program using its own malloc, or another C runtime). NULL is ignored. */
void impasto_free(void *p);

/* ---- context ---------------------------------------------------------------------------- */

typedef struct impasto_ctx impasto_ctx;

/* Returns NULL only when out of memory. Defaults: all cores, max_pixels 100 million. */
impasto_ctx *impasto_ctx_create(void);
void impasto_ctx_free(impasto_ctx *ctx);
/* The message of the last failed call on this context ("" if none). Valid until the next call. */
const char *impasto_ctx_error(const impasto_ctx *ctx);
/* Number of worker threads (0 = one per core). */
void impasto_ctx_set_threads(impasto_ctx *ctx, int nthreads);
int impasto_ctx_threads(const impasto_ctx *ctx);
/* Largest image (width*height) any decoder or resize will accept. */
void impasto_ctx_set_max_pixels(impasto_ctx *ctx, size_t max_pixels);
size_t impasto_ctx_max_pixels(const impasto_ctx *ctx);

/* The longest image side any method accepts (image and content/style sizes, in pixels). */
#define IMPASTO_MAX_SIDE 16384
/* A new context's pixel limit (impasto_ctx_set_max_pixels): width * height of any image decoded,
 * resized or made. */
#define IMPASTO_DEFAULT_MAX_PIXELS ((size_t)100 * 1000 * 1000)

/* ---- images ----------------------------------------------------------------------------- */

typedef struct impasto_image impasto_image;

impasto_status impasto_image_create(impasto_ctx *ctx, int width, int height, int channels,
                                    impasto_image **out);
void impasto_image_free(impasto_image *img);
int impasto_image_width(const impasto_image *img);
int impasto_image_height(const impasto_image *img);
int impasto_image_channels(const impasto_image *img);
/* Pixels (H, W, C), row-major, values 0..1. */
float *impasto_image_data(impasto_image *img);
const float *impasto_image_cdata(const impasto_image *img);

/* PNG (8/16-bit, gray/RGB, with or without alpha, palette) or JPEG (EXIF orientation applied).
 * The format is detected from the file's bytes, not its name. */
impasto_status impasto_image_load(impasto_ctx *ctx, const char *path, impasto_image **out);
/* PNG or JPEG chosen by the extension (.png, .jpg, .jpeg); quality is for JPEG (1..100, 0 = 95).
 * PNG is 8-bit with the image's channels; JPEG has no alpha, so alpha is composited over white.
 * Written to a temporary file in the same folder and renamed over `path`, so a failure never
 * leaves a half-written file in place of an existing one. */
impasto_status impasto_image_save(impasto_ctx *ctx, const impasto_image *img, const char *path,
                                  int quality);
/* impasto_image_load from `size` bytes in memory (a whole PNG or JPEG file, detected from the
 * bytes), with the same pixel limit and EXIF orientation. Damaged, truncated or empty data
 * (size 0) is IMPASTO_ERR_FORMAT; data NULL is IMPASTO_ERR_INVALID_ARG. The bytes are only read
 * during the call. */
impasto_status impasto_image_load_memory(impasto_ctx *ctx, const void *data, size_t size,
                                         impasto_image **out);
/* impasto_image_save into memory: `format` is "png" or "jpeg" (also "jpg"; any letter case),
 * quality and encoding as impasto_image_save. On success *data is a new buffer of *size bytes,
 * to be released with impasto_free; on failure *data is NULL and *size 0. */
impasto_status impasto_image_save_memory(impasto_ctx *ctx, const impasto_image *img,
                                         const char *format, int quality, void **data,
                                         size_t *size);
/* Area-averaging when shrinking, bicubic (Catmull-Rom) when enlarging; alpha is resized with the
 * colour channels premultiplied so transparent pixels do not bleed their colour. */
impasto_status impasto_image_resize(impasto_ctx *ctx, const impasto_image *src, int width,
                                    int height, impasto_image **out);
/* Resize so the longer side is `max_side` (aspect kept). */
impasto_status impasto_image_resize_max_side(impasto_ctx *ctx, const impasto_image *src,
                                             int max_side, impasto_image **out);

/* ---- models ------------------------------------------------------------------------------ */

typedef struct impasto_model impasto_model;

/* Loads a converted model (safetensors written by `impasto convert`). Every float tensor is checked
 * as it is read: NaN or infinite weights are IMPASTO_ERR_FORMAT, the message naming the file and
 * the tensor (so for impasto_fast_load and training checkpoints). */
impasto_status impasto_model_load(impasto_ctx *ctx, const char *path, impasto_model **out);
void impasto_model_free(impasto_model *model);
/* "vgg19", ... */
const char *impasto_model_kind(const impasto_model *model);

/* Converts the upstream VGG-19 files to impasto's safetensors. `dirs` may hold the exact float32
 * tfjs head (model.json + shards) and/or the uint8 manifest (manifest.json + one file per tensor);
 * every md5 in the manifest is verified, float32 is preferred where both exist and the two are
 * checked to agree within one quantisation step. */
impasto_status impasto_convert_vgg19(impasto_ctx *ctx, const char *const *dirs, size_t ndirs,
                                     const char *out_path);

/* Converts the AdaIN encoder/decoder TensorFlow graphs in `dir` (encoder_opt_quantized.pb,
 * decoder_opt_quantized.pb; see docs/models.md) to impasto's safetensors (kind "adain"), the
 * quint8 kernels dequantised exactly as TensorFlow's Dequantize (MIN_FIRST) does. */
impasto_status impasto_convert_adain(impasto_ctx *ctx, const char *dir, const char *out_path);
/* Converts the LinearStyleTransfer relu3_1 encoder/decoder graphs in `dir` (vgg_31_opt.pb,
 * decoder_31_opt.pb) to safetensors (kind "lst-r31"; impasto_wct's relu3_1 level). */
impasto_status impasto_convert_lst_r31(impasto_ctx *ctx, const char *dir, const char *out_path);
/* Converts a fast-neural-style network from ncnn's files (a binary param, e.g.
 * transformernet.param.bin, and one style's weights, e.g. candy.bin; docs/models.md says where to
 * get them) to impasto's safetensors, with the tensor names of the PyTorch examples'
 * TransformerNet state_dict (so PyTorch can load the file too). The param's layer list is checked
 * against TransformerNet's, and the weights must fill the file exactly. */
impasto_status impasto_convert_ncnn_transformernet(impasto_ctx *ctx, const char *param_path,
                                                   const char *bin_path, const char *out_path);
/* Converts PyTorch checkpoints (torch.save's zip files, and the legacy pickle files of PyTorch
 * before 1.6) of a known architecture to impasto's safetensors, without Python: a restricted
 * unpickler reads only what a state_dict holds (dicts, tensors, storages) and refuses anything
 * else (a pickled class or function, os.system, ...) with IMPASTO_ERR_UNSUPPORTED; nothing in the
 * file is ever run. Every tensor name and shape is checked against the architecture. `arch`:
 *   "transformernet"  one checkpoint of the PyTorch examples' fast_neural_style TransformerNet
 *                     (candy.pth, ...; the InstanceNorm running_mean/var entries of old files are
 *                     dropped, as the example does) -> kind "transformernet", for impasto_fast_load;
 *   "adain"           two checkpoints of naoto0804/pytorch-AdaIN, vgg_normalised.pth and
 *                     decoder.pth in either order ("adain-decoder" is the same) -> kind "adain",
 *                     the encoder cut after relu4_1;
 *   "resnet_9blocks", "resnet_6blocks", "unet_256", "unet_128"  (or any resnet_<n>blocks, unet_<2^k>)
 *                     a generator of junyanz/pytorch-CycleGAN-and-pix2pix (latest_net_G.pth, its
 *                     G_A/G_B, or a pix2pix G), its width (ngf), norm and dropout read from the
 *                     tensors -> kind "gan-generator", for impasto_gan_load (running statistics of
 *                     instance norms in old files are dropped, as the reference's loader does; a
 *                     U-Net's dropout, which no tensor shows, is recorded as on, as pix2pix runs it);
 *   "auto"            one such generator, its family and depth read from the tensor names too.
 * A checkpoint that keeps its state_dict under 'state_dict' or 'model' is read too. */
impasto_status impasto_convert_pth(impasto_ctx *ctx, const char *const *paths, size_t npaths,
                                   const char *arch, const char *out_path);

/* ---- Gatys et al. optimisation (neural-style) -------------------------------------------- */

typedef enum { IMPASTO_INIT_RANDOM = 0, IMPASTO_INIT_IMAGE } impasto_init;
typedef enum { IMPASTO_OPTIM_LBFGS = 0, IMPASTO_OPTIM_ADAM } impasto_optimizer;
typedef enum { IMPASTO_POOL_MAX = 0, IMPASTO_POOL_AVG } impasto_pooling;

typedef struct impasto_progress {
    int scale_index, num_scales;  /* which of the --scales is running */
    int width, height;            /* image size at this scale */
    int iteration, num_iterations;
    double loss, content_loss, style_loss, tv_loss;
    double seconds;               /* since the transfer started */
    /* Set on the iterations where save_iter asks for an intermediate image (else NULL):
     * the current picture, valid only during the callback. */
    const impasto_image *image;
    int num_tiles;                /* tiles of this scale (1: untiled) */
    int lbfgs_history;            /* the L-BFGS history in force at this scale (0 with Adam) */
    int tile_done, tile_runs;     /* 0 on the calls after each iteration; during an evaluation
                                     of a tiled run, tile runs done so far and in all (exact
                                     tiling runs each tile twice); these calls may cancel too */
} impasto_progress;

/* Called once per iteration; return non-zero to cancel (the transfer returns IMPASTO_ERR_CANCELLED
 * and *out holds the latest picture). */
typedef int (*impasto_progress_fn)(const impasto_progress *p, void *user);

#define IMPASTO_MAX_LAYERS 16
#define IMPASTO_MAX_SCALES 8

typedef enum { IMPASTO_TILING_EXACT = 0, IMPASTO_TILING_RANDOM } impasto_tiling;

typedef struct impasto_transfer_options {
    double content_weight;              /* 5 */
    double style_weight;                /* 100 */
    double tv_weight;                   /* 1e-3 */
    int num_iterations;                 /* 1000 (per scale) */
    impasto_init init;                  /* random */
    const impasto_image *init_image;    /* with IMPASTO_INIT_IMAGE: NULL = the content image */
    int64_t seed;                       /* -1 = from the clock */
    impasto_optimizer optimizer;        /* lbfgs */
    double learning_rate;               /* 10 (Adam's step; L-BFGS's step multiplier is 1) */
    int lbfgs_history;                  /* 100 */
    int lbfgs_line_search;              /* 0 = none (neural-style), 1 = strong Wolfe */
    int image_size;                     /* 512: longest side of the output */
    double style_scale;                 /* 1.0: style images are resized to image_size*style_scale */
    const double *style_blend_weights;  /* NULL = equal; else one per style, normalised to sum 1 */
    impasto_pooling pooling;            /* max */
    const char *content_layers;         /* "relu4_2" */
    const char *style_layers;           /* "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1" */
    const double *style_layer_weights;  /* NULL = 1 each; else one per style layer */
    int original_colors;                /* 0: keep the output's colours; 1: the content's */
    int normalize_gradients;            /* 0 */
    int save_iter;                      /* 100: every N iterations progress->image is set (0 = never) */
    int num_scales;                     /* 0 = single scale at image_size */
    int scales[IMPASTO_MAX_SCALES];     /* coarse-to-fine longest sides, e.g. 256,512,1024 */
    int scale_iterations[IMPASTO_MAX_SCALES]; /* iterations at each scale; 0 = num_iterations */
    impasto_progress_fn progress;       /* NULL = none */
    void *progress_user;
    /* Any picture size in bounded memory (docs/print-size.md). VGG-19 then runs tile by tile
     * with the whole picture's Gram matrices, and the L-BFGS history is counted in the budget. */
    int memory_mb;                      /* 0: no bound (untiled, the history as asked); else the
                                           working memory in MB (besides the pictures themselves)
                                           each scale keeps to: untiled when it fits, else tiles,
                                           and a shorter L-BFGS history when the asked one does not
                                           fit (IMPASTO_ERR_INVALID_ARG, naming the least budget
                                           that would do, when nothing fits) */
    int tile;                           /* -1: automatic (by memory_mb); 0: never tile; N: interior
                                           tiles of N x N pixels (a multiple of 16, >= 32) */
    impasto_tiling tiling;              /* exact: the gradient of the whole picture (halos as wide
                                           as the deepest layer's receptive field, two passes);
                                           random: no halo, tiles at a random offset each
                                           iteration, each tile's own Gram matrices (approximate) */
    /* Video (docs/video.md): Ruder, Dosovitskiy & Brox's short-term temporal loss (GCPR 2016, eq. 7),
     * temporal_weight * mean over pixels and channels of c (x - w)^2 in VGG's 0..255 space, w the
     * previous stylised frame warped onto this one, c its per-pixel weights. Each scale gets both
     * resized to its size. Untiled only (a run that would tile is refused). */
    const impasto_image *temporal_target;  /* NULL: no temporal loss; else RGB */
    const impasto_image *temporal_mask;    /* NULL: c = 1 everywhere; else c from its first channel
                                              (0 at occlusions and motion boundaries, 1 elsewhere) */
    double temporal_weight;                /* 1e3, Ruder et al.'s default */
    /* Spatial control (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style
     * Transfer": guided Gram matrices; docs/transfer-mask.md): region k of the picture takes style
     * k's Gram matrices alone (the whole painting's), its own guided Gram matrices matched against
     * them. Not with style_blend_weights. Tiled runs keep it (exact tiling: the same gradient). */
    const impasto_image *mask;          /* NULL; else as impasto_adain_options.mask: each distinct gray
                                           level (RGB averaged, 8-bit) is a region, darkest first,
                                           nstyles must equal the number of levels; stretched over
                                           the content */
    const impasto_image *const *style_masks; /* NULL; else nstyles soft masks: the gray value of
                                           style_masks[k] (0 black .. 1 white) is region k's weight
                                           at each pixel, any values (regions may overlap or fade);
                                           each stretched over the content. Not with mask */
} impasto_transfer_options;

void impasto_transfer_options_init(impasto_transfer_options *opt);

/* Repaints `content` in the style of `styles` (nstyles >= 1) with VGG-19 (`vgg`). On success and on
 * IMPASTO_ERR_CANCELLED, *out is a new RGB image (alpha of the content carried over if it has one).
 * Refused before any work (IMPASTO_ERR_INVALID_ARG): empty content or style layer lists, and a
 * content or style image that, at the size it runs at on any scale, has a side below the deepest
 * layer's minimum, 2^k pixels after k poolings (relu3_x 4, relu4_x 8, relu5_x 16). A loss (total
 * or any part) that becomes NaN or infinite stops the run: IMPASTO_ERR_NOT_FINITE, the message
 * naming the iteration and scale, *out NULL. */
impasto_status impasto_transfer(impasto_ctx *ctx, const impasto_model *vgg,
                                const impasto_image *content, const impasto_image *const *styles,
                                size_t nstyles, const impasto_transfer_options *opt,
                                impasto_image **out);

/* ---- progress of the one-pass methods (AdaIN, WCT, fast) -------------------------------------- */

/* Progress of a one-pass method (impasto_adain, impasto_wct, a tiled impasto_fast_stylize). */
typedef struct impasto_pass_progress {
    const char *stage;        /* what was just done: "style", "statistics", "stylize" */
    int level, num_levels;    /* wct: 0 relu4_1, 1 relu3_1; adain: 0 of 1 */
    int done, total;          /* units of work done / in the whole call (styles encoded, tiles of each pass) */
    double seconds;           /* since the call started */
} impasto_pass_progress;
/* Called after each unit of work; non-zero cancels: the call returns IMPASTO_ERR_CANCELLED and *out is NULL.
 * The units: one per style image encoded, one per tile of the statistics pass (the content's
 * features gathered) and one per tile of the stylize pass (encode, transform, decode), at each
 * level; an untiled run is one tile. `total` is the same at every call and `done` counts up to it,
 * reaching it on the last call of a successful run. */
typedef int (*impasto_pass_progress_fn)(const impasto_pass_progress *p, void *user);

/* ---- fast feed-forward style networks (Johnson et al. 2016) ------------------------------ */

/* A pretrained style network (Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time Style
 * Transfer and Super-Resolution", ECCV 2016; the PyTorch examples' TransformerNet): one forward
 * pass repaints a photo in the one style it was trained on. The model keeps the buffers of its
 * last input size, so a stream of frames of one size allocates nothing per frame (with
 * impasto_fast_stylize_into and content_scale 1). Use a model from one thread at a time. */
typedef struct impasto_fast_model impasto_fast_model;

/* Loads a converted network (impasto_convert_ncnn_transformernet). */
impasto_status impasto_fast_load(impasto_ctx *ctx, const char *path, impasto_fast_model **out);
void impasto_fast_free(impasto_fast_model *model);
/* The style's name recorded at conversion ("candy", ...), or "". */
const char *impasto_fast_style(const impasto_fast_model *model);

/* How a tiled fast run gets the whole picture's instance-norm statistics (each of the network's
 * 15 norms needs its channels' mean and deviation over the whole picture). */
typedef enum impasto_fast_stats {
    IMPASTO_FAST_STATS_EXACT = 0,    /* gathered layer by layer over the tiles: before norm i, every
                                        tile runs convolutions 0..i with norms 0..i-1 known, so the
                                        network runs about 8 times over; the result equals the untiled
                                        one up to float rounding */
    IMPASTO_FAST_STATS_ESTIMATE = 1  /* taken from an untiled run on a copy shrunk to stats_side; one
                                        tiled pass; differs from the untiled result (see README) */
} impasto_fast_stats;

typedef struct impasto_fast_options {
    double content_scale;  /* 1.0: the content is shrunk to (width / s, height / s) first (as the
                              PyTorch example's --content-scale; the result has that size) */
    /* Tiling (any size in bounded memory): each tile runs with a halo of pixels around it that is
     * computed and thrown away, and every norm uses the whole picture's statistics (stats). */
    int tile;              /* -1: automatic, untiled when the run fits memory_mb, else the largest
                              tiles that do; 0: never tile; N > 0: N x N tiles (a multiple of 8,
                              >= 32) */
    int tile_halo;         /* -1: exact (64 pixels, past the network's receptive field); else
                              pixels, a multiple of 8 up to 256 */
    int memory_mb;         /* 1536: the working memory tiling keeps to (besides the images) */
    int stats;             /* an impasto_fast_stats: IMPASTO_FAST_STATS_EXACT */
    int stats_side;        /* 1024: the shrunk copy's longer side for IMPASTO_FAST_STATS_ESTIMATE */
    impasto_pass_progress_fn progress;  /* NULL = none; tiled runs report each tile of each pass
                                           ("statistics", "stylize") and stop when it returns
                                           non-zero (IMPASTO_ERR_CANCELLED) */
    void *progress_user;
} impasto_fast_options;

void impasto_fast_options_init(impasto_fast_options *opt);

/* The size impasto_fast_stylize gives a content of width x height: the content's size divided by
 * content_scale (rounded down); IMPASTO_ERR_INVALID_ARG if either side is below 5 pixels. */
impasto_status impasto_fast_output_size(impasto_ctx *ctx, int width, int height,
                                        const impasto_fast_options *opt, int *out_width,
                                        int *out_height);

/* Repaints `content` (opt may be NULL for the defaults). *out is a new RGB image, RGBA when the
 * content has alpha (carried over unchanged); gray content is treated as RGB. The network's output
 * is 0..255 clamped and scaled to 0..1. For sides that are not multiples of 4 the network makes
 * up to 3 extra rows/columns at the bottom/right (as PyTorch's does); they are cropped so the
 * result has the content's size. An output holding NaN or infinite values (checked before the
 * clamp) is IMPASTO_ERR_NOT_FINITE, with no image (and `out` of _into left as it was, but for
 * the tiles of a tiled run written before the one that failed). */
impasto_status impasto_fast_stylize(impasto_ctx *ctx, impasto_fast_model *model,
                                    const impasto_image *content, const impasto_fast_options *opt,
                                    impasto_image **out);
/* The same into an existing image `out` of impasto_fast_output_size and 3 channels, or 4 when
 * the content has alpha. */
impasto_status impasto_fast_stylize_into(impasto_ctx *ctx, impasto_fast_model *model,
                                         const impasto_image *content,
                                         const impasto_fast_options *opt, impasto_image *out);
/* Spatial control: one network per region. Each distinct gray level of `mask` (RGB averaged,
 * 8-bit) is a region, darkest first, repainted by models[k] (nmodels must equal the number of
 * levels); the mask is stretched over the content. Every network runs over the whole picture
 * (tiled as opt says) and the results are blended with each region's indicator smoothed by a
 * tent of `feather` pixels either side of its edges (feather < 0: the longer side / 100, at
 * least 2; 0: hard edges), so the regions' weights sum to 1 everywhere. */
impasto_status impasto_fast_stylize_regions(impasto_ctx *ctx, impasto_fast_model *const *models, size_t nmodels,
                                            const impasto_image *content, const impasto_image *mask,
                                            int feather, const impasto_fast_options *opt, impasto_image **out);

/* ---- AdaIN: arbitrary style transfer in one pass ------------------------------------------ */

/* Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization",
 * ICCV 2017, as naoto0804/pytorch-AdaIN's test.py runs it: the content and each style are encoded
 * to VGG relu4_1 features, the content features take each style's per-channel mean and standard
 * deviation (eq. 8), several styles are interpolated with their weights, the result is blended
 * with the content features by alpha, and the decoder paints the picture. */
typedef struct impasto_adain_options {
    double alpha;                 /* 1.0: 0 decodes the content's own features, 1 the full style */
    const double *style_weights;  /* NULL = equal; else one per style (>= 0), normalised to sum 1 */
    int preserve_color;           /* 0; 1: each style's colours are first matched to the content's
                                     mean and covariance (pytorch-AdaIN's --preserve_color) */
    int content_size;             /* 512: the content's longest side is resized to this (0 = keep) */
    int style_size;               /* 512: the same for each style image (0 = keep) */
    const impasto_image *mask;    /* NULL; else spatial control: each distinct gray level of the mask
                                     (RGB averaged, 8-bit) is a region, darkest first, and region k
                                     takes style k alone (nstyles must equal the number of levels;
                                     no style_weights). The mask is stretched over the content; the
                                     AdaIN moments of the content are computed per region. */
    /* Tiling (any size in bounded memory): the content's moments are taken over the whole image,
     * then the encoder, AdaIN and decoder run tile by tile, each tile with a halo of extra pixels
     * around it that is computed and thrown away, so no seam shows. */
    int tile;                     /* -1: automatic, untiled when the run fits memory_mb, else the
                                     largest tiles that do; 0: never tile; N > 0: tiles of N x N
                                     pixels (a multiple of 8, >= 32) */
    int tile_halo;                /* -1: exact (64 pixels, the network's receptive field: the result
                                     equals the untiled one up to float rounding); else pixels, a
                                     multiple of 8 up to 256 (smaller is faster, see README) */
    int memory_mb;                /* 1536: the working memory automatic tiling keeps to (besides the
                                     images themselves) */
    int crop;                     /* 0; 1: content and styles are resized so their SHORTER side is
                                     content_size / style_size, then centre-cropped to a square of
                                     that side (pytorch-AdaIN's --crop) */
    impasto_pass_progress_fn progress;  /* NULL = none */
    void *progress_user;
    const struct impasto_genes *const *style_genes;  /* NULL; else one per style: a non-NULL entry stands for
                                                 styles[k] (which may then be NULL), its moments used
                                                 as the painting's; no preserve_color with genes */
} impasto_adain_options;

void impasto_adain_options_init(impasto_adain_options *opt);

/* Repaints `content` in the style of `styles` (nstyles >= 1) with a model of kind "adain"
 * (`impasto convert adain`). *out is a new RGB image of the (resized) content's size, with the
 * content's alpha carried over if it has one. Features or a decoded picture holding NaN or
 * infinite values (checked before the clamp to 0..1) are IMPASTO_ERR_NOT_FINITE, *out NULL. */
impasto_status impasto_adain(impasto_ctx *ctx, const impasto_model *adain, const impasto_image *content,
                             const impasto_image *const *styles, size_t nstyles,
                             const impasto_adain_options *opt, impasto_image **out);

/* ---- training fast style networks (Johnson et al. 2016) --------------------------------- */

/* Training as the PyTorch examples' fast_neural_style `train`: a TransformerNet learns to repaint
 * photos in one style by minimising, over batches of photos x,
 *   content_weight * MSE(F_c(y), F_c(x)) + style_weight * sum_l MSE(G_l(y), G_l(s)),  y = net(x),
 * with VGG-19 features F (Caffe preprocessing: RGB 0..255 minus the ImageNet mean, the input the
 * converted weights were trained on) divided by 57.6 (Caffe's input scale over torchvision's, so
 * the example's weights keep their balance), Gram matrices G = F F^T / (C*H*W), and each MSE a
 * mean over its elements and over the batch. Adam (torch/optim's update, see src/optim/adam.c). */

typedef struct impasto_train_progress {
    long step, num_steps;         /* steps done (after this one), steps in the run */
    int epoch;                    /* 0-based epoch of this step */
    double loss, content_loss, style_loss;  /* this step's batch, weighted (loss includes the
                                                adversarial term) */
    double seconds;               /* since this run started */
    const char *checkpoint;       /* the checkpoint written after this step, else NULL */
    /* Every preview_every steps: the preview photo repainted by the network as it is now (valid
     * only during the callback), else NULL. */
    const impasto_image *preview;
    /* With adversarial_weight: the generator's adversarial loss (weighted) and the
     * discriminator's (0.5 (real + fake), mean over the batch); else 0. */
    double adversarial_loss, discriminator_loss;
    /* This process's share (impasto_process_group; else the whole run): the photos it has trained
     * on in this run, and the seconds it spent in the group's sums (0 alone). */
    long images;
    double sum_seconds;
} impasto_train_progress;

/* Called after every step; non-zero cancels: a checkpoint is written (when checkpoint_dir is
 * set) and impasto_train returns IMPASTO_ERR_CANCELLED, its message naming the checkpoint. */
typedef int (*impasto_train_progress_fn)(const impasto_train_progress *p, void *user);

/* Data-parallel training over several processes (the ranks of an MPI job, say). Every process
 * calls impasto_train with the same photos and options; process `rank` of `size` trains on the
 * batch slots b with b % size == rank of every global batch (batch_size photos), and before each
 * update the gradients and losses are summed over the processes, so that every process takes the
 * same step and holds the same weights. Photo order and crops are drawn per step and per slot from
 * the seed, so the same seed and batch size give the same model for any number of processes, up
 * to the order of float summation; a checkpoint resumes with any number. Only process 0 writes
 * checkpoints and the model; every process's progress callback is called, and a cancel on any of
 * them stops all of them after the same step. */
typedef struct impasto_process_group {
    int rank, size;               /* 0 <= rank < size; size <= batch_size */
    /* Sums n values of buf (floats, or doubles when is_double) over the processes in place, the
     * same result on each of them; called in the same order on every process. Returns 0, or
     * non-zero when the group is broken (impasto_train then fails with IMPASTO_ERR_IO). */
    int (*sum)(void *user, void *buf, size_t n, int is_double);
    void *user;
} impasto_process_group;

typedef struct impasto_train_options {
    double content_weight;        /* 1e5 */
    double style_weight;          /* 1e10 */
    const char *content_layers;   /* "relu2_2" */
    const char *style_layers;     /* "relu1_2,relu2_2,relu3_3,relu4_3" */
    double learning_rate;         /* 1e-3 */
    int batch_size;               /* 4 */
    int image_size;               /* 256: photos resized so the shorter side is this, then a random
                                     image_size x image_size crop */
    int style_size;               /* 0: the style image as given; else its longer side */
    int epochs;                   /* 2 */
    long steps;                   /* 0: epochs * ceil(photos / batch_size); else this many steps */
    int checkpoint_every;         /* 0: none (a cancelled run still writes one) */
    const char *checkpoint_dir;   /* NULL: no checkpoints at all; files ckpt_step_<N>.safetensors */
    const char *resume;           /* a checkpoint to continue from (its seed is used), or NULL */
    int preview_every;            /* 0: never */
    const impasto_image *preview_image;  /* NULL: the first photo */
    uint64_t seed;                /* 42 (as the example): initialisation, order and crops */
    const char *style_name;       /* recorded in the model file ("style" metadata), or NULL */
    impasto_train_progress_fn progress;
    void *progress_user;
    /* 0: off. Else a PatchGAN discriminator (the 70x70 "basic" of pix2pix/CycleGAN, instance norm,
     * LSGAN; the Markovian GAN of Li & Wand 2016, on pixels) judges the network's outputs against
     * crops of real paintings, and weight * its least-squares loss joins the perceptual losses; it
     * learns with Adam 2e-4 (0.5, 0.999) after each step. The loss is of order 1: a weight of about
     * 1e-3 of the step's perceptual loss is a place to start. */
    double adversarial_weight;
    const char *const *paintings; /* the pictures it calls real (npaintings files, shorter side
                                     resized to image_size), or NULL: crops of the style image */
    size_t npaintings;
    const impasto_process_group *group;  /* NULL: this process alone */
} impasto_train_options;

void impasto_train_options_init(impasto_train_options *opt);

/* Trains a network on `photos` (nphotos file names, loaded and resized once at the start) in the
 * style of `style` with VGG-19 `vgg`, and writes it to out_path (a model impasto_fast_load reads).
 * Checkpoints hold the weights, Adam's moments and step count, and the generator's state (seed
 * and step: the photos' order and crops are drawn per epoch and per step from them), so a resumed
 * run takes the same next steps as an uninterrupted one. A checkpoint is itself a model file.
 * Refused before any work (IMPASTO_ERR_INVALID_ARG): empty layer lists, a style image (at
 * style_size) smaller than the deepest style layer's minimum (see impasto_transfer), and a
 * checkpoint to resume that is already at or past the run's last step. A step whose loss is NaN or
 * infinite stops the run with IMPASTO_ERR_NOT_FINITE before anything is written for it: no
 * checkpoint, and the file at out_path is untouched. */
impasto_status impasto_train(impasto_ctx *ctx, const impasto_model *vgg, const impasto_image *style,
                             const char *const *photos, size_t nphotos,
                             const impasto_train_options *opt, const char *out_path);

/* ---- adversarial translation: CycleGAN and pix2pix -------------------------------------------- */

/* The networks of junyanz/pytorch-CycleGAN-and-pix2pix (Zhu et al. 2017, Isola et al. 2017) with
 * its defaults and state_dict names: generators resnet_9blocks / resnet_6blocks (instance norm)
 * and unet_256 / unet_128 (batch norm, dropout), discriminators "basic" (the 70x70 PatchGAN),
 * "n_layers" and "pixel". Pictures are RGB scaled to [-1, 1] inside; results are 0..1 images.
 *
 * A translation model is one of: a CycleGAN trained by impasto_gan_train (kind "cyclegan": both
 * generators, A->B and B->A), a pix2pix one (kind "pix2pix": one generator A->B), or a generator
 * converted from the reference's latest_net_G.pth by impasto_convert_pth (kind "gan-generator"). */
typedef struct impasto_gan_model impasto_gan_model;

impasto_status impasto_gan_load(impasto_ctx *ctx, const char *path, impasto_gan_model **out);
void impasto_gan_free(impasto_gan_model *model);
/* "cyclegan", "pix2pix" or "gan-generator". */
const char *impasto_gan_kind(const impasto_gan_model *model);
/* The generator's architecture ("resnet_9blocks", "unet_256", ...). */
const char *impasto_gan_generator(const impasto_gan_model *model);
/* 1 when the model can translate B -> A (a CycleGAN), else 0. */
int impasto_gan_has_reverse(const impasto_gan_model *model);

typedef enum { IMPASTO_A_TO_B = 0, IMPASTO_B_TO_A = 1 } impasto_direction;

typedef struct impasto_translate_options {
    impasto_direction direction;  /* IMPASTO_A_TO_B */
    int size;                     /* 0: the picture's own size; else its longer side first */
    /* Batch norm and dropout as the reference's test.py runs them by default (batch norm from the
     * picture's own statistics, dropout on: pix2pix's noise), or, with eval_mode 1, as its --eval
     * (running statistics, no dropout). Instance-norm networks are the same either way. */
    int eval_mode;                /* 0 */
    uint64_t seed;                /* dropout's draws: 0 */
} impasto_translate_options;

void impasto_translate_options_init(impasto_translate_options *opt);

/* Translates `in` into a new image *out of the same size (the picture is padded by reflection, or
 * for a U-Net resized, to what the generator needs, and brought back). Alpha, if any, is kept.
 * Each call has its own buffers and leaves the model as it was, so one model may serve several
 * threads at once (each with its own context). */
impasto_status impasto_translate(impasto_ctx *ctx, impasto_gan_model *model, const impasto_image *in,
                                 const impasto_translate_options *opt, impasto_image **out);

typedef enum { IMPASTO_GAN_CYCLEGAN = 0, IMPASTO_GAN_PIX2PIX = 1 } impasto_gan_kind_t;
/* Where pix2pix's pairs come from: a folder of side-by-side A|B pictures (the reference's aligned
 * datasets), or pairs made from photos: grey -> colour, or edges -> photo. */
typedef enum { IMPASTO_PAIRS_AB = 0, IMPASTO_PAIRS_COLORIZE, IMPASTO_PAIRS_EDGES } impasto_pairs;

typedef struct impasto_gan_progress {
    long step, num_steps;         /* steps done (after this one), steps in the run */
    int epoch;                    /* 0-based */
    double learning_rate;         /* this step's */
    /* This step's losses, named as the reference prints them: CycleGAN D_A G_A cycle_A idt_A D_B
     * G_B cycle_B idt_B; pix2pix G_GAN G_L1 D_real D_fake. */
    int nlosses;
    const char *const *loss_names;
    const double *losses;
    double seconds;               /* since this run started */
    const char *checkpoint;       /* written after this step, else NULL */
    const impasto_image *preview; /* every preview_every steps: the preview translated, else NULL */
    long images;                  /* pictures (pairs) this process trained on in this run */
    double sum_seconds;           /* this process's time in the group's sums (0 alone) */
} impasto_gan_progress;

/* Called after every step; non-zero cancels (a checkpoint is written when checkpoint_dir is set,
 * and impasto_gan_train returns IMPASTO_ERR_CANCELLED naming it). */
typedef int (*impasto_gan_progress_fn)(const impasto_gan_progress *p, void *user);

typedef struct impasto_gan_train_options {
    impasto_gan_kind_t model;     /* IMPASTO_GAN_CYCLEGAN */
    impasto_pairs pairs;          /* pix2pix only: IMPASTO_PAIRS_AB */
    const char *generator;        /* NULL: resnet_9blocks (CycleGAN), unet_256 (pix2pix) */
    const char *discriminator;    /* NULL: "basic"; or "n_layers", "pixel" */
    int n_layers_d;               /* 3, for "n_layers" */
    int ngf, ndf;                 /* 64, 64 */
    int norm;                     /* -1: instance (CycleGAN), batch (pix2pix); 0 instance, 1 batch, 2 none */
    int dropout;                  /* -1: off (CycleGAN), on (pix2pix); 0 off, 1 on */
    int gan_mode;                 /* -1: lsgan (CycleGAN), vanilla (pix2pix); 0 lsgan, 1 vanilla */
    int crop_size;                /* 256: the training crops' side */
    int load_size;                /* 0: crop_size * 286 / 256 (the reference's 286 for 256);
                                     pictures are resized to load_size square, then cropped */
    int no_flip;                  /* 0: random horizontal flips */
    int pool_size;                /* -1: 50 (CycleGAN), 0 (pix2pix): the history of fakes D sees */
    double lambda_a, lambda_b;    /* 10, 10: cycle consistency */
    double lambda_identity;       /* 0.5 (times lambda): identity mapping */
    double lambda_l1;             /* 100: pix2pix's L1 */
    double learning_rate;         /* 2e-4 */
    double beta1;                 /* 0.5 */
    int epochs;                   /* 100 at the learning rate, then ... */
    int epochs_decay;             /* 100 decaying linearly to 0 */
    long steps;                   /* 0: (epochs + epochs_decay) * pairs per epoch; else this many,
                                     the decay over the last epochs_decay/(epochs+epochs_decay) */
    int checkpoint_every;         /* steps; 0: none (a cancelled run still writes one) */
    const char *checkpoint_dir;   /* NULL: no checkpoints; files gan_step_<N>.safetensors */
    const char *resume;           /* a checkpoint to continue from (made with the same batch_size), or NULL */
    int preview_every;            /* 0: never */
    const impasto_image *preview_image;  /* NULL: the first picture of A */
    uint64_t seed;                /* 0 */
    impasto_gan_progress_fn progress;
    void *progress_user;
    /* Pictures (pairs) per step, 1 as the reference's default: every loss is the mean over the
     * batch. Batch norms normalise each picture by its own statistics (the reference's at batch 1,
     * and each process's in its data-parallel training without SyncBatchNorm at one picture per
     * process), so a batch is the mean of its pictures' gradients whatever its size. */
    int batch_size;               /* 1 */
    /* Data parallel over several processes, as impasto_train: process `rank` trains on the slots
     * b % size == rank of every batch; gradients and losses are summed over the processes, the
     * history pools kept the same on every one (each slot's fake is shared, then the whole batch
     * queried in order). Pictures, crops, flips and dropout are drawn per picture of the run, so the
     * same seed and batch size give the same model for any number of processes, up to the order of
     * float summation. Only process 0 writes files and makes previews; a cancel on any process stops
     * all of them after the same step. size <= batch_size. */
    const impasto_process_group *group;  /* NULL: this process alone */
} impasto_gan_train_options;

void impasto_gan_train_options_init(impasto_gan_train_options *opt);

/* Trains a CycleGAN on the pictures of domains A and B (unpaired; an epoch is max(na, nb) steps, B
 * drawn at random as the reference's unaligned dataset does), or a pix2pix on pairs (a_paths are
 * A|B pictures for IMPASTO_PAIRS_AB, or photos to pair with their grey or edge versions; b_paths
 * unused), batch_size pictures a step, and writes the model to out_path (impasto_gan_load reads it). Pictures are
 * loaded once at the start; one that cannot be read stops the run naming it. Refused before any
 * work: fewer than 2 pictures in a domain, an A|B picture of odd width, a crop_size that is not a
 * multiple of what the generator needs. Checkpoints hold every network, both Adam states, the
 * history pools and the step, so a resumed run takes the same next steps as an unbroken one. */
impasto_status impasto_gan_train(impasto_ctx *ctx, const char *const *a_paths, size_t na,
                                 const char *const *b_paths, size_t nb, const impasto_gan_train_options *opt,
                                 const char *out_path);

/* ---- WCT: universal style transfer by feature transforms ------------------------------------ */

/* Li, Fang, Yang, Wang, Lu & Yang, "Universal Style Transfer via Feature Transforms", NIPS 2017:
 * the content and style are encoded to VGG features, the content features are whitened with
 * their own covariance's eigendecomposition and coloured with the style's (eqs. 2-3; eigenvalues
 * below 1e-5 dropped as the authors' code does), blended with the content features by alpha, and
 * decoded. Multi-level, coarse to fine as the paper's figure 2(c), with the two decoders impasto
 * has: relu4_1 (the AdaIN model's encoder and decoder), then relu3_1 (the lst-r31 pair) on the
 * first level's picture (clamped to 0..1). The paper's relu5_1, relu2_1 and relu1_1 levels need
 * decoders impasto does not have. */
typedef struct impasto_wct_options {
    double alpha;      /* 1.0: 0 decodes the content's own features, 1 the full transform;
                          the same at every level */
    int content_size;  /* 512: the content's longest side is resized to this (0 = keep) */
    int style_size;    /* 512: the same for the style image (0 = keep) */
    /* Tiling, as impasto_adain_options: each level's mean and covariance are taken over the whole
     * image, then its encoder, transform and decoder run tile by tile (level 2 on level 1's whole
     * picture). Exact halos: 64 pixels at relu4_1, 24 at relu3_1. */
    int tile;          /* -1: automatic; 0: never tile; N > 0: N x N tiles (multiple of 8, >= 32) */
    int tile_halo;     /* -1: exact at each level; else pixels, a multiple of 8 up to 256 */
    int memory_mb;     /* 1536 */
    impasto_pass_progress_fn progress;  /* NULL = none */
    void *progress_user;
    const struct impasto_genes *style_genes; /* NULL; else the style's relu4_1 mean and covariance (the
                                           style image may then be NULL): one level only (lst NULL),
                                           one style, and the genes must hold a covariance */
    /* Spatial control (impasto_wct_styles): NULL, or a mask whose distinct gray levels (RGB
     * averaged, darkest first) are as many as the styles; region k is whitened with its own
     * content mean and covariance (over the feature positions in it, gathered over the tiles) and
     * coloured with style k's, at each level. The mask is stretched over the content; each
     * feature position takes the level under the centre of the pixels it stands for (as
     * impasto_adain_options.mask), so edges are as soft as the decoder makes them. */
    const impasto_image *mask;
} impasto_wct_options;

void impasto_wct_options_init(impasto_wct_options *opt);

/* Repaints `content` in the style of `style`. `adain` is a model of kind "adain" (relu4_1 level),
 * `lst` one of kind "lst-r31" (relu3_1 level) or NULL to stop after relu4_1. *out is a new RGB
 * image of the (resized) content's size, with the content's alpha carried over if it has one.
 * Each side must give at least 2 feature positions at relu4_1 (content and style of at least
 * 9 pixels on their longer side and 5 on the shorter). Features or a level's decoded picture
 * holding NaN or infinite values (checked before level 1's clamp) are IMPASTO_ERR_NOT_FINITE,
 * the message naming the level, *out NULL. */
impasto_status impasto_wct(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                           const impasto_image *content, const impasto_image *style,
                           const impasto_wct_options *opt, impasto_image **out);
/* impasto_wct with a style per mask region: styles[k] (nstyles >= 1) colours region k of
 * opt->mask. Several styles need a mask with as many gray levels (IMPASTO_ERR_INVALID_ARG, the
 * message saying how many it has, otherwise); nstyles 1 without a mask is impasto_wct. */
impasto_status impasto_wct_styles(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                                  const impasto_image *content, const impasto_image *const *styles, size_t nstyles,
                                  const impasto_wct_options *opt, impasto_image **out);

/* ---- DeepDream ------------------------------------------------------------------------------ */

/* Mordvintsev, Olah & Tyka, "Inceptionism: Going Deeper into Neural Networks" (Google Research
 * blog, 2015) and their deepdream notebook, on VGG-19 (ProGamerGov/neural-dream's option set):
 * gradient ascent on the picture itself to amplify what the network sees at chosen layers. Each
 * step rolls the picture by a random jitter, takes the gradient of the objective (by default
 * 0.5 ||a||^2 summed over the chosen layers' activations a, or over one channel of a layer), and
 * moves the picture by learning_rate * g / mean|g|, then clips it to valid pixels. Octaves run
 * from small to large: each octave is the photo shrunk by octave_scale from the next, and the
 * detail dreamt at one octave (picture minus photo) is enlarged and carried up to the next. */
typedef struct impasto_dream_progress {
    int frame, num_frames;        /* zoom frames: 0-based frame being dreamt (0 of 1 without) */
    int octave, num_octaves;      /* 0-based, 0 = the smallest */
    int width, height;            /* this octave's size */
    int iteration, num_iterations;/* steps done in this octave / per octave */
    double objective;             /* the objective at the last step (before it moved the picture) */
    double done;                  /* share of the whole call's work done, 0..1 (pixels x steps) */
    double seconds;               /* since the call started */
} impasto_dream_progress;
/* Called after every step; non-zero cancels: impasto_dream returns IMPASTO_ERR_CANCELLED with
 * *out the picture so far (the detail dreamt so far carried up to the full size). */
typedef int (*impasto_dream_progress_fn)(const impasto_dream_progress *p, void *user);
/* Zoom sequences: called with each finished frame (index 0-based; valid only during the call);
 * non-zero stops the run (impasto_dream returns IMPASTO_ERR_CANCELLED, *out that frame). */
typedef int (*impasto_dream_frame_fn)(const impasto_image *frame, int index, void *user);

typedef struct impasto_dream_options {
    const char *layers;          /* "relu4_2": comma-separated VGG-19 layers (conv1_1 ... pool5),
                                    each optionally with one channel, "relu4_2,relu5_1:17"; the
                                    objectives of the entries add up */
    int image_size;              /* 512: the photo's longest side is resized to this (0 = keep) */
    int octaves;                 /* 4 */
    double octave_scale;         /* 1.4: each octave is the next one's size / octave_scale (> 1) */
    int iterations;              /* 10 steps per octave */
    double learning_rate;        /* 1.5: the step, in 0..255 pixel units, per mean |gradient| */
    int jitter;                  /* 32: each step rolls the picture by up to this many pixels */
    const impasto_image *guide;  /* NULL; else each position's features move towards the guide's
                                    best-matching feature vector: the objective is the sum over
                                    positions of the largest dot product with the guide's
                                    features (the notebook's objective_guide) */
    int guide_size;              /* 224: the guide's longest side (0 = keep) */
    impasto_pooling pooling;     /* max */
    int original_colors;         /* 0; 1: keep the photo's colours (luminance-only dream) */
    int tile;                    /* 512: pictures with a side over this are run in tiles of at most
                                    this side, the tile grid offset at random each step; 0 never */
    int tile_halo;               /* -1: exact (the layers' receptive field: tiled gradients equal
                                    untiled ones up to float rounding); else pixels, a multiple of
                                    8 up to 512, rounded up to the deepest layer's stride (relu5_x:
                                    16); smaller is faster, the random offset hides seams */
    int64_t seed;                /* -1 = from the clock: jitter and tile offsets */
    int zoom_frames;             /* 0: one picture; N: N frames, frame i+1 dreamt on frame i
                                    zoomed by `zoom` about its centre; *out is the last frame */
    double zoom;                 /* 1.05 */
    impasto_dream_progress_fn progress;  /* NULL = none */
    impasto_dream_frame_fn frame;        /* NULL = none */
    void *progress_user;                 /* passed to both */
} impasto_dream_options;

void impasto_dream_options_init(impasto_dream_options *opt);

/* Dreams on `content` with VGG-19 `vgg`. *out is a new RGB image of the (resized) content's
 * size, with the content's alpha carried over (single pictures only). Refused before any work
 * (IMPASTO_ERR_INVALID_ARG): a layer VGG-19 does not have, a channel past the layer's count, no
 * layer, zero octaves or iterations, an octave scale not above 1, a smallest octave (or guide)
 * smaller than the deepest layer's minimum side (vgg19: relu4_x 8, relu5_x 16 pixels). A
 * gradient that becomes NaN or infinite is IMPASTO_ERR_NOT_FINITE, *out NULL. */
impasto_status impasto_dream(impasto_ctx *ctx, const impasto_model *vgg, const impasto_image *content,
                             const impasto_dream_options *opt, impasto_image **out);

/* ---- attention fusion: content attends over the painting's features ------------------------ */

/* Feature fusion by attention, in the family of SANet (Park & Lee, "Arbitrary Style Transfer
 * with Style-Attentional Networks", CVPR 2019), Avatar-Net's style decorator (Sheng et al. 2018)
 * and style swap (Chen & Schmidt, "Fast Patch-based Style Transfer of Arbitrary Style", 2016),
 * at relu4_1 (the AdaIN model's encoder and decoder), at relu3_1 (the lst-r31 pair), or at both,
 * coarse to fine as impasto_wct. Without learned projections: the content's and the paintings'
 * features are normalised per channel (mean 0, deviation 1, as SANet's
 * mean_variance_norm), each N x N patch of them is made unit length, and every content position
 * i takes
 *   fused_i = sum_j softmax_j(cos(c_i, s_j) / temperature + ln w_k(j)) S_j
 * over all N x N patches j of all paintings, S_j the painting's un-normalised patch; overlapping
 * patches are averaged (N = 1: a position's own feature vector). hard = 1 takes the best patch
 * instead: N = 3 and hard is Chen & Schmidt's style swap. Then fused' = alpha fused + (1 - alpha) f.
 * The score matrix is never held whole: blocks of content positions against blocks of painting
 * patches with a streaming softmax (docs/attention.md gives the memory bound). */
typedef struct impasto_attention_options {
    double alpha;                 /* 1.0: 0 decodes the content's own features, 1 the fused ones */
    double temperature;           /* 0.05: softmax temperature on cosine scores, 1e-4 .. 100 */
    int patch;                    /* 1: N, odd, 1 .. 9; the paintings' feature maps must be at least
                                     N x N */
    int hard;                     /* 0; 1: the best-matching patch alone (arg max) */
    const double *style_weights;  /* NULL = equal; else one per painting (>= 0, not all 0): each of
                                     painting k's patches gets w_k times the attention (ln w_k added
                                     to its scores) */
    const impasto_image *mask;    /* NULL; else as impasto_adain_options.mask: content region k (the
                                     k-th gray level, darkest first) attends over painting k alone */
    int content_size;             /* 512: the content's longest side is resized to this (0 = keep) */
    int style_size;               /* 512: the same for each painting (0 = keep) */
    /* Tiling as impasto_adain_options: the content's moments are taken over the whole image and
     * every tile attends over all of the paintings' patches, so tiles differ from the untiled
     * run only where the halo is cut short. */
    int tile;                     /* -1: automatic; 0: never tile; N > 0: N x N tiles */
    int tile_halo;                /* -1: exact (64 + 16 (N / 2) pixels at relu4_1, 24 + 8 (N / 2) at
                                     relu3_1: a patch reads N / 2 positions further each way, and
                                     its result lands as far); else a multiple of 8 up to 256 */
    int memory_mb;                /* 1536; the paintings' patches (2 x 4 N^2 C bytes per position,
                                     C = 512 at relu4_1, 256 at relu3_1) count against it */
    impasto_pass_progress_fn progress;  /* NULL = none; units, per level: each painting encoded,
                                           each tile of the statistics pass, and per tile of the
                                           stylize pass IMPASTO_ATTENTION_STEPS attention steps
                                           then the tile */
    void *progress_user;
} impasto_attention_options;

/* Progress units of attention in each tile (stage "attention"). */
#define IMPASTO_ATTENTION_STEPS 8

void impasto_attention_options_init(impasto_attention_options *opt);

/* Repaints `content` with the features of `styles` (nstyles >= 1) by attention. `adain`: a model
 * of kind "adain" for the relu4_1 level, or NULL; `lst`: one of kind "lst-r31" for the relu3_1
 * level, or NULL; at least one. With both, relu4_1 runs first and relu3_1 repaints its (clamped)
 * picture, with the same options at each level. *out is a new RGB image of the (resized)
 * content's size, the content's alpha carried over. A patch larger than a painting's feature map
 * at a level, a temperature out of range and the like are IMPASTO_ERR_INVALID_ARG, before any
 * work; non-finite features IMPASTO_ERR_NOT_FINITE. Progress: impasto_pass_progress.level is the
 * level (0 the first), num_levels how many. */
impasto_status impasto_attention(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                                 const impasto_image *content, const impasto_image *const *styles, size_t nstyles,
                                 const impasto_attention_options *opt, impasto_image **out);

/* ---- breeding styles: a painting's genes ----------------------------------------------------- */

/* A painting's genes: what the one-pass methods use of it — the mean and deviation of each channel
 * of its relu4_1 features (AdaIN) and their covariance (WCT's relu4_1 level), read with the AdaIN
 * model's encoder and tied to it. A child mixes its parents' genes with weights drawn from a flat
 * Dirichlet and a small mutation (Artbreeder's way of working); genes stand in for a painting in
 * impasto_adain_options.style_genes and impasto_wct_options.style_genes. Saved as safetensors
 * ("mean" (512), "std" (512), "cov" (512, 512); metadata format "impasto-genes", the encoder and
 * its weights' MD5, a child's parents' weights and seed). */
typedef struct impasto_genes impasto_genes;
#define IMPASTO_GENES_MAX_PARENTS 16

/* The painting resized so its longest side is style_size (0 keeps it; 512 as adain), encoded. */
impasto_status impasto_genes_from_image(impasto_ctx *ctx, const impasto_model *adain, const impasto_image *painting,
                                        int style_size, impasto_genes **out);
/* Child number `child` of `seed`: the same (seed, child) always gives the same child, whatever
 * other children are drawn. mutation 0 .. 1 (0.1 in impasto breed): the spread of the changes. */
impasto_status impasto_genes_breed(impasto_ctx *ctx, const impasto_genes *const *parents, size_t n, uint64_t seed,
                                   uint64_t child, double mutation, impasto_genes **out);
/* A file of another kind (a model, any safetensors without the genes metadata), of another
 * encoder, or with values genes cannot have is IMPASTO_ERR_FORMAT, the message naming the file. */
impasto_status impasto_genes_load(impasto_ctx *ctx, const char *path, impasto_genes **out);
/* Written atomically. */
impasto_status impasto_genes_save(impasto_ctx *ctx, const impasto_genes *g, const char *path);
int impasto_genes_has_covariance(const impasto_genes *g);
/* A child's parents' weights (the number of parents; *weights valid while g lives), also when the
 * child was loaded from its file; 0 for genes read from a painting. */
size_t impasto_genes_weights(const impasto_genes *g, const double **weights);
void impasto_genes_free(impasto_genes *g);

/* ---- video ------------------------------------------------------------------------------- */

/* Video files are read and written with FFmpeg's libraries (libavformat, libavcodec, libswscale),
 * when libimpasto was built with them: impasto_video_supported() says so; without them every
 * impasto_video_* call but the folder ones returns IMPASTO_ERR_UNSUPPORTED. A folder of PNG or
 * JPEG frames (read in file-name order) works either way. FFmpeg's own log is silenced while a
 * file is open (av_log_set_level: FFmpeg's setting, for the whole process). */
int impasto_video_supported(void);

typedef struct impasto_video_reader impasto_video_reader;

typedef struct impasto_video_info {
    int width, height;        /* the frames' size as decoded (rotation metadata not applied) */
    int fps_num, fps_den;     /* the stream's frame rate (a folder: 25/1 unless told) */
    long frames;              /* what the container says the frame count is, -1 when it does not
                                 say; a hint only (it may lie): reading stops at the real end */
    int sar_num, sar_den;     /* sample (pixel) aspect ratio, 0/1 when unknown */
    double rotation;          /* degrees, counter-clockwise, from the display matrix (0: none) */
    double duration;          /* seconds the file declares for the video (0: it does not say) */
    int has_audio;            /* the file has an audio stream (a writer copies the first) */
    int is_folder;
    char codec[32];           /* the video codec's name ("h264", ...; "images" for a folder) */
} impasto_video_info;

/* Opens a video file, or a folder of PNG/JPEG frames. Refused with one message each: a file that
 * is not a regular file (a FIFO is never waited on), not a container FFmpeg knows, without a
 * video stream, with a codec this FFmpeg cannot decode, or frames over the context's pixel
 * limit or IMPASTO_MAX_SIDE. */
impasto_status impasto_video_open(impasto_ctx *ctx, const char *path, impasto_video_reader **out);
void impasto_video_close(impasto_video_reader *r);
void impasto_video_get_info(const impasto_video_reader *r, impasto_video_info *info);
/* The next frame as a new RGB image (*frame), or *frame NULL at the end of the stream. A file
 * that ends before its first frame, or is damaged or truncated in the middle (the demuxer or
 * decoder fails), is IMPASTO_ERR_FORMAT naming the frame. Frames whose size changes mid-stream
 * are scaled to the first frame's size. */
impasto_status impasto_video_read(impasto_ctx *ctx, impasto_video_reader *r, impasto_image **frame);
/* Frames read so far. */
long impasto_video_frames_read(const impasto_video_reader *r);

typedef struct impasto_video_writer impasto_video_writer;

typedef struct impasto_video_writer_options {
    int width, height;    /* 0, 0: the first frame's size; frames of another size are scaled */
    int crf;              /* 18 (x264's visually lossless end); for encoders with a crf option */
    const char *codec;    /* NULL: H.264 (libx264); else an FFmpeg encoder name (libx265, mpeg4,
                             libvpx-vp9, ...) */
    int fps_num, fps_den; /* 0: the reader's rate (25/1 without a reader) */
    int sar_num, sar_den; /* 0: the reader's sample aspect ratio (none without a reader) */
} impasto_video_writer_options;

void impasto_video_writer_options_init(impasto_video_writer_options *opt);

/* Starts writing `path`: a video file whose container FFmpeg tells from the name (.mp4, .mkv,
 * .mov, .avi, ...), or, for a name ending in '/' or an existing folder, a folder of PNG frames
 * (frame_000001.png, ...). Everything goes to a temporary file (folder) beside `path`, renamed at
 * impasto_video_writer_finish, so a failed run leaves nothing under `path`. With a reader `src`:
 * each frame written takes the time stamp of the frame last read from src (so variable frame
 * rates, the frame count and the duration are kept), and the output keeps src's frame rate,
 * sample aspect ratio and rotation (display matrix), and a copy of src's first audio stream,
 * packet for packet. Odd sizes are encoded as 4:4:4 (4:2:0 needs even sides). */
impasto_status impasto_video_writer_open(impasto_ctx *ctx, const char *path, impasto_video_reader *src,
                                         const impasto_video_writer_options *opt,
                                         impasto_video_writer **out);
/* Encodes one frame (RGB, RGBA or gray; alpha is dropped). */
impasto_status impasto_video_write(impasto_ctx *ctx, impasto_video_writer *w, const impasto_image *frame);
/* Flushes the encoder, copies the rest of the audio (all of it with rest_of_audio 1, reading src
 * to its end; else only what lies before the last frame written: an interrupted run), writes
 * the container's index and renames the temporary file to final_path (NULL: the path given at
 * open; it must name the same kind, file or folder). At least one frame must have been written. */
impasto_status impasto_video_writer_finish(impasto_ctx *ctx, impasto_video_writer *w, const char *final_path,
                                           int rest_of_audio);
/* Frees the writer; unfinished, its temporary file is removed. NULL is ignored. */
void impasto_video_writer_free(impasto_video_writer *w);

/* Temporal consistency of stylised video (Ruder, Dosovitskiy & Brox, "Artistic style transfer for
 * videos", GCPR 2016, section 3.2, used as a blend rather than a loss): for each new input frame
 * the optical flow to the previous input frame is found both ways (DIS, Kroeger et al. 2016), the
 * previous stylised frame is warped onto the new one, and where the forward-backward check trusts
 * the flow the new stylised frame becomes (1 - weight) * stylised + weight * warped. Occluded and
 * disoccluded pixels, motion boundaries and content entering the picture keep the new frame. */
typedef struct impasto_temporal impasto_temporal;

typedef struct impasto_temporal_options {
    double weight;        /* 0.7: how much of the warped previous frame is kept where trusted */
    int flow_preset;      /* 2: DIS's preset (0 ultrafast, 1 fast, 2 medium) */
    int flow_max_side;    /* 640: the flow is found on frames shrunk to this longest side (0 = full
                             size) and scaled back up */
} impasto_temporal_options;

void impasto_temporal_options_init(impasto_temporal_options *opt);
impasto_status impasto_temporal_create(impasto_ctx *ctx, int width, int height,
                                       const impasto_temporal_options *opt, impasto_temporal **out);
void impasto_temporal_free(impasto_temporal *t);
/* A new input frame (of the size given at create): finds the flow to the previous one and warps
 * the previous stylised frame. *warped (owned by t, valid until the next call; NULL for the
 * first frame of a shot) is that warped frame, and *mask, when asked for, its trust mask
 * (a 1-channel image, 1 trusted, 0 not). */
impasto_status impasto_temporal_next(impasto_ctx *ctx, impasto_temporal *t, const impasto_image *frame,
                                     const impasto_image **warped, const impasto_image **mask);
/* Blends `stylised` (the new frame's stylisation, its size; changed in place) with the warped
 * previous one, and keeps the result as the previous stylised frame. */
impasto_status impasto_temporal_blend(impasto_ctx *ctx, impasto_temporal *t, impasto_image *stylised);
/* Forgets the previous frames (a new shot starts). */
void impasto_temporal_reset(impasto_temporal *t);

/* The warping error of Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018 (eq. 9):
 * out1 warped onto out2 by the flow of the inputs in1 -> in2 (all four of one size), and
 *   E = sum_p M(p) |out2(p) - warp(out1)(p)|^2 / sum_p M(p),
 * |.|^2 over the RGB channels (0..1), M the forward-backward trust mask of that flow (found at
 * full size with the medium preset). *trusted is the share of pixels with M = 1. */
impasto_status impasto_warping_error(impasto_ctx *ctx, const impasto_image *in1, const impasto_image *in2,
                                     const impasto_image *out1, const impasto_image *out2, double *error,
                                     double *trusted);

/* ---- evaluating results ------------------------------------------------------------------ */

/* The first three compare two images of the same size (IMPASTO_ERR_INVALID_ARG otherwise) on
 * their luminance Y = 0.299 R + 0.587 G + 0.114 B (BT.601; a gray image is its own Y; alpha is
 * ignored). All four measures are symmetric in their two images. */

/* Mean SSIM (Wang, Bovik, Sheikh & Simoncelli, "Image Quality Assessment: From Error Visibility
 * to Structural Similarity", IEEE TIP 2004): 11x11 Gaussian window, sigma 1.5, K1 = 0.01,
 * K2 = 0.03, L = 1, averaged over every position where the window fits inside the image (both
 * sides must be >= 11). 1 for identical images; defined (no NaN) for constant images. */
impasto_status impasto_ssim(impasto_ctx *ctx, const impasto_image *a, const impasto_image *b,
                            double *ssim);
/* PSNR in dB = 10 log10(1 / MSE) of Y (peak 1); +INFINITY for identical images. */
impasto_status impasto_psnr(impasto_ctx *ctx, const impasto_image *a, const impasto_image *b,
                            double *psnr);
/* Edge agreement: the Pearson correlation (-1..1) of the Sobel gradient magnitudes
 * sqrt(Gx^2 + Gy^2) of the two luminances over all pixels (borders replicated). 1 for identical
 * images or when one is a brightened / contrast-scaled copy of the other; 1 when both are flat,
 * 0 when only one is. */
impasto_status impasto_edge_agreement(impasto_ctx *ctx, const impasto_image *a,
                                      const impasto_image *b, double *corr);
/* Colour-histogram distance, sizes may differ: per R, G, B channel (gray replicated) a 32-bin
 * histogram of 0..1 normalised to sum 1, the 1-D earth mover's distance between the two
 * (sum over bins of |CDF_a - CDF_b| / 32, in units of intensity, 0..1), averaged over the three
 * channels. 0 for identical colour distributions; 0.25 between two flat images 0.25 apart. */
impasto_status impasto_color_distance(impasto_ctx *ctx, const impasto_image *a,
                                      const impasto_image *b, double *dist);

typedef struct impasto_eval_options {
    const char *content_layers;  /* "relu4_2" */
    const char *style_layers;    /* "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1" */
    const char *swd_layers;      /* NULL = the style layers */
    int style_size;              /* 0: styles resized so their longest side is the output's */
    impasto_pooling pooling;     /* max */
    int swd_projections;         /* 64 */
    uint64_t seed;               /* 1: the random projections' seed (results are repeatable) */
} impasto_eval_options;

void impasto_eval_options_init(impasto_eval_options *opt);

/* Everything impasto_evaluate measures about one output. Layer arrays follow the order the
 * layers were named in; their names are in the *_layer_name arrays (static strings). */
typedef struct impasto_eval_result {
    /* Content preservation: output vs the content resized to the output's size. */
    double ssim, psnr, edge;             /* impasto_ssim, impasto_psnr, impasto_edge_agreement */
    int num_content_layers;
    const char *content_layer_name[IMPASTO_MAX_LAYERS];
    double content_layer_loss[IMPASTO_MAX_LAYERS];  /* mean squared feature difference, as
                                                       neural-style's content loss at weight 1 */
    double content_loss;                 /* their sum */
    /* Style similarity: output vs the style image(s). */
    int num_style_layers;
    const char *style_layer_name[IMPASTO_MAX_LAYERS];
    double style_layer_loss[IMPASTO_MAX_LAYERS];  /* sum((G - T)^2) / C^2, neural-style's style
                                                     loss at weight 1, T the styles' mean Gram */
    double style_loss;                   /* their sum */
    int num_swd_layers;
    const char *swd_layer_name[IMPASTO_MAX_LAYERS];
    double swd_layer[IMPASTO_MAX_LAYERS];  /* sliced Wasserstein-2 distance of the feature sets */
    double swd;                          /* their mean */
    double color;                        /* impasto_color_distance to the styles' mean histogram */
} impasto_eval_result;

/* Measures `output` against `content` and `styles` (nstyles >= 1) with VGG-19 (`vgg`).
 * The content image is resized to the output's size; each style so its longest side is
 * opt->style_size (0: the output's longest side). VGG features are taken in Caffe units as the
 * transfer uses them.
 * The sliced Wasserstein distance (Rabin, Peyre, Delon & Bernot, "Wasserstein Barycenter and its
 * Application to Texture Mixing", SSVM 2011; as a style measure, Heitz, Vanhoey, Chambon &
 * Belcour, "A Sliced Wasserstein Loss for Neural Texture Synthesis", CVPR 2021) compares the
 * output's per-pixel feature vectors at a layer with all the styles' feature vectors pooled:
 * each of opt->swd_projections random unit directions (fixed seed) projects both sets to 1-D,
 * and the squared 1-D Wasserstein-2 distance of the two projections is computed exactly from
 * their sorted values (matching quantile to quantile, so the counts may differ); the result is
 * the square root of its mean over the directions. 0 for identical feature sets; a set and
 * its copy shifted by d (in C dimensions) are about |d| / sqrt(C) apart. */
impasto_status impasto_evaluate(impasto_ctx *ctx, const impasto_model *vgg,
                                const impasto_image *output, const impasto_image *content,
                                const impasto_image *const *styles, size_t nstyles,
                                const impasto_eval_options *opt, impasto_eval_result *result);

#ifdef __cplusplus
}
#endif
#endif
