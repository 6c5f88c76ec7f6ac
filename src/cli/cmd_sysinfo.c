/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench sysinfo`: what the CPU offers and what oneDNN makes of it.
 *
 * Prints the CPU model, the instruction-set flags that matter for
 * inference (from /proc/cpuinfo), the ISA oneDNN picked (after an optional
 * --isa cap, checked exactly as the engine checks it), its threading
 * runtime and the thread count an engine uses by default. */
#include "cli/cli.h"
#include "cvb/engine.h"
#include "engine/kernels/onednn/dnn.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static const char *const flags[] = {"amx_tile",    "amx_int8", "amx_bf16", "avx512_bf16",
                                    "avx512_vnni", "avx512f",  "avx2"};

int cvb__cmd_sysinfo(int argc, char **argv) {
    bool json = false;
    const char *isa = NULL;
    struct cvb_err err = {0};
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'},
                                             {"isa", required_argument, 0, 'i'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "ji:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'i': isa = optarg; break;
        case 'h':
            printf("usage: cvbench sysinfo [--json] [--isa auto|amx|avx512_vnni|avx512|avx2]\n");
            return CVB_EXIT_OK;
        default: return CVB_EXIT_USAGE;
        }
    }
    if (optind < argc) return cvb__cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (isa != NULL && cvb__dnn_set_isa(isa, &err) < 0) return cvb__cli_fail(&err);
    char model[256];
    cvb__cpu_model(model, sizeof model);
    const char *eff = cvb__dnn_effective_isa();
    int threads = cvb_engine_default_threads();
    int omp_max = 0;
#ifdef _OPENMP
    omp_max = omp_get_max_threads();
#endif
    if (json) {
        printf("{\"cpu\": \"%s\", \"flags\": {", model);
        for (size_t i = 0; i < CVB_ARRAY_LEN(flags); i++)
            printf("%s\"%s\": %s", i ? ", " : "", flags[i], cvb__cpu_has(flags[i]) ? "true" : "false");
        printf("}, \"onednn_isa\": \"%s\", \"isa_cap\": \"%s\", \"threading\": \"%s\", "
               "\"threads\": %d, \"omp_max_threads\": %d}\n",
               eff, isa != NULL ? isa : "auto", cvb__dnn_runtime(), threads, omp_max);
        return CVB_EXIT_OK;
    }
    printf("cpu:          %s\n", model);
    printf("flags:       ");
    for (size_t i = 0; i < CVB_ARRAY_LEN(flags); i++)
        printf(" %s=%s", flags[i], cvb__cpu_has(flags[i]) ? "yes" : "no");
    printf("\n");
    if (isa != NULL)
        printf("onednn isa:   %s (cap %s)\n", eff, isa);
    else
        printf("onednn isa:   %s\n", eff);
    printf("threading:    %s\n", cvb__dnn_runtime());
    printf("threads:      %d (cores this process may use; engine default)\n", threads);
    return CVB_EXIT_OK;
}
