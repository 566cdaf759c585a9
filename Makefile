# impasto — build with `make`; `make test` runs everything CI runs; `make SANITIZE=1 test` under ASan+UBSan.
# Sources are found by wildcard: a new file in src/<module>/ joins the library, tests/test_*.c become test binaries.

CC       ?= cc
OPT      ?= -O2
CFLAGS   += $(OPT) -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -fPIC -fopenmp \
            -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-openmp
# OpenBLAS's OpenMP build: it shares impasto's one OpenMP thread pool and is safe to call from
# inside a parallel region (the pthread build races when called concurrently, and its own
# workers spin against OpenMP's for the same cores).
OPENBLAS_DIR ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
LDLIBS   += -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas -lpng -ljpeg -lcjson -lm -fopenmp -lpthread
BUILD    ?= build

ifeq ($(SANITIZE),1)
  BUILD  := build-san
  CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDLIBS += -fsanitize=address,undefined
endif

LIB_SRC  := $(wildcard src/*/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(wildcard cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
EX_SRC   := $(wildcard examples/*.c)
EX_BIN   := $(EX_SRC:examples/%.c=$(BUILD)/examples/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

UPSTREAM ?= ../shared/models/upstream
IMAGES   ?= ../shared/images

.PHONY: all test clean models example bench bench-fast bench-adain bench-train fuzz train-data adain-examples
all: $(BUILD)/impasto $(BUILD)/libimpasto.a $(BUILD)/libimpasto.so $(EX_BIN) $(BENCH_BIN) $(TEST_BIN)

$(BUILD)/%.o: %.c $(wildcard include/*.h src/*/*.h tests/*.h cli/*.h fuzz/*.h bench/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libimpasto.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libimpasto.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS)

$(BUILD)/impasto: $(CLI_OBJ) $(BUILD)/libimpasto.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libimpasto.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/examples/%: $(BUILD)/examples/%.o $(BUILD)/libimpasto.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libimpasto.a
	$(CC) -o $@ $^ $(LDLIBS)

# Converted weights are made from the upstream files, never committed (docs/models.md says where to get them).
FAST_STYLES := candy mosaic pointilism rain_princess udnie
models: models/vgg19.safetensors models/adain.safetensors models/lst-r31.safetensors $(FAST_STYLES:%=models/%.safetensors)
models/vgg19.safetensors: | $(BUILD)/impasto
	@mkdir -p models
	$(BUILD)/impasto convert vgg19 $(UPSTREAM)/vgg19-imagenet-f32-head $(UPSTREAM)/vgg19-imagenet-uint8 -o $@
models/adain.safetensors: | $(BUILD)/impasto
	@mkdir -p models
	$(BUILD)/impasto convert adain $(UPSTREAM)/adain -o $@
# WCT's relu3_1 level (LinearStyleTransfer's encoder/decoder pair, float32).
models/lst-r31.safetensors: | $(BUILD)/impasto
	@mkdir -p models
	$(BUILD)/impasto convert lst-r31 $(UPSTREAM)/lst-r31 -o $@
# The fast-neural-style networks (Johnson et al. 2016): one ncnn param shared by the five styles.
$(FAST_STYLES:%=models/%.safetensors): models/%.safetensors: | $(BUILD)/impasto
	@mkdir -p models
	$(BUILD)/impasto convert ncnn-transformernet --param $(UPSTREAM)/fast-neural-style/transformernet.param.bin \
	    $(UPSTREAM)/fast-neural-style/$*.bin -o $@

# The main job on the bundled example: the photo repainted in the style of the bundled painting.
example: all models
	$(BUILD)/impasto transfer -c examples/images/horses.jpg -s examples/images/scream.jpg \
	    --image-size 256 --num-iterations 200 -o example-out.png

# xunhuang1995/AdaIN-style's README examples side by side (content | style | impasto adain), from
# the shared test images: docs/images/adain-examples.jpg (tools/adain-examples.sh).
adain-examples: all models
	IMPASTO_BUILD=$(BUILD) sh tools/adain-examples.sh $(IMAGES) docs/images/adain-examples.jpg

# Free-licence photographs to train fast style networks on (`impasto train -d data/train`):
# installs the Debian wallpaper packages they come from when missing (docs/training.md).
TRAIN_DATA ?= data/train
train-data:
	bash tools/train-data.sh $(TRAIN_DATA)

test: all models
	IMPASTO_BUILD=$(BUILD) sh tests/run.sh $(TEST_BIN)

bench: all models
	/usr/bin/python3 bench/gatys_bench.py --driver $(BUILD)/bench/bench_gatys --model models/vgg19.safetensors $(BENCH_ARGS)

# The fast style network against PyTorch and onnxruntime (bench/README.md); onnxruntime-node comes from
# `bash tools/install-deps.sh --onnx`, the ONNX file from the converted candy network.
ONNX_MODEL := $(BUILD)/bench/candy.onnx
$(ONNX_MODEL): models/candy.safetensors tools/export_transformernet_onnx.py tools/gen_golden_fast.py
	/usr/bin/python3 tools/export_transformernet_onnx.py models/candy.safetensors $@

bench-fast: all models $(ONNX_MODEL)
	/usr/bin/python3 bench/fast_bench.py --driver $(BUILD)/bench/bench_fast --model models/candy.safetensors \
	    --onnx $(ONNX_MODEL) --node-modules build/bench/node/node_modules $(BENCH_ARGS)

# One training step of the fast style network (256 px, batch 4, TransformerNet + VGG-19 losses + Adam),
# impasto against PyTorch on the same photos, style and starting weights (bench/README.md).
bench-train: all models
	/usr/bin/python3 bench/train_bench.py --driver $(BUILD)/bench/bench_train --model models/vgg19.safetensors $(BENCH_ARGS)

# One AdaIN transfer, 512 content and 512 style, impasto against PyTorch (bench/README.md).
bench-adain: all models
	/usr/bin/python3 bench/adain_bench.py --driver $(BUILD)/bench/bench_adain --model models/adain.safetensors $(BENCH_ARGS)

# Fuzzing (docs/robustness.md): libFuzzer targets over the file readers, built with clang under
# ASan+UBSan (`bash tools/install-deps.sh --fuzz`), each run for FUZZ_SECONDS from freshly generated
# seeds; crashes are minimised into fuzz/regressions/<target>/, which `make test` replays.
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := png jpeg safetensors vgg_manifest ncnn graphdef
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_LIB_SRC := src/core/ctx.c src/core/fileio.c src/io/image.c src/io/png.c src/io/jpeg.c src/io/exif.c \
                src/io/safetensors.c src/io/vgg19_upstream.c src/io/md5.c src/io/ncnn.c src/io/protobuf.c \
                src/io/graphdef.c
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := -O1 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -Iinclude -Isrc \
                -fno-omit-frame-pointer -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -fsanitize=fuzzer-no-link $(FUZZ_SAN)

$(FUZZ_DIR)/obj/%.o: %.c $(wildcard include/*.h src/*/*.h fuzz/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/fuzz/fuzz_%.o $(FUZZ_LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ -lpng -ljpeg -lcjson -lm

$(FUZZ_DIR)/gen_seeds: $(BUILD)/fuzz/gen_seeds.o $(BUILD)/libimpasto.a
	$(CC) -o $@ $^ $(LDLIBS)

.PRECIOUS: $(FUZZ_DIR)/obj/%.o

fuzz: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%) $(FUZZ_DIR)/gen_seeds
	FUZZ_DIR=$(FUZZ_DIR) FUZZ_SECONDS=$(FUZZ_SECONDS) sh fuzz/run.sh $(FUZZ_TARGETS)

clean:
	rm -rf build build-san
