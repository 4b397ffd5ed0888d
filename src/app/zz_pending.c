/* TEMPORARY: weak stand-ins until call_media.c has these (being written). */
#include "app/app.h"
__attribute__((weak)) void call_media_set_mic_muted(struct call_media *m, bool muted) { (void)m; (void)muted; }
__attribute__((weak)) void call_media_set_camera_off(struct call_media *m, bool off) { (void)m; (void)off; }
__attribute__((weak)) bool call_media_has_video(const struct call_media *m) { (void)m; return true; }
__attribute__((weak)) bool call_media_has_audio(const struct call_media *m) { (void)m; return true; }
__attribute__((weak)) void call_media_set_target_bitrate(struct call_media *m, uint64_t bps) { (void)m; (void)bps; }
