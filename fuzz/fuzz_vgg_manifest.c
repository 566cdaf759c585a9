/* libFuzzer target: the upstream VGG-19 manifests (the uint8 manifest.json and the TensorFlow.js
 * model.json) through vgg19_upstream_parse, over a folder of small data files the manifests may
 * name. The first input byte picks the format. Built and run by `make fuzz`; see
 * fuzz/fuzz_targets.h and docs/robustness.md. */
#include "fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int well_formed;
    fuzz_run_manifest(data, size, &well_formed);
    if (!well_formed) __builtin_trap();
    return 0;
}
