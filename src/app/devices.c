/* medcall devices: what the call can capture from and play to, one line
 * each, in the names --video-source camera:DEVICE and --audio-source
 * mic:DEVICE accept. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "app/i18n.h"
#include "media/media.h"

void mc_devices_usage(FILE *out) {
  fputs(_(
      "usage: medcall devices\n"
      "\n"
      "Lists the cameras (device path, name, formats and sizes), microphones and\n"
      "speakers this computer offers, one per line:\n"
      "  camera: /dev/video0 \"Integrated Camera\" YUYV 640x480 1280x720; MJPG 1280x720\n"
      "  microphone: \"Built-in Audio Analog Stereo\"\n"
      "  speaker: \"Built-in Audio Analog Stereo\"\n"
      "Use them with --video-source camera:/dev/videoN and --audio-source mic:NAME.\n"
      "SDL_AUDIODRIVER chooses the audio system (pulseaudio, pipewire, alsa, ...).\n"
      "The lines are in English whatever the language: scripts read them.\n"),
        out);
}

static void print_camera(const struct mc_camera_info *c) {
  printf("camera: %s \"%s\"", c->path, c->name);
  for (int i = 0; i < c->nformats; i++) {
    const struct mc_camera_format *f = &c->formats[i];
    char fb[5];
    printf("%s %s%s", i ? ";" : "", mc_fourcc_str(f->fourcc, fb), f->emulated ? "(converted)" : "");
    for (int j = 0; j < f->nsizes; j++) printf(" %dx%d", f->sizes[j].width, f->sizes[j].height);
  }
  printf("\n");
}

static void print_audio(bool capture) {
  static char names[64][MC_AUDIO_NAME_MAX];
  size_t n = 0;
  char why[MC_MEDIA_WHY_MAX] = "";
  const char *kind = capture ? "microphone" : "speaker";
  if (mc_audio_list(capture, names, 64, &n, why, sizeof why) != 0) {
    printf("%s: none (%s)\n", kind, why);
    return;
  }
  if (n == 0) printf("%s: none found (audio system: %s)\n", kind, mc_audio_driver());
  for (size_t i = 0; i < n; i++) printf("%s: \"%s\"\n", kind, names[i]);
}

int mc_devices_main(int argc, char **argv) {
  if (argc > 1) {
    fprintf(stderr, _("medcall devices: unexpected argument '%s'\n\n"), argv[1]);
    mc_devices_usage(stderr);
    return MC_APP_EXIT_USAGE;
  }
  static struct mc_camera_info cams[MC_CAMERA_MAX];
  size_t ncam = 0;
  mc_camera_list(cams, MC_CAMERA_MAX, &ncam);
  if (ncam == 0) printf("camera: none found (no /dev/video* device captures video)\n");
  for (size_t i = 0; i < ncam; i++) print_camera(&cams[i]);
  print_audio(true);
  print_audio(false);
  fflush(stdout);
  return MC_APP_EXIT_OK;
}
