"""The part of include/impasto.h the package uses, for cffi's ABI mode.

Each declaration is copied from the header without its comments; tests/test_cdef.py checks
every one of them against the header's text, so they cannot drift apart silently.
"""

CDEF = r"""
typedef enum impasto_status {
    IMPASTO_OK = 0,
    IMPASTO_ERR_INVALID_ARG,
    IMPASTO_ERR_IO,
    IMPASTO_ERR_FORMAT,
    IMPASTO_ERR_TOO_LARGE,
    IMPASTO_ERR_NOMEM,
    IMPASTO_ERR_UNSUPPORTED,
    IMPASTO_ERR_CHECKSUM,
    IMPASTO_ERR_CANCELLED,
    IMPASTO_ERR_NOT_FINITE
} impasto_status;

const char *impasto_status_string(impasto_status s);
const char *impasto_version(void);
void impasto_free(void *p);

typedef struct impasto_ctx impasto_ctx;
impasto_ctx *impasto_ctx_create(void);
void impasto_ctx_free(impasto_ctx *ctx);
const char *impasto_ctx_error(const impasto_ctx *ctx);
void impasto_ctx_set_threads(impasto_ctx *ctx, int nthreads);

typedef struct impasto_image impasto_image;
impasto_status impasto_image_create(impasto_ctx *ctx, int width, int height, int channels,
                                    impasto_image **out);
void impasto_image_free(impasto_image *img);
int impasto_image_width(const impasto_image *img);
int impasto_image_height(const impasto_image *img);
int impasto_image_channels(const impasto_image *img);
float *impasto_image_data(impasto_image *img);
const float *impasto_image_cdata(const impasto_image *img);
impasto_status impasto_image_load(impasto_ctx *ctx, const char *path, impasto_image **out);
impasto_status impasto_image_load_memory(impasto_ctx *ctx, const void *data, size_t size,
                                         impasto_image **out);
impasto_status impasto_image_save(impasto_ctx *ctx, const impasto_image *img, const char *path,
                                  int quality);
impasto_status impasto_image_save_memory(impasto_ctx *ctx, const impasto_image *img,
                                         const char *format, int quality, void **data,
                                         size_t *size);

typedef struct impasto_model impasto_model;
impasto_status impasto_model_load(impasto_ctx *ctx, const char *path, impasto_model **out);
void impasto_model_free(impasto_model *model);

typedef enum { IMPASTO_INIT_RANDOM = 0, IMPASTO_INIT_IMAGE } impasto_init;
typedef enum { IMPASTO_OPTIM_LBFGS = 0, IMPASTO_OPTIM_ADAM } impasto_optimizer;
typedef enum { IMPASTO_POOL_MAX = 0, IMPASTO_POOL_AVG } impasto_pooling;
typedef enum { IMPASTO_TILING_EXACT = 0, IMPASTO_TILING_RANDOM } impasto_tiling;

typedef struct impasto_progress {
    int scale_index, num_scales;
    int width, height;
    int iteration, num_iterations;
    double loss, content_loss, style_loss, tv_loss;
    double seconds;
    const impasto_image *image;
    int num_tiles;
    int lbfgs_history;
    int tile_done, tile_runs;
} impasto_progress;

typedef int (*impasto_progress_fn)(const impasto_progress *p, void *user);

#define IMPASTO_MAX_LAYERS 16
#define IMPASTO_MAX_SCALES 8

typedef struct impasto_transfer_options {
    double content_weight;
    double style_weight;
    double tv_weight;
    int num_iterations;
    impasto_init init;
    const impasto_image *init_image;
    int64_t seed;
    impasto_optimizer optimizer;
    double learning_rate;
    int lbfgs_history;
    int lbfgs_line_search;
    int image_size;
    double style_scale;
    const double *style_blend_weights;
    impasto_pooling pooling;
    const char *content_layers;
    const char *style_layers;
    const double *style_layer_weights;
    int original_colors;
    int normalize_gradients;
    int save_iter;
    int num_scales;
    int scales[IMPASTO_MAX_SCALES];
    int scale_iterations[IMPASTO_MAX_SCALES];
    impasto_progress_fn progress;
    void *progress_user;
    int memory_mb;
    int tile;
    impasto_tiling tiling;
    const impasto_image *temporal_target;
    const impasto_image *temporal_mask;
    double temporal_weight;
    const impasto_image *mask;
    const impasto_image *const *style_masks;
} impasto_transfer_options;

void impasto_transfer_options_init(impasto_transfer_options *opt);
impasto_status impasto_transfer(impasto_ctx *ctx, const impasto_model *vgg,
                                const impasto_image *content, const impasto_image *const *styles,
                                size_t nstyles, const impasto_transfer_options *opt,
                                impasto_image **out);

typedef struct impasto_fast_model impasto_fast_model;
impasto_status impasto_fast_load(impasto_ctx *ctx, const char *path, impasto_fast_model **out);
void impasto_fast_free(impasto_fast_model *model);

typedef struct impasto_pass_progress {
    const char *stage;
    int level, num_levels;
    int done, total;
    double seconds;
} impasto_pass_progress;

typedef int (*impasto_pass_progress_fn)(const impasto_pass_progress *p, void *user);

typedef struct impasto_fast_options {
    double content_scale;
    int tile;
    int tile_halo;
    int memory_mb;
    int stats;
    int stats_side;
    impasto_pass_progress_fn progress;
    void *progress_user;
} impasto_fast_options;

void impasto_fast_options_init(impasto_fast_options *opt);
impasto_status impasto_fast_stylize(impasto_ctx *ctx, impasto_fast_model *model,
                                    const impasto_image *content, const impasto_fast_options *opt,
                                    impasto_image **out);

typedef struct impasto_genes impasto_genes;

typedef struct impasto_adain_options {
    double alpha;
    const double *style_weights;
    int preserve_color;
    int content_size;
    int style_size;
    const impasto_image *mask;
    int tile;
    int tile_halo;
    int memory_mb;
    int crop;
    impasto_pass_progress_fn progress;
    void *progress_user;
    const struct impasto_genes *const *style_genes;
} impasto_adain_options;

void impasto_adain_options_init(impasto_adain_options *opt);
impasto_status impasto_adain(impasto_ctx *ctx, const impasto_model *adain, const impasto_image *content,
                             const impasto_image *const *styles, size_t nstyles,
                             const impasto_adain_options *opt, impasto_image **out);

typedef struct impasto_train_progress {
    long step, num_steps;
    int epoch;
    double loss, content_loss, style_loss;
    double seconds;
    const char *checkpoint;
    const impasto_image *preview;
    double adversarial_loss, discriminator_loss;
    long images;
    double sum_seconds;
} impasto_train_progress;

typedef int (*impasto_train_progress_fn)(const impasto_train_progress *p, void *user);

typedef struct impasto_process_group {
    int rank, size;
    int (*sum)(void *user, void *buf, size_t n, int is_double);
    void *user;
} impasto_process_group;

typedef struct impasto_train_options {
    double content_weight;
    double style_weight;
    const char *content_layers;
    const char *style_layers;
    double learning_rate;
    int batch_size;
    int image_size;
    int style_size;
    int epochs;
    long steps;
    int checkpoint_every;
    const char *checkpoint_dir;
    const char *resume;
    int preview_every;
    const impasto_image *preview_image;
    uint64_t seed;
    const char *style_name;
    impasto_train_progress_fn progress;
    void *progress_user;
    double adversarial_weight;
    const char *const *paintings;
    size_t npaintings;
    const impasto_process_group *group;
} impasto_train_options;

void impasto_train_options_init(impasto_train_options *opt);
impasto_status impasto_train(impasto_ctx *ctx, const impasto_model *vgg, const impasto_image *style,
                             const char *const *photos, size_t nphotos,
                             const impasto_train_options *opt, const char *out_path);

typedef struct impasto_gan_model impasto_gan_model;

impasto_status impasto_gan_load(impasto_ctx *ctx, const char *path, impasto_gan_model **out);
void impasto_gan_free(impasto_gan_model *model);
const char *impasto_gan_kind(const impasto_gan_model *model);
const char *impasto_gan_generator(const impasto_gan_model *model);
int impasto_gan_has_reverse(const impasto_gan_model *model);

typedef enum { IMPASTO_A_TO_B = 0, IMPASTO_B_TO_A = 1 } impasto_direction;

typedef struct impasto_translate_options {
    impasto_direction direction;
    int size;
    int eval_mode;
    uint64_t seed;
} impasto_translate_options;

void impasto_translate_options_init(impasto_translate_options *opt);
impasto_status impasto_translate(impasto_ctx *ctx, impasto_gan_model *model, const impasto_image *in,
                                 const impasto_translate_options *opt, impasto_image **out);

typedef enum { IMPASTO_GAN_CYCLEGAN = 0, IMPASTO_GAN_PIX2PIX = 1 } impasto_gan_kind_t;
typedef enum { IMPASTO_PAIRS_AB = 0, IMPASTO_PAIRS_COLORIZE, IMPASTO_PAIRS_EDGES } impasto_pairs;

typedef struct impasto_gan_progress {
    long step, num_steps;
    int epoch;
    double learning_rate;
    int nlosses;
    const char *const *loss_names;
    const double *losses;
    double seconds;
    const char *checkpoint;
    const impasto_image *preview;
    long images;
    double sum_seconds;
} impasto_gan_progress;

typedef int (*impasto_gan_progress_fn)(const impasto_gan_progress *p, void *user);

typedef struct impasto_gan_train_options {
    impasto_gan_kind_t model;
    impasto_pairs pairs;
    const char *generator;
    const char *discriminator;
    int n_layers_d;
    int ngf, ndf;
    int norm;
    int dropout;
    int gan_mode;
    int crop_size;
    int load_size;
    int no_flip;
    int pool_size;
    double lambda_a, lambda_b;
    double lambda_identity;
    double lambda_l1;
    double learning_rate;
    double beta1;
    int epochs;
    int epochs_decay;
    long steps;
    int checkpoint_every;
    const char *checkpoint_dir;
    const char *resume;
    int preview_every;
    const impasto_image *preview_image;
    uint64_t seed;
    impasto_gan_progress_fn progress;
    void *progress_user;
    int batch_size;
    const impasto_process_group *group;
} impasto_gan_train_options;

void impasto_gan_train_options_init(impasto_gan_train_options *opt);
impasto_status impasto_gan_train(impasto_ctx *ctx, const char *const *a_paths, size_t na,
                                 const char *const *b_paths, size_t nb, const impasto_gan_train_options *opt,
                                 const char *out_path);

typedef struct impasto_wct_options {
    double alpha;
    int content_size;
    int style_size;
    int tile;
    int tile_halo;
    int memory_mb;
    impasto_pass_progress_fn progress;
    void *progress_user;
    const struct impasto_genes *style_genes;
    const impasto_image *mask;
} impasto_wct_options;

void impasto_wct_options_init(impasto_wct_options *opt);
impasto_status impasto_wct(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                           const impasto_image *content, const impasto_image *style,
                           const impasto_wct_options *opt, impasto_image **out);
impasto_status impasto_wct_styles(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                                  const impasto_image *content, const impasto_image *const *styles, size_t nstyles,
                                  const impasto_wct_options *opt, impasto_image **out);

typedef struct impasto_attention_options {
    double alpha;
    double temperature;
    int patch;
    int hard;
    const double *style_weights;
    const impasto_image *mask;
    int content_size;
    int style_size;
    int tile;
    int tile_halo;
    int memory_mb;
    impasto_pass_progress_fn progress;
    void *progress_user;
} impasto_attention_options;

void impasto_attention_options_init(impasto_attention_options *opt);
impasto_status impasto_attention(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                                 const impasto_image *content, const impasto_image *const *styles, size_t nstyles,
                                 const impasto_attention_options *opt, impasto_image **out);

impasto_status impasto_genes_from_image(impasto_ctx *ctx, const impasto_model *adain, const impasto_image *painting,
                                        int style_size, impasto_genes **out);
impasto_status impasto_genes_breed(impasto_ctx *ctx, const impasto_genes *const *parents, size_t n, uint64_t seed,
                                   uint64_t child, double mutation, impasto_genes **out);
impasto_status impasto_genes_load(impasto_ctx *ctx, const char *path, impasto_genes **out);
impasto_status impasto_genes_save(impasto_ctx *ctx, const impasto_genes *g, const char *path);
int impasto_genes_has_covariance(const impasto_genes *g);
size_t impasto_genes_weights(const impasto_genes *g, const double **weights);
void impasto_genes_free(impasto_genes *g);

typedef struct impasto_eval_options {
    const char *content_layers;
    const char *style_layers;
    const char *swd_layers;
    int style_size;
    impasto_pooling pooling;
    int swd_projections;
    uint64_t seed;
} impasto_eval_options;

void impasto_eval_options_init(impasto_eval_options *opt);

typedef struct impasto_eval_result {
    double ssim, psnr, edge;
    int num_content_layers;
    const char *content_layer_name[IMPASTO_MAX_LAYERS];
    double content_layer_loss[IMPASTO_MAX_LAYERS];
    double content_loss;
    int num_style_layers;
    const char *style_layer_name[IMPASTO_MAX_LAYERS];
    double style_layer_loss[IMPASTO_MAX_LAYERS];
    double style_loss;
    int num_swd_layers;
    const char *swd_layer_name[IMPASTO_MAX_LAYERS];
    double swd_layer[IMPASTO_MAX_LAYERS];
    double swd;
    double color;
} impasto_eval_result;

impasto_status impasto_evaluate(impasto_ctx *ctx, const impasto_model *vgg,
                                const impasto_image *output, const impasto_image *content,
                                const impasto_image *const *styles, size_t nstyles,
                                const impasto_eval_options *opt, impasto_eval_result *result);

typedef struct impasto_dream_progress {
    int frame, num_frames;
    int octave, num_octaves;
    int width, height;
    int iteration, num_iterations;
    double objective;
    double done;
    double seconds;
} impasto_dream_progress;
typedef int (*impasto_dream_progress_fn)(const impasto_dream_progress *p, void *user);
typedef int (*impasto_dream_frame_fn)(const impasto_image *frame, int index, void *user);

typedef struct impasto_dream_options {
    const char *layers;
    int image_size;
    int octaves;
    double octave_scale;
    int iterations;
    double learning_rate;
    int jitter;
    const impasto_image *guide;
    int guide_size;
    impasto_pooling pooling;
    int original_colors;
    int tile;
    int tile_halo;
    int64_t seed;
    int zoom_frames;
    double zoom;
    impasto_dream_progress_fn progress;
    impasto_dream_frame_fn frame;
    void *progress_user;
} impasto_dream_options;

void impasto_dream_options_init(impasto_dream_options *opt);
impasto_status impasto_dream(impasto_ctx *ctx, const impasto_model *vgg, const impasto_image *content,
                             const impasto_dream_options *opt, impasto_image **out);
"""
