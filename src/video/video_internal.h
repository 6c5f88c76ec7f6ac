/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the src/video/ files (image.c, video.c, vsynth.c); not
 * part of the public API and never included outside src/video/.
 *
 * image.c owns the FFmpeg log routing and the per-thread "last FFmpeg error
 * line" that error messages quote; video.c and vsynth.c use them through the
 * functions below rather than keeping their own copies. */
#ifndef CVB_VIDEO_INTERNAL_H
#define CVB_VIDEO_INTERNAL_H

#include "cvb/video.h"

#include <stddef.h>
#include <stdint.h>

/* Install the FFmpeg log routing (FFmpeg warnings and errors go to the
 * cvbench logger at debug level). Idempotent and thread-safe; every public
 * entry point of src/video/ calls it first. */
void cvb__video_init(void);

/* Forget the calling thread's last FFmpeg error line. Call before a sequence
 * of FFmpeg calls whose failure will be reported. */
void cvb__av_error_reset(void);
/* The calling thread's last FFmpeg error line ("h264: no frame!"), or "". */
const char *cvb__av_last_error(void);
/* " (ffmpeg: <last error line>)", or "" when FFmpeg logged no error since the
 * last reset. Thread-local storage, valid until the next call. */
const char *cvb__av_detail(void);
/* av_strerror() into 'buf', falling back to "error N"; returns buf. */
const char *cvb__av_errstr(int averr, char *buf, size_t len);

/* Fill the padding of a letterbox canvas (3*dst_w bytes a row) with
 * CVB_LETTERBOX_PAD: the rows above and below the picture and the columns
 * left and right of it. The picture area is left untouched. */
void cvb__letterbox_fill_pad(uint8_t *canvas, const struct cvb_letterbox *lb);

#endif
