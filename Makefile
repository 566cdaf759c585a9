# impasto — build with `make`; `make test` runs everything CI runs; `make SANITIZE=1 test` under ASan+UBSan.
# Sources are found by wildcard: a new file in src/<module>/ joins the library, tests/test_*.c become test binaries.

CC       ?= cc
OPT      ?= -O2
CFLAGS   += $(OPT) -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -fPIC -fopenmp \
            -Iinclude -Isrc -Icluster -I/usr/include/x86_64-linux-gnu/openblas-openmp
# OpenBLAS's OpenMP build: it shares impasto's one OpenMP thread pool and is safe to call from
# inside a parallel region (the pthread build races when called concurrently, and its own
# workers spin against OpenMP's for the same cores).
OPENBLAS_DIR ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
LDLIBS   += -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas -lpng -ljpeg -lcjson -lm -fopenmp -lpthread
BUILD    ?= build

# Video (impasto video, src/video/): FFmpeg's libraries, found with pkg-config. VIDEO=1 requires
# them, VIDEO=0 builds without (impasto video then says so); by default they are used when found.
VIDEO_PKGS := libavformat libavcodec libswscale libavutil
ifeq ($(origin VIDEO),undefined)
  VIDEO := $(shell pkg-config --exists $(VIDEO_PKGS) 2>/dev/null && echo 1 || echo 0)
endif
ifeq ($(VIDEO),1)
  VIDEO_CFLAGS := -DIMPASTO_VIDEO $(shell pkg-config --cflags $(VIDEO_PKGS))
  VIDEO_LIBS   := $(shell pkg-config --libs $(VIDEO_PKGS))
  ifeq ($(VIDEO_LIBS),)
    $(error VIDEO=1 but pkg-config does not find $(VIDEO_PKGS): bash tools/install-deps.sh --video)
  endif
  CFLAGS += $(VIDEO_CFLAGS)
  LDLIBS += $(VIDEO_LIBS)
endif

ifeq ($(SANITIZE),1)
  BUILD  := build-san
  CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDLIBS += -fsanitize=address,undefined
endif

# impasto serve (serve/, docs/serve.md) needs libmicrohttpd: built when pkg-config finds it
# (`bash tools/install-deps.sh --serve`), or as SERVE=1 / SERVE=0 says. Without it the command
# still exists and says it was built without the server.
SERVE    ?= $(shell pkg-config --exists libmicrohttpd 2>/dev/null && echo 1 || echo 0)
ifeq ($(SERVE),1)
  SERVE_SRC   := $(wildcard serve/*.c)
  SERVE_OBJ   := $(SERVE_SRC:%.c=$(BUILD)/%.o) $(BUILD)/serve/page_files.o
  SERVE_CFLAGS := -DIMPASTO_HAVE_MHD -Iserve $(shell pkg-config --cflags libmicrohttpd)
  SERVE_LIBS  := $(shell pkg-config --libs libmicrohttpd)
endif
# The page's files, linked in as they are (serve/page.c names their symbols).
PAGE_FILES := serve/page/index.html serve/page/style.css serve/page/app.js

LIB_SRC  := $(wildcard src/*/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(wildcard cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
# Clusters (docs/cluster.md): build/impasto is one process and never needs MPI; with MPI=1
# (the default where Open MPI's mpicc is installed; MPI=0 turns it off) build/impasto-mpi is
# the same CLI joining mpirun/srun jobs through cluster/mpi.c.
MPI      ?= $(if $(shell command -v mpicc 2>/dev/null),1,0)
MPI_BIN  := $(if $(filter 1,$(MPI)),$(BUILD)/impasto-mpi)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
EX_SRC   := $(wildcard examples/*.c)
EX_BIN   := $(EX_SRC:examples/%.c=$(BUILD)/examples/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

UPSTREAM ?= ../shared/models/upstream
IMAGES   ?= ../shared/images

# The version's one definition is in include/impasto.h (IMPASTO_VERSION_MAJOR/MINOR/PATCH). The
# shared library is libimpasto.so.MAJOR.MINOR.PATCH with SONAME libimpasto.so.MAJOR; before 1.0
# there is no ABI promise (the header's top comment).
version_number = $(shell sed -n 's/^.define IMPASTO_VERSION_$(1) \([0-9][0-9]*\)$$/\1/p' include/impasto.h)
VERSION_MAJOR := $(call version_number,MAJOR)
VERSION_MINOR := $(call version_number,MINOR)
VERSION_PATCH := $(call version_number,PATCH)
ifeq ($(VERSION_MAJOR)$(VERSION_MINOR)$(VERSION_PATCH),)
  $(error cannot read IMPASTO_VERSION_MAJOR/MINOR/PATCH from include/impasto.h)
endif
VERSION  := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
SONAME   := libimpasto.so.$(VERSION_MAJOR)
SO_FILE  := libimpasto.so.$(VERSION)
OBJCOPY  ?= objcopy

# `make install`: DESTDIR is prepended to every path (staged installs); the .pc file names the
# final ones.
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
DATADIR      ?= $(PREFIX)/share
MANDIR       ?= $(DATADIR)/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BASHCOMPDIR  ?= $(DATADIR)/bash-completion/completions
MODELDIR     ?= $(DATADIR)/impasto/models
INSTALL      ?= install
# The OpenMP runtime a static link needs (GCC's; libimpasto calls GOMP_* directly).
OPENMP_LIBS  ?= -lgomp

.PHONY: all test clean wheel fetch-models models example bench bench-fast bench-adain bench-train bench-gan bench-video bench-flow fuzz train-data gan-data adain-examples
.PHONY: install uninstall install-models man completion
all: $(BUILD)/impasto $(MPI_BIN) $(BUILD)/libimpasto.a $(BUILD)/libimpasto.so $(EX_BIN) $(BENCH_BIN) $(TEST_BIN) \
     $(BUILD)/impasto.1 $(BUILD)/impasto.bash-completion

$(BUILD)/%.o: %.c $(wildcard include/*.h src/*/*.h tests/*.h cli/*.h fuzz/*.h bench/*.h cluster/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Objects that see IMPASTO_VIDEO are rebuilt when VIDEO changes.
VIDEO_STAMP := $(BUILD)/video-$(VIDEO).stamp
$(VIDEO_STAMP):
	@mkdir -p $(BUILD) && rm -f $(BUILD)/video-*.stamp && touch $@
$(filter $(BUILD)/src/video/%,$(LIB_OBJ)) $(CLI_OBJ) $(TEST_BIN:%=%.o) $(BUILD)/fuzz/gen_seeds.o: $(VIDEO_STAMP)

# Only impasto_* symbols leave the library, so a program's own `gemm` or `file_read_all` cannot
# clash with ours and internals cannot be called as if they were API. libimpasto.so: a linker
# version script (src/impasto.map). libimpasto.a: every object is linked into one relocatable
# object first (so calls between modules are resolved inside it), then every global but
# impasto_* is made local. Tests, benchmarks and the fuzz seed generator call internal functions
# directly: they link libimpasto_internal.a, the same objects with all their symbols (never
# installed). The CLI and the examples link the public libimpasto.a, so an internal call from
# them fails the build.
$(BUILD)/libimpasto_internal.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/libimpasto-public.o: $(LIB_OBJ)
	$(LD) -r -o $@ $^
	$(OBJCOPY) --wildcard --keep-global-symbol='impasto_*' $@

$(BUILD)/libimpasto.a: $(BUILD)/libimpasto-public.o
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/$(SO_FILE): $(LIB_OBJ) src/impasto.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/impasto.map -o $@ $(LIB_OBJ) $(LDLIBS)

$(BUILD)/$(SONAME): $(BUILD)/$(SO_FILE)
	ln -sf $(SO_FILE) $@

$(BUILD)/libimpasto.so: $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

$(BUILD)/impasto: $(CLI_OBJ) $(SERVE_OBJ) $(BUILD)/cluster/single.o $(BUILD)/libimpasto.a
	$(CC) -o $@ $^ $(LDLIBS) $(SERVE_LIBS)

# cmd_serve.o is remade when SERVE changes (the stamp's name changes with it).
$(BUILD)/.serve-$(SERVE):
	@mkdir -p $(dir $@) && rm -f $(BUILD)/.serve-* && touch $@
$(BUILD)/cli/cmd_serve.o: $(BUILD)/.serve-$(SERVE)
$(BUILD)/cli/cmd_serve.o $(SERVE_SRC:%.c=$(BUILD)/%.o): CFLAGS += $(SERVE_CFLAGS)
$(BUILD)/serve/%.o: serve/%.c $(wildcard include/*.h serve/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/serve/page_files.o: $(PAGE_FILES)
	@mkdir -p $(dir $@)
	cd serve/page && $(LD) -r -b binary -z noexecstack -o $(CURDIR)/$@ $(notdir $(PAGE_FILES))

$(BUILD)/cluster/mpi.o: cluster/mpi.c cluster/cluster.h include/impasto.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell mpicc --showme:compile) -c $< -o $@

$(BUILD)/impasto-mpi: $(CLI_OBJ) $(SERVE_OBJ) $(BUILD)/cluster/mpi.o $(BUILD)/libimpasto.a
	$(CC) -o $@ $^ $(LDLIBS) $(SERVE_LIBS) $(shell mpicc --showme:link)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libimpasto_internal.a
	$(CC) -o $@ $^ $(LDLIBS)

# The ABI test uses the public API only and defines functions named like library internals:
# linked against the public archive, it fails to link if any internal symbol is still global.
$(BUILD)/tests/test_abi: $(BUILD)/tests/test_abi.o $(BUILD)/libimpasto.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/examples/%: $(BUILD)/examples/%.o $(BUILD)/libimpasto.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libimpasto_internal.a
	$(CC) -o $@ $^ $(LDLIBS)

# Converted weights are made from the upstream files, never committed (docs/models.md says where to get them).
FAST_STYLES := candy mosaic pointilism rain_princess udnie
MODEL_FILES := models/vgg19.safetensors models/adain.safetensors models/lst-r31.safetensors $(FAST_STYLES:%=models/%.safetensors)
models: $(MODEL_FILES)
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
# bench-train's photos: made once by train-data (its README lists every photo's licence).
$(TRAIN_DATA)/README.md:
	bash tools/train-data.sh $(TRAIN_DATA)

# CycleGAN's unpaired domains (photo <-> painting): monet/ and vangogh/ from $(IMAGES)/paintings (hard
# links or copies), photos/ a link to train-data's photographs (made first when missing); README.md gives
# the provenance and licences (tools/gan-data.sh).
GAN_DATA ?= data/gan
gan-data:
	IMAGES=$(IMAGES) TRAIN_DATA=$(TRAIN_DATA) bash tools/gan-data.sh $(GAN_DATA)

test: all models
	IMPASTO_BUILD=$(BUILD) sh tests/run.sh $(TEST_BIN)

# The upstream weights from their pinned public addresses (or MODELS_MIRROR=URL), checked and
# converted into models/ (docs/models.md, "Downloading the weights").
FETCH_DEST ?= models/upstream
fetch-models: $(BUILD)/impasto
	sh tools/fetch-models.sh --dest $(FETCH_DEST) --models models --convert $(BUILD)/impasto \
	    $(if $(MODELS_MIRROR),--mirror $(MODELS_MIRROR))

# The Python package as a wheel with libimpasto.so inside (python/README.md), built offline:
# `pip install --no-index build/dist/impasto-*.whl` is all a Python user needs besides the models.
wheel: $(BUILD)/libimpasto.so
	bash python/build_wheel.sh $(BUILD)/libimpasto.so build/dist

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
bench-train: all models $(TRAIN_DATA)/README.md
	/usr/bin/python3 bench/train_bench.py --driver $(BUILD)/bench/bench_train --model models/vgg19.safetensors $(BENCH_ARGS)

# One AdaIN transfer, 512 content and 512 style, impasto against PyTorch (bench/README.md).
bench-adain: all models
	/usr/bin/python3 bench/adain_bench.py --driver $(BUILD)/bench/bench_adain --model models/adain.safetensors $(BENCH_ARGS)

# impasto video's frames per second at 640x360 and 1280x720, fast and AdaIN, with and without temporal
# consistency (bench/README.md, "Video"); needs VIDEO=1 and `bash tools/install-deps.sh --video`.
bench-video: all models
	/usr/bin/python3 bench/video_bench.py --impasto $(BUILD)/impasto $(BENCH_ARGS)

# impasto's DIS optical flow against OpenCV's cv2.DISOpticalFlow (fast and medium presets) on frames
# of opencv-doc's vtest.avi at 640x360 and 1280x720 (`bash tools/install-deps.sh --video`; bench/README.md).
bench-flow: all
	/usr/bin/python3 bench/flow_bench.py --driver $(BUILD)/bench/bench_flow $(BENCH_ARGS)

bench-gan: all
	/usr/bin/python3 bench/gan_bench.py --driver $(BUILD)/bench/bench_gan $(BENCH_ARGS)

# Fuzzing (docs/robustness.md): libFuzzer targets over the file readers, built with clang under
# ASan+UBSan (`bash tools/install-deps.sh --fuzz`), each run for FUZZ_SECONDS from freshly generated
# seeds; crashes are minimised into fuzz/regressions/<target>/, which `make test` replays.
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := png jpeg safetensors vgg_manifest ncnn graphdef pth gan_model $(if $(filter 1,$(VIDEO)),video)
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_LIB_SRC := src/core/ctx.c src/core/fileio.c src/core/image.c \
                src/io/image.c src/io/png.c src/io/jpeg.c src/io/exif.c \
                src/formats/safetensors.c src/formats/vgg19_upstream.c src/formats/md5.c src/formats/ncnn.c \
                src/formats/protobuf.c src/formats/graphdef.c \
                src/formats/zip.c src/formats/pickle.c src/formats/pth.c \
                src/core/rng.c src/models/net.c src/models/gan_nets.c src/models/gan_file.c src/formats/convert_gan.c src/methods/gan_model.c \
                $(if $(filter 1,$(VIDEO)),src/video/reader.c src/io/resample.c)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := -O1 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -Iinclude -Isrc \
                -fno-omit-frame-pointer -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -fsanitize=fuzzer-no-link $(FUZZ_SAN) \
                $(VIDEO_CFLAGS)

$(FUZZ_DIR)/obj/%.o: %.c $(wildcard include/*.h src/*/*.h fuzz/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/fuzz/fuzz_%.o $(FUZZ_LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ -lpng -ljpeg -lcjson -lm $(VIDEO_LIBS)

$(FUZZ_DIR)/gen_seeds: $(BUILD)/fuzz/gen_seeds.o $(BUILD)/libimpasto_internal.a
	$(CC) -o $@ $^ $(LDLIBS)

.PRECIOUS: $(FUZZ_DIR)/obj/%.o

fuzz: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%) $(FUZZ_DIR)/gen_seeds
	FUZZ_DIR=$(FUZZ_DIR) FUZZ_SECONDS=$(FUZZ_SECONDS) sh fuzz/run.sh $(FUZZ_TARGETS)

# The manual page and the bash completion are printed by the CLI itself (`impasto --man`,
# `impasto --completion bash`, still to be written): fill in these two recipes then. Until they
# make their files, `make install` installs neither.
man: $(BUILD)/impasto.1
completion: $(BUILD)/impasto.bash-completion
# Both are generated from the CLI's option tables, so they cannot disagree with --help.
$(BUILD)/impasto.1: $(BUILD)/impasto
	$(BUILD)/impasto help --man >$@.tmp && mv $@.tmp $@
$(BUILD)/impasto.bash-completion: $(BUILD)/impasto
	$(BUILD)/impasto help --bash-completion >$@.tmp && mv $@.tmp $@

# Installs the CLI, the header, both libraries and impasto.pc (tests/cli/test_install.sh checks the
# result); `make install-models` adds the converted models. The .pc file is made on every install
# because it holds PREFIX, LIBDIR and INCLUDEDIR.
install: $(BUILD)/impasto $(MPI_BIN) $(BUILD)/libimpasto.a $(BUILD)/libimpasto.so $(BUILD)/impasto.1 \
         $(BUILD)/impasto.bash-completion
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(LIBDIR)" \
	    "$(DESTDIR)$(PKGCONFIGDIR)"
	$(INSTALL) -m 755 $(BUILD)/impasto "$(DESTDIR)$(BINDIR)/impasto"
	$(if $(MPI_BIN),$(INSTALL) -m 755 $(MPI_BIN) "$(DESTDIR)$(BINDIR)/impasto-mpi")
	$(INSTALL) -m 644 include/impasto.h "$(DESTDIR)$(INCLUDEDIR)/impasto.h"
	$(INSTALL) -m 755 $(BUILD)/$(SO_FILE) "$(DESTDIR)$(LIBDIR)/$(SO_FILE)"
	ln -sf $(SO_FILE) "$(DESTDIR)$(LIBDIR)/$(SONAME)"
	ln -sf $(SONAME) "$(DESTDIR)$(LIBDIR)/libimpasto.so"
	$(INSTALL) -m 644 $(BUILD)/libimpasto.a "$(DESTDIR)$(LIBDIR)/libimpasto.a"
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' -e 's|@OPENBLAS_DIR@|$(OPENBLAS_DIR)|g' \
	    -e 's|@OPENMP_LIBS@|$(OPENMP_LIBS)|g' -e 's|@VIDEO_LIBS@|$(if $(filter 1,$(VIDEO)), $(shell pkg-config --libs $(VIDEO_PKGS)))|g' \
	    impasto.pc.in >$(BUILD)/impasto.pc
	$(INSTALL) -m 644 $(BUILD)/impasto.pc "$(DESTDIR)$(PKGCONFIGDIR)/impasto.pc"
	$(INSTALL) -d "$(DESTDIR)$(DATADIR)/impasto"
	$(INSTALL) -m 644 tools/fetch-models.sh tools/models.list "$(DESTDIR)$(DATADIR)/impasto"
	if [ -f $(BUILD)/impasto.1 ]; then \
	    $(INSTALL) -d "$(DESTDIR)$(MANDIR)/man1" && \
	    $(INSTALL) -m 644 $(BUILD)/impasto.1 "$(DESTDIR)$(MANDIR)/man1/impasto.1"; fi
	if [ -f $(BUILD)/impasto.bash-completion ]; then \
	    $(INSTALL) -d "$(DESTDIR)$(BASHCOMPDIR)" && \
	    $(INSTALL) -m 644 $(BUILD)/impasto.bash-completion "$(DESTDIR)$(BASHCOMPDIR)/impasto"; fi

# The converted models (made by `make models` when missing) into $(DATADIR)/impasto/models.
install-models: $(MODEL_FILES)
	$(INSTALL) -d "$(DESTDIR)$(MODELDIR)"
	$(INSTALL) -m 644 $(MODEL_FILES) "$(DESTDIR)$(MODELDIR)"

# Removes what install and install-models put in place, and the models' folders when that
# leaves them empty (a file someone else put there is kept); shared folders (bin, lib, ...) stay.
uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/impasto" "$(DESTDIR)$(BINDIR)/impasto-mpi" "$(DESTDIR)$(INCLUDEDIR)/impasto.h" \
	    "$(DESTDIR)$(LIBDIR)/$(SO_FILE)" "$(DESTDIR)$(LIBDIR)/$(SONAME)" \
	    "$(DESTDIR)$(LIBDIR)/libimpasto.so" "$(DESTDIR)$(LIBDIR)/libimpasto.a" \
	    "$(DESTDIR)$(PKGCONFIGDIR)/impasto.pc" "$(DESTDIR)$(MANDIR)/man1/impasto.1" \
	    "$(DESTDIR)$(BASHCOMPDIR)/impasto" "$(DESTDIR)$(DATADIR)/impasto/fetch-models.sh" \
	    "$(DESTDIR)$(DATADIR)/impasto/models.list" \
	    $(foreach m,$(MODEL_FILES),"$(DESTDIR)$(MODELDIR)/$(notdir $(m))")
	rmdir "$(DESTDIR)$(MODELDIR)" "$(DESTDIR)$(DATADIR)/impasto" 2>/dev/null || true

clean:
	rm -rf build build-san
