/* libFuzzer target: video demuxing and decoding from memory through a custom AVIOContext
 * (video_reader_open_memory, then impasto_video_read frame by frame). Built by `make fuzz` when
 * impasto is built with FFmpeg (VIDEO=1); see fuzz/fuzz_targets.h and docs/robustness.md. */
#include "fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int well_formed;
    fuzz_run_video(data, size, &well_formed);
    if (!well_formed) __builtin_trap();
    return 0;
}
