/* The library's private limits, each defined here once: how much of a file any reader accepts
 * before it allocates, and the sizes shared by several methods. The public limits are in
 * impasto.h (IMPASTO_MAX_SIDE, IMPASTO_MAX_LAYERS, IMPASTO_MAX_SCALES); a format's own fixed
 * numbers (libjpeg's largest side, ncnn's parameter ids) stay with its reader, and an option's
 * range used by one function stays beside its check. docs/robustness.md lists what every reader
 * checks. */
#ifndef IMPASTO_CORE_LIMITS_H
#define IMPASTO_CORE_LIMITS_H

#include <stddef.h>

/* ---- pictures --------------------------------------------------------------------------- */

/* Room for metadata (ICC profiles, EXIF thumbnails, text chunks) on top of the pixel data when
 * bounding the size of an image file read into memory. */
#define IMAGE_FILE_SLACK ((size_t)64 << 20)

/* A valid progressive JPEG needs at most a few dozen scans; thousands of tiny ones are a known
 * way to make a small file take minutes to decode. */
#define IMAGE_JPEG_MAX_SCANS 1000

/* The smallest image size the VGG-19 methods take: transfer's image size and scales (and the
 * smallest its styles are resized to), eval's output and style size, train's image size. (The
 * deepest layer used may need more: vgg19_min_side.) */
#define IMAGE_MIN_SIDE 16

/* ---- WCT (methods/wct.c) ----------------------------------------------------------------- */

/* impasto_wct_styles: regions of a mask, each with its own style; every region holds a few
 * C x C matrices (about 5 MB at relu4_1), so the count is bounded. */
#define WCT_MAX_STYLES 32
/* Positions of one region transformed at a time in pass 2 with a mask (two copies of C x this many
 * floats: 16 MB at relu4_1). */
#define WCT_GATHER ((size_t)4096)

/* ---- DeepDream (methods/dream.c) ------------------------------------------------------------ */

/* The most octaves a dream takes; the guide's default longest side (the notebook's guide is a
 * 224 px picture, the size the network was trained on); the default interior tile side (a plan
 * of 512 + 2 x 88 px to relu4_2 is about 300 MB); the largest halo asked for; the most zoom
 * frames. */
#define DREAM_MAX_OCTAVES 32
#define DREAM_GUIDE_SIZE 224
#define DREAM_DEFAULT_TILE 512
#define DREAM_MAX_HALO 512
#define DREAM_MAX_FRAMES 100000

/* ---- model files ------------------------------------------------------------------------ */

/* Dimensions of a tensor in any model file (safetensors, GraphDef). */
#define TENSOR_MAX_DIMS 8

/* safetensors: larger JSON headers are refused before parsing (a VGG header is ~3 KB and the
 * format's own reference reader stops at 100 MB); the largest file safetensors_open reads. */
#define ST_MAX_HEADER ((size_t)100 * 1000 * 1000)
#define ST_MAX_FILE ((size_t)1 << 36)

/* TensorFlow GraphDef: the largest .pb read; the most elements a tensor given by float_val alone
 * (the last value repeated) may claim; the longest chain of Identity nodes followed to a tensor
 * (so a cycle cannot loop forever). */
#define GD_MAX_FILE ((size_t)1 << 30)
#define GD_MAX_FILLED ((size_t)1 << 24)
#define GD_MAX_IDENTITY_HOPS 16

/* ncnn param files: the file's size, its layer and blob counts, the bottoms or tops of one
 * layer. */
#define NCNN_MAX_PARAM_BYTES ((size_t)16 << 20)
#define NCNN_MAX_LAYERS 65536
#define NCNN_MAX_BLOBS 262144
#define NCNN_MAX_LAYER_IO 256

/* Upstream weights (the VGG-19 manifests and their data, ncnn weight files): the largest JSON
 * manifest, and the largest weights file or TensorFlow.js shard group (VGG-19's biggest
 * convolution is 9.4 MB of float32, a fast style network 3.4 MB). */
#define UPSTREAM_MAX_JSON_BYTES ((size_t)64 << 20)
#define UPSTREAM_MAX_WEIGHTS_BYTES ((size_t)256 << 20)

#endif
