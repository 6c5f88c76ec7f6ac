/* SPDX-License-Identifier: Apache-2.0 */
/* cvb_engine_run() allocates nothing itself (DESIGN: bounded memory; the
 * engine header's promise): every buffer a kernel needs is planned at load.
 *
 * This test binary interposes malloc/calloc/realloc/posix_memalign/
 * memalign/aligned_alloc/free (glibc resolves the executable's definitions first)
 * and counts the calls made on any thread (the caller and its OpenMP team:
 * oneDNN's parallel regions allocate on a worker and may free on the
 * caller, so only the process-wide counts balance) while cvb_engine_run()
 * runs, on
 * synthetic YOLOv8n (Conv, Resize, Concat, Split, Softmax ...) and YOLO12n
 * (attention: MatMul, Transpose, Softmax) at 320, after one warm-up run:
 *  - reference kernels: zero allocations (their Conv and Resize used to
 *    allocate a row of accumulators / a tap table per call);
 *  - oneDNN: dnnl_primitive_execute() builds its argument map on the heap
 *    (a few small blocks per primitive, freed before it returns), and
 *    libgomp may allocate a parallel region's team (freed at its end), so
 *    the check is that this is all: the same count every run, and every block
 *    freed by the end of the run (nothing outstanding, nothing grows). */
#include "cvb/engine.h"
#include "cvb/synth.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* AddressSanitizer brings its own malloc: no interposition there. */
#if defined(__SANITIZE_ADDRESS__)
#define CVB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CVB_ASAN 1
#endif
#endif

#ifdef CVB_ASAN
int main(void) {
    printf("SKIP: built with AddressSanitizer, which owns malloc\n");
    return 77;
}
#else
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

extern void __libc_free(void *);

static _Atomic int counting;
static _Atomic long n_alloc, n_free;

void *malloc(size_t n) {
    if (counting) n_alloc++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
    if (counting) n_alloc++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
    if (counting && p == NULL) n_alloc++; /* else a block changes size */
    return __libc_realloc(p, n);
}
int posix_memalign(void **out, size_t al, size_t n) {
    if (counting) n_alloc++;
    void *p = __libc_memalign(al, n);
    if (p == NULL) return 12; /* ENOMEM */
    *out = p;
    return 0;
}
/* libgomp allocates a parallel region's team with memalign when it cannot
 * reuse the last one (our SiLU step's regions between oneDNN's) */
void *memalign(size_t al, size_t n) {
    if (counting) n_alloc++;
    return __libc_memalign(al, n);
}
void *aligned_alloc(size_t al, size_t n) {
    if (counting) n_alloc++;
    return __libc_memalign(al, n);
}
void free(void *p) {
    if (counting && p != NULL) n_free++;
    __libc_free(p);
}

static void check(const char *arch, enum cvb_kernels kern) {
    struct cvb_synth_opts so = {.arch = arch, .imgsz = 320, .seed = 5};
    struct cvb_err err = {0};
    void *buf = NULL;
    size_t len = 0;
    struct cvb_engine *e = NULL;
    float *x = NULL, *y[4] = {NULL, NULL, NULL, NULL};
    CHECK(cvb_synth_model_buffer(&so, &buf, &len, NULL, &err) == 0);
    if (buf == NULL) return;
    struct cvb_engine_opts o = {.kernels = kern, .threads = 1};
    CHECK(cvb_engine_load_buffer(buf, len, arch, &o, &e, &err) == 0);
    if (e == NULL) goto out;
    struct cvb_tensor_info in;
    CHECK_EQ_INT(cvb_engine_input_info(e, 0, &in), 0);
    x = calloc(1, in.bytes);
    int no = cvb_engine_n_outputs(e);
    CHECK(no >= 1 && no <= 4);
    if (x == NULL || no < 1 || no > 4) goto out;
    void *outs[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < no; i++) {
        struct cvb_tensor_info oi;
        CHECK_EQ_INT(cvb_engine_output_info(e, i, &oi), 0);
        outs[i] = y[i] = malloc(oi.bytes);
    }
    for (size_t i = 0; i < in.bytes / sizeof(float); i++) x[i] = (float)(i % 251) / 251.f;
    const void *ins[1] = {x};
    CHECK_EQ_INT(cvb_engine_run(e, ins, outs, &err), 0);
    long a[2], f[2];
    for (int r = 0; r < 2; r++) {
        n_alloc = n_free = 0;
        counting = 1;
        int rc = cvb_engine_run(e, ins, outs, &err);
        counting = 0;
        CHECK_EQ_INT(rc, 0);
        a[r] = n_alloc;
        f[r] = n_free;
    }
    printf("  %s, %s kernels: %ld / %ld allocations in run(), %ld / %ld frees\n", arch,
           kern == CVB_KERNELS_REF ? "reference" : "oneDNN", a[0], a[1], f[0], f[1]);
    if (kern == CVB_KERNELS_REF) {
        CHECK(a[0] == 0 && a[1] == 0);
    } else {
        CHECK(a[0] == a[1]); /* no growth from run to run */
        CHECK(f[0] == a[0] && f[1] == a[1]); /* nothing left outstanding */
    }
out:
    free(x);
    for (int i = 0; i < 4; i++) free(y[i]);
    cvb_engine_free(e);
    free(buf);
}

static void test_no_allocation_in_run(void) {
    check("yolov8n", CVB_KERNELS_REF);
    check("yolov8n", CVB_KERNELS_ONEDNN);
    check("yolo12n", CVB_KERNELS_REF);
    check("yolo12n", CVB_KERNELS_ONEDNN);
}

int main(void) {
    RUN(test_no_allocation_in_run);
    return test_summary();
}
#endif
