/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 against the FIPS 180-4 example vectors (NIST CSRC examples) and
 * split updates against one-shot digests. */
#include "cvb/sha256.h"
#include "test.h"

static void test_vectors(void) {
    char hex[65];
    cvb_sha256_hex("", 0, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    cvb_sha256_hex("abc", 3, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    cvb_sha256_hex(m, strlen(m), hex);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
}

static void test_million_a(void) {
    struct cvb_sha256 c;
    uint8_t d[32], chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    cvb_sha256_init(&c);
    for (int i = 0; i < 1000; i++) cvb_sha256_update(&c, chunk, sizeof chunk);
    cvb_sha256_final(&c, d);
    static const uint8_t want[32] = {0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92,
                                     0x81, 0xa1, 0xc7, 0xe2, 0x84, 0xd7, 0x3e, 0x67,
                                     0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97, 0x20, 0x0e,
                                     0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0};
    CHECK(memcmp(d, want, 32) == 0);
}

static void test_split_updates(void) {
    uint8_t data[300];
    for (int i = 0; i < 300; i++) data[i] = (uint8_t)(i * 7 + 3);
    for (size_t len = 0; len <= 300; len += 11) {
        char one[65], two[65];
        cvb_sha256_hex(data, len, one);
        struct cvb_sha256 c;
        uint8_t d[32];
        cvb_sha256_init(&c);
        for (size_t i = 0; i < len;) {
            size_t step = 1 + (i % 70);
            if (step > len - i) step = len - i;
            cvb_sha256_update(&c, data + i, step);
            i += step;
        }
        cvb_sha256_final(&c, d);
        for (int i = 0; i < 32; i++) snprintf(two + 2 * i, 3, "%02x", d[i]);
        CHECK(strcmp(one, two) == 0);
    }
}

static void test_file(void) {
    char path[] = "/tmp/cvb-sha-XXXXXX", hex[65];
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    fputs("abc", f);
    fclose(f);
    struct cvb_err err = {0};
    CHECK(cvb_sha256_file(path, hex, &err) == 0);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    remove(path);
    CHECK(cvb_sha256_file("/nonexistent/x.onnx", hex, &err) == CVB_EIO);
    CHECK(strstr(err.msg, "/nonexistent/x.onnx") != NULL);
}

int main(void) {
    RUN(test_vectors);
    RUN(test_million_a);
    RUN(test_split_updates);
    RUN(test_file);
    return test_summary();
}
