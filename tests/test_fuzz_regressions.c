/* Replays every input under fuzz/regressions/<target>/ (crashes `make fuzz` found, minimised, and
 * hand-made hostile files) through the fuzz targets' own entry points (fuzz/fuzz_targets.h): each
 * must come back, with a status and, when it failed, a message. Plain gcc here; under
 * `make SANITIZE=1 test` ASan and UBSan also check every byte touched. Run from the repository
 * root (as `make test` does). */
#include "../fuzz/fuzz_targets.h"
#include "test.h"

#include <dirent.h>

#define REPLAY_MAX_BYTES ((size_t)16 << 20)

typedef impasto_status (*run_fn)(const uint8_t *data, size_t size, int *well_formed);

static impasto_status run_png(const uint8_t *d, size_t n, int *wf) { return fuzz_run_image(d, n, 1, wf); }
static impasto_status run_jpeg(const uint8_t *d, size_t n, int *wf) { return fuzz_run_image(d, n, 0, wf); }

static int read_input(const char *path, unsigned char **data, size_t *size) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    unsigned char *buf = malloc(REPLAY_MAX_BYTES);
    size_t n = buf ? fread(buf, 1, REPLAY_MAX_BYTES, fp) : 0;
    int ok = buf && !ferror(fp) && n < REPLAY_MAX_BYTES;
    fclose(fp);
    if (!ok) {
        free(buf);
        return 0;
    }
    *data = buf;
    *size = n;
    return 1;
}

/* Every regular file in fuzz/regressions/<target>; returns how many were replayed. */
static int replay(const char *target, run_fn run) {
    char dir[256];
    snprintf(dir, sizeof dir, "fuzz/regressions/%s", target);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int count = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unsigned char *data;
        size_t size;
        if (!read_input(path, &data, &size)) {
            CHECK_MSG(0, "cannot read %s", path);
            continue;
        }
        int well_formed = 0;
        impasto_status s = run(data, size, &well_formed);
        CHECK_MSG(well_formed, "%s: status %d (%s) without a message, or bad output", path, (int)s,
                  impasto_status_string(s));
        free(data);
        count++;
    }
    closedir(d);
    return count;
}

static void test_png(void) { replay("png", run_png); }
static void test_jpeg(void) { replay("jpeg", run_jpeg); }
static void test_safetensors(void) { replay("safetensors", fuzz_run_safetensors); }
static void test_vgg_manifest(void) { replay("vgg_manifest", fuzz_run_manifest); }
static void test_ncnn(void) { CHECK(replay("ncnn", fuzz_run_ncnn) >= 5); }
static void test_graphdef(void) { replay("graphdef", fuzz_run_graphdef); }
static void test_pth(void) { CHECK(replay("pth", fuzz_run_pth) >= 30); }
static void test_gan_model(void) { CHECK(replay("gan_model", fuzz_run_gan_model) >= 6); }
#ifdef IMPASTO_VIDEO
static void test_video(void) { CHECK(replay("video", fuzz_run_video) >= 3); }
#endif

/* The folder is where `make test` expects it: a run from elsewhere would silently replay nothing. */
static void test_found_regressions(void) {
    DIR *d = opendir("fuzz/regressions");
    CHECK_MSG(d != NULL, "fuzz/regressions not found: run from the repository root");
    if (d) closedir(d);
}

/* The entry points themselves decide: a valid input is accepted, a hostile one refused with a
 * message (so a replay that passes is not passing because nothing ran). */
static void test_entry_points_discriminate(void) {
    static const unsigned char png_huge[] = {
        0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
        0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 8, 2, 0, 0, 0, 0, 0, 0, 0};
    int wf = 0;
    impasto_status s = fuzz_run_image(png_huge, sizeof png_huge, 1, &wf);
    CHECK(s == IMPASTO_ERR_TOO_LARGE && wf);
    static const char st_ok[] = "\x08\0\0\0\0\0\0\0{}      ";
    CHECK(fuzz_run_safetensors((const uint8_t *)st_ok, sizeof st_ok - 1, &wf) == IMPASTO_OK && wf);
    static const char man_bad[] = "\0{\"weights\":{\"conv1_1/kernel\":{\"filename\":\"../x\"}}}";
    s = fuzz_run_manifest((const uint8_t *)man_bad, sizeof man_bad - 1, &wf);
    CHECK(s == IMPASTO_ERR_FORMAT && wf);
    /* ncnn: an Input and a ReLU are a valid param; a float16 blob of 2 values reads. */
    static const unsigned char ncnn_ok[] = {0, 0xdd, 0x85, 0x76, 0, 2, 0, 0, 0, 2, 0, 0, 0,
        16, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x17, 0xff, 0xff, 0xff,
        26, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x17, 0xff, 0xff, 0xff};
    CHECK(fuzz_run_ncnn(ncnn_ok, sizeof ncnn_ok, &wf) == IMPASTO_OK && wf);
    static const unsigned char ncnn_f16[] = {5, 0x47, 0x6b, 0x30, 0x01, 0, 0x3c, 0, 0xc0};
    CHECK(fuzz_run_ncnn(ncnn_f16, sizeof ncnn_f16, &wf) == IMPASTO_OK && wf);
    CHECK(fuzz_run_ncnn(ncnn_f16, sizeof ncnn_f16 - 1, &wf) == IMPASTO_ERR_FORMAT && wf);
    /* pth: a checkpoint torch.save wrote reads; a pickle naming os.system is refused. */
    const char *pth[2] = {"tests/data/pth/tiny.pth", "fuzz/regressions/pth/hostile-global-os-system.pth"};
    for (int i = 0; i < 2; i++) {
        unsigned char *data = NULL;
        size_t size = 0;
        CHECK_MSG(read_input(pth[i], &data, &size), "cannot read %s", pth[i]);
        if (!data) continue;
        s = fuzz_run_pth(data, size, &wf);
        CHECK_MSG(s == (i ? IMPASTO_ERR_UNSUPPORTED : IMPASTO_OK) && wf, "%s: status %d", pth[i], (int)s);
        free(data);
    }
}

int main(void) {
    RUN(test_found_regressions);
    RUN(test_entry_points_discriminate);
    RUN(test_png);
    RUN(test_jpeg);
    RUN(test_safetensors);
    RUN(test_vgg_manifest);
    RUN(test_ncnn);
    RUN(test_graphdef);
    RUN(test_pth);
    RUN(test_gan_model);
#ifdef IMPASTO_VIDEO
    RUN(test_video);
#endif
    return test_summary();
}
