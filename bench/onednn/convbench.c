/* SPDX-License-Identifier: Apache-2.0 */
/* oneDNN convolution micro-benchmark for the library-version decision
 * (issue 11): the convolution shapes that dominate YOLO26n/YOLOv8n at 640,
 * each with bias and a swish post-op, batch 1, timed on whatever oneDNN it
 * is compiled against - the 2.x C API (Debian 12's 2.6) or the 3.x one (the
 * PyPI wheels), chosen at compile time by DNNL_VERSION_MAJOR. Per shape:
 * activations in nChw16c ("blk", what cvbench's fp32 plan uses) and with
 * format_tag_any ("any": the library picks, channels-last brgconv here);
 * median and best of 60 runs after 10 warm-ups, GFLOP = 2 x MAC.
 * Usage: convbench [bf16]   (threads: OMP_NUM_THREADS; run.sh builds both) */
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CK(x) do { dnnl_status_t s_ = (x); if (s_ != dnnl_success) { fprintf(stderr, "%s:%d %s -> %d\n", __FILE__, __LINE__, #x, s_); exit(1); } } while (0)

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct shape { const char *name; int ci, co, k, s, h; int plain_src; };

static void run(dnnl_engine_t eng, dnnl_stream_t st, const struct shape *c, int bf16, int tag_any) {
    int ho = (c->h + 2 * (c->k / 2) - c->k) / c->s + 1;
    dnnl_dims_t sd = {1, c->ci, c->h, c->h}, wd = {c->co, c->ci, c->k, c->k}, bd = {c->co},
                dd = {1, c->co, ho, ho}, strides = {c->s, c->s}, dil = {0, 0},
                pad = {c->k / 2, c->k / 2};
    dnnl_data_type_t adt = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_format_tag_t at = tag_any ? dnnl_format_tag_any : dnnl_nChw16c;
    dnnl_format_tag_t st_tag = c->plain_src ? dnnl_nchw : at;
    dnnl_post_ops_t po;
    dnnl_primitive_attr_t attr;
    CK(dnnl_post_ops_create(&po));
    CK(dnnl_primitive_attr_create(&attr));
    dnnl_primitive_desc_t pd;
#if DNNL_VERSION_MAJOR >= 3
    dnnl_memory_desc_t smd, wmd, bmd, dmd;
    CK(dnnl_memory_desc_create_with_tag(&smd, 4, sd, c->plain_src ? dnnl_f32 : adt, st_tag));
    CK(dnnl_memory_desc_create_with_tag(&wmd, 4, wd, adt, dnnl_format_tag_any));
    CK(dnnl_memory_desc_create_with_tag(&bmd, 1, bd, dnnl_f32, dnnl_a));
    CK(dnnl_memory_desc_create_with_tag(&dmd, 4, dd, dnnl_f32, at));
    CK(dnnl_post_ops_append_eltwise(po, dnnl_eltwise_swish, 1.f, 0.f));
    CK(dnnl_primitive_attr_set_post_ops(attr, po));
    CK(dnnl_convolution_forward_primitive_desc_create(&pd, eng, dnnl_forward_inference,
                                                      dnnl_convolution_direct, smd, wmd, bmd, dmd,
                                                      strides, dil, pad, pad, attr));
    const_dnnl_memory_desc_t qs = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
                             qw = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                             qd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
#else
    dnnl_memory_desc_t smd, wmd, bmd, dmd;
    CK(dnnl_memory_desc_init_by_tag(&smd, 4, sd, c->plain_src ? dnnl_f32 : adt, st_tag));
    CK(dnnl_memory_desc_init_by_tag(&wmd, 4, wd, adt, dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_a));
    CK(dnnl_memory_desc_init_by_tag(&dmd, 4, dd, dnnl_f32, at));
    CK(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_swish, 1.f, 0.f));
    CK(dnnl_primitive_attr_set_post_ops(attr, po));
    dnnl_convolution_desc_t cd;
    CK(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                                  &smd, &wmd, &bmd, &dmd, strides, dil, pad, pad));
    CK(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL));
    const dnnl_memory_desc_t *qs = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
                             *qw = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                             *qd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
#endif
    const char *impl = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    dnnl_primitive_t prim;
    CK(dnnl_primitive_create(&prim, pd));
    dnnl_memory_t ms, mw, mb, md;
#if DNNL_VERSION_MAJOR >= 3
    CK(dnnl_memory_create(&ms, qs, eng, DNNL_MEMORY_ALLOCATE));
    CK(dnnl_memory_create(&mw, qw, eng, DNNL_MEMORY_ALLOCATE));
    CK(dnnl_memory_create(&mb, bmd, eng, DNNL_MEMORY_ALLOCATE));
    CK(dnnl_memory_create(&md, qd, eng, DNNL_MEMORY_ALLOCATE));
#else
    CK(dnnl_memory_create(&ms, qs, eng, DNNL_MEMORY_ALLOCATE));
    CK(dnnl_memory_create(&mw, qw, eng, DNNL_MEMORY_ALLOCATE));
    CK(dnnl_memory_create(&mb, &bmd, eng, DNNL_MEMORY_ALLOCATE));
    CK(dnnl_memory_create(&md, qd, eng, DNNL_MEMORY_ALLOCATE));
#endif
    void *p;
    size_t sz;
    dnnl_memory_get_data_handle(ms, &p);
#if DNNL_VERSION_MAJOR >= 3
    sz = dnnl_memory_desc_get_size(qs);
#else
    sz = dnnl_memory_desc_get_size(qs);
#endif
    memset(p, 0x3c, sz); /* 0x3c3c3c3c: small positive values, no denormals */
    dnnl_memory_get_data_handle(mw, &p);
#if DNNL_VERSION_MAJOR >= 3
    memset(p, 0x3c, dnnl_memory_desc_get_size(qw));
#else
    memset(p, 0x3c, dnnl_memory_desc_get_size(qw));
#endif
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_BIAS, mb}, {DNNL_ARG_DST, md}};
    double t[60];
    for (int i = 0; i < 10; i++) { CK(dnnl_primitive_execute(prim, st, 4, args)); CK(dnnl_stream_wait(st)); }
    for (int i = 0; i < 60; i++) {
        double a = now_ms();
        CK(dnnl_primitive_execute(prim, st, 4, args));
        CK(dnnl_stream_wait(st));
        t[i] = now_ms() - a;
    }
    qsort(t, 60, sizeof *t, cmpd);
    double gf = 2.0 * c->ci * c->co * c->k * c->k * ho * ho / 1e9;
    printf("%-22s %s %s %-34s median %.3f ms  %.0f GFLOP/s (best %.0f)\n", c->name,
           bf16 ? "bf16" : "fp32", tag_any ? "any " : "blk ", impl, t[30], gf / t[30] * 1e3,
           gf / t[0] * 1e3);
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
}

int main(int argc, char **argv) {
    const dnnl_version_t *v = dnnl_version();
    printf("oneDNN %d.%d.%d\n", v->major, v->minor, v->patch);
    dnnl_engine_t eng;
    dnnl_stream_t st;
    CK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CK(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));
    static const struct shape shapes[] = {
        {"stem 3x3s2 3-16 @640", 3, 16, 3, 2, 640, 1},
        {"3x3s2 16-32 @320", 16, 32, 3, 2, 320, 0},
        {"3x3s2 32-64 @160", 32, 64, 3, 2, 160, 0},
        {"3x3s2 64-128 @80", 64, 128, 3, 2, 80, 0},
        {"3x3 64-64 @80", 64, 64, 3, 1, 80, 0},
        {"3x3 16-8 @160", 16, 8, 3, 1, 160, 0},
        {"1x1 192-64 @80", 192, 64, 1, 1, 80, 0},
        {"1x1 48-64 @160", 48, 64, 1, 1, 160, 0},
        {"1x1 256-256 @20", 256, 256, 1, 1, 20, 0},
    };
    int bf16 = argc > 1 && strcmp(argv[1], "bf16") == 0;
    for (size_t i = bf16 ? 1 : 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        run(eng, st, &shapes[i], bf16, 0);
        run(eng, st, &shapes[i], bf16, 1);
    }
    return 0;
}
