/* Screenshots and what tests read from them.
 *
 *   xshot grab NAME|--root OUT.ppm   the window named NAME (or the root window)
 *                                    of $DISPLAY, with XGetImage, as binary PPM
 *   xshot close NAME                 asks the window to close as its close button
 *                                    does (WM_DELETE_WINDOW; Xvfb has no window manager)
 *   xshot id NAME                    prints the window's id (for xdotool --window)
 *   xshot size IN.ppm                prints "W H"
 *   xshot stamp IN.ppm X Y W H PW PH reads the medcall stamp of a PW x PH picture
 *                                    shown scaled in the rectangle; prints the value
 *   xshot distinct IN.ppm X Y W H    prints the number of distinct colours (max 1000)
 *   xshot match IN.ppm X Y W H R G B prints per mille of pixels within 12 of R G B
 *   xshot diff A.ppm B.ppm X Y W H   prints per mille of pixels differing by more than 24
 *   xshot find IN.ppm X Y W H REF.ppm R G B
 *                                    finds REF (tests/ui/textref: text on the
 *                                    background R G B) in the rectangle; prints
 *                                    "INK ALL X Y": per mille of REF's text pixels
 *                                    and of all its pixels within 24 of the
 *                                    screenshot's at the best place, and where;
 *                                    "0 0 -1 -1" (exit 1) when no place has 90 %
 *   xshot keymap TEXT                binds each character of TEXT that no key has
 *                                    to a spare keycode (keysym U+XXXX), so that
 *                                    xdotool type finds a key for it: otherwise it
 *                                    remaps a scratch key per character and maps
 *                                    it back at once, and an application that
 *                                    looks the key up after that gets nothing
 *
 * A window's name is its _NET_WM_NAME (UTF-8), else its WM_NAME.
 * Exit status 0 on success, 1 when the thing asked for is not there (no
 * such window, no stamp), 2 for bad arguments. */
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/media.h"

struct image {
  int w, h;
  uint8_t *rgb; /* w * h * 3 */
};

/* Whether w is named name: _NET_WM_NAME (UTF-8, what SDL sets and window
 * managers show), else WM_NAME. Under a UTF-8 locale SDL writes WM_NAME
 * as UTF8_STRING, which XFetchName does not read. */
static bool named(Display *dpy, Window w, const char *name) {
  Atom net_wm_name = XInternAtom(dpy, "_NET_WM_NAME", False), utf8 = XInternAtom(dpy, "UTF8_STRING", False);
  Atom type;
  int format;
  unsigned long n, after;
  unsigned char *v = NULL;
  if (XGetWindowProperty(dpy, w, net_wm_name, 0, 1024, False, utf8, &type, &format, &n, &after, &v) == Success && v) {
    bool same = type == utf8 && format == 8 && n == strlen(name) && memcmp(v, name, n) == 0;
    XFree(v);
    if (same) return true;
  }
  char *s = NULL;
  bool same = XFetchName(dpy, w, &s) && s && strcmp(s, name) == 0;
  if (s) XFree(s);
  return same;
}

static Window find_named(Display *dpy, Window w, const char *name) {
  if (named(dpy, w, name)) {
    XWindowAttributes a;
    if (XGetWindowAttributes(dpy, w, &a) && a.map_state == IsViewable) return w;
  }
  Window root, parent, *kids = NULL;
  unsigned nkids = 0;
  Window found = 0;
  if (XQueryTree(dpy, w, &root, &parent, &kids, &nkids)) {
    for (unsigned i = 0; i < nkids && !found; i++) found = find_named(dpy, kids[i], name);
    if (kids) XFree(kids);
  }
  return found;
}

/* Prints the id of the viewable window named name, for xdotool (whose
 * --name search reads only WM_NAME, unreadable under a UTF-8 locale). */
static int print_id(const char *name) {
  Display *dpy = XOpenDisplay(NULL);
  if (!dpy) return 1;
  Window w = find_named(dpy, DefaultRootWindow(dpy), name);
  XCloseDisplay(dpy);
  if (!w) {
    fprintf(stderr, "xshot: no viewable window named %s\n", name);
    return 1;
  }
  printf("%lu\n", (unsigned long)w);
  return 0;
}

static int close_window(const char *name) {
  Display *dpy = XOpenDisplay(NULL);
  if (!dpy) return 1;
  Window w = find_named(dpy, DefaultRootWindow(dpy), name);
  if (!w) {
    fprintf(stderr, "xshot: no viewable window named %s\n", name);
    XCloseDisplay(dpy);
    return 1;
  }
  XEvent e = {0};
  e.xclient.type = ClientMessage;
  e.xclient.window = w;
  e.xclient.message_type = XInternAtom(dpy, "WM_PROTOCOLS", False);
  e.xclient.format = 32;
  e.xclient.data.l[0] = (long)XInternAtom(dpy, "WM_DELETE_WINDOW", False);
  e.xclient.data.l[1] = CurrentTime;
  XSendEvent(dpy, w, False, NoEventMask, &e);
  XSync(dpy, False);
  XCloseDisplay(dpy);
  return 0;
}

static int shift_of(unsigned long mask) {
  int s = 0;
  while (mask && !(mask & 1)) mask >>= 1, s++;
  return s;
}

static int grab(const char *name, const char *out) {
  Display *dpy = XOpenDisplay(NULL);
  if (!dpy) {
    fprintf(stderr, "xshot: cannot open display %s\n", getenv("DISPLAY") ? getenv("DISPLAY") : "(unset)");
    return 1;
  }
  Window w = strcmp(name, "--root") == 0 ? DefaultRootWindow(dpy) : find_named(dpy, DefaultRootWindow(dpy), name);
  if (!w) {
    fprintf(stderr, "xshot: no viewable window named %s\n", name);
    XCloseDisplay(dpy);
    return 1;
  }
  XWindowAttributes a;
  XGetWindowAttributes(dpy, w, &a);
  /* XGetImage fails (BadMatch) on a window that is not all on the screen. */
  int rx = 0, ry = 0;
  Window child;
  XTranslateCoordinates(dpy, w, DefaultRootWindow(dpy), 0, 0, &rx, &ry, &child);
  if (rx < 0 || ry < 0 || rx + a.width > DisplayWidth(dpy, DefaultScreen(dpy)) ||
      ry + a.height > DisplayHeight(dpy, DefaultScreen(dpy))) {
    fprintf(stderr, "xshot: window %s is partly off the screen; move it first\n", name);
    XCloseDisplay(dpy);
    return 1;
  }
  XImage *img = XGetImage(dpy, w, 0, 0, (unsigned)a.width, (unsigned)a.height, AllPlanes, ZPixmap);
  if (!img) {
    fprintf(stderr, "xshot: XGetImage failed\n");
    XCloseDisplay(dpy);
    return 1;
  }
  int rs = shift_of(img->red_mask), gs = shift_of(img->green_mask), bs = shift_of(img->blue_mask);
  unsigned long rm = img->red_mask >> rs, gm = img->green_mask >> gs, bm = img->blue_mask >> bs;
  FILE *f = fopen(out, "wb");
  if (!f) {
    perror(out);
    XDestroyImage(img);
    XCloseDisplay(dpy);
    return 1;
  }
  fprintf(f, "P6\n%d %d\n255\n", a.width, a.height);
  for (int y = 0; y < a.height; y++) {
    for (int x = 0; x < a.width; x++) {
      unsigned long p = XGetPixel(img, x, y);
      uint8_t px[3] = {(uint8_t)(((p >> rs) & rm) * 255 / (rm ? rm : 1)),
                       (uint8_t)(((p >> gs) & gm) * 255 / (gm ? gm : 1)),
                       (uint8_t)(((p >> bs) & bm) * 255 / (bm ? bm : 1))};
      fwrite(px, 1, 3, f);
    }
  }
  int rc = fclose(f) == 0 ? 0 : 1;
  XDestroyImage(img);
  XCloseDisplay(dpy);
  return rc;
}

static int load(const char *path, struct image *im) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  int maxv = 0;
  if (fscanf(f, "P6 %d %d %d", &im->w, &im->h, &maxv) != 3 || maxv != 255 || im->w <= 0 || im->h <= 0 ||
      im->w > 16384 || im->h > 16384 || fgetc(f) == EOF) {
    fprintf(stderr, "xshot: %s is not a binary PPM\n", path);
    fclose(f);
    return -1;
  }
  size_t n = (size_t)im->w * im->h * 3;
  im->rgb = malloc(n);
  bool ok = im->rgb && fread(im->rgb, 1, n, f) == n;
  fclose(f);
  if (!ok) {
    fprintf(stderr, "xshot: %s is truncated\n", path);
    free(im->rgb);
    return -1;
  }
  return 0;
}

static const uint8_t *px(const struct image *im, int x, int y) {
  if (x < 0) x = 0;
  if (y < 0) y = 0;
  if (x >= im->w) x = im->w - 1;
  if (y >= im->h) y = im->h - 1;
  return im->rgb + ((size_t)y * im->w + x) * 3;
}

/* Rebuilds the shown picture's luma at its own size by sampling the
 * screen at the centre of where each picture pixel landed, then lets the
 * media layer's own reader decode it: the test and the product share one
 * definition of the stamp. */
static int read_stamp(const struct image *im, int rx, int ry, int rw, int rh, int pw, int ph) {
  struct mc_i420 f = {0};
  if (rw < 1 || rh < 1 || mc_i420_alloc(&f, pw, ph) != 0) return 2;
  int s = pw / MC_STAMP_BITS;
  for (int y = 0; y < s && y < ph; y++) {
    for (int x = 0; x < pw; x++) {
      int sx = rx + (int)((x + 0.5) * rw / pw), sy = ry + (int)((y + 0.5) * rh / ph);
      const uint8_t *p = px(im, sx, sy);
      /* BT.601 limited range, as the renderer's YUV to RGB undid it. */
      double luma = 16.0 + (65.481 * p[0] + 128.553 * p[1] + 24.966 * p[2]) / 255.0;
      f.y[(size_t)y * f.stride_y + x] = (uint8_t)(luma + 0.5);
    }
  }
  uint32_t v = 0;
  int rc = mc_stamp_read(&f, &v);
  mc_i420_free(&f);
  if (rc != 0) {
    fprintf(stderr, "xshot: no stamp in the rectangle (%s)\n", mc_strerror(rc));
    return 1;
  }
  printf("%u\n", (unsigned)v);
  return 0;
}

static int distinct(const struct image *im, int rx, int ry, int rw, int rh) {
  enum { MAX = 1000 };
  uint32_t seen[MAX];
  int n = 0;
  for (int y = ry; y < ry + rh; y++)
    for (int x = rx; x < rx + rw && n < MAX; x++) {
      const uint8_t *p = px(im, x, y);
      uint32_t c = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
      int i = 0;
      while (i < n && seen[i] != c) i++;
      if (i == n) seen[n++] = c;
    }
  printf("%d\n", n);
  return 0;
}

static int near(int a, int b, int tol) { return abs(a - b) <= tol; }

static int match(const struct image *im, int rx, int ry, int rw, int rh, int r, int g, int b) {
  long hit = 0, all = 0;
  for (int y = ry; y < ry + rh; y++)
    for (int x = rx; x < rx + rw; x++, all++) {
      const uint8_t *p = px(im, x, y);
      hit += near(p[0], r, 12) && near(p[1], g, 12) && near(p[2], b, 12);
    }
  printf("%ld\n", all ? hit * 1000 / all : 0);
  return 0;
}

static int diff(const struct image *a, const struct image *b, int rx, int ry, int rw, int rh) {
  long changed = 0, all = 0;
  for (int y = ry; y < ry + rh; y++)
    for (int x = rx; x < rx + rw; x++, all++) {
      const uint8_t *p = px(a, x, y), *q = px(b, x, y);
      changed += !near(p[0], q[0], 24) || !near(p[1], q[1], 24) || !near(p[2], q[2], 24);
    }
  printf("%ld\n", all ? changed * 1000 / all : 0);
  return 0;
}

/* The best place of ref in the rectangle: the most pixels within 24, and
 * at least 90 %. A place is given up as soon as it misses more than that
 * or than the best so far. */
static int find(const struct image *im, int rx, int ry, int rw, int rh, const struct image *ref, int br, int bg,
                int bb) {
  long total = (long)ref->w * ref->h, best = -1, ink_best = 0, ink_total = 0;
  int bx = 0, by = 0;
  for (long i = 0; i < total; i++) {
    const uint8_t *q = ref->rgb + i * 3;
    ink_total += !near(q[0], br, 24) || !near(q[1], bg, 24) || !near(q[2], bb, 24);
  }
  for (int y = ry; y + ref->h <= ry + rh; y++)
    for (int x = rx; x + ref->w <= rx + rw; x++) {
      long miss = 0, ink = 0, allowed = best < 0 ? total / 10 : total - best;
      for (int j = 0; j < ref->h && miss <= allowed; j++)
        for (int i = 0; i < ref->w; i++) {
          const uint8_t *p = px(im, x + i, y + j), *q = ref->rgb + ((size_t)j * ref->w + i) * 3;
          bool text = !near(q[0], br, 24) || !near(q[1], bg, 24) || !near(q[2], bb, 24);
          if (near(p[0], q[0], 24) && near(p[1], q[1], 24) && near(p[2], q[2], 24)) ink += text;
          else miss++;
        }
      if (miss <= allowed && total - miss > best) {
        best = total - miss;
        ink_best = ink;
        bx = x;
        by = y;
      }
    }
  if (best < 0) {
    printf("0 0 -1 -1\n");
    return 1;
  }
  printf("%ld %ld %d %d\n", ink_total ? ink_best * 1000 / ink_total : 0, best * 1000 / total, bx, by);
  return 0;
}

/* The next character of s (UTF-8, assumed valid: the test's own text). */
static unsigned long next_char(const unsigned char **s) {
  const unsigned char *p = *s;
  int len = p[0] < 0x80 ? 1 : p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3 : 4;
  unsigned long c = len == 1 ? p[0] : p[0] & (0x7F >> len);
  for (int i = 1; i < len && p[i]; i++) c = c << 6 | (p[i] & 0x3F);
  *s = p + len;
  return c;
}

static int keymap(const char *text) {
  Display *dpy = XOpenDisplay(NULL);
  if (!dpy) return 1;
  int lo, hi, per;
  XDisplayKeycodes(dpy, &lo, &hi);
  KeySym *map = XGetKeyboardMapping(dpy, (KeyCode)lo, hi - lo + 1, &per);
  int rc = map ? 0 : 1, next = hi;
  for (const unsigned char *p = (const unsigned char *)text; *p && rc == 0;) {
    unsigned long c = next_char(&p);
    /* X keysyms: Latin-1 as itself, the rest 0x01000000 + code point. */
    KeySym ks = c < 0x100 ? (KeySym)c : (KeySym)(0x01000000 | c);
    bool have = false;
    for (int i = 0; i < (hi - lo + 1) * per && !have; i++) have = map[i] == ks;
    if (have) continue;
    /* From the top, leaving the lowest empty keys to xdotool's scratch use. */
    while (next >= lo) {
      bool empty = true;
      for (int j = 0; j < per; j++) empty = empty && map[(next - lo) * per + j] == NoSymbol;
      if (empty) break;
      next--;
    }
    if (next < lo) {
      fprintf(stderr, "xshot: no spare keycode left\n");
      rc = 1;
      break;
    }
    KeySym both[2] = {ks, ks};
    XChangeKeyboardMapping(dpy, next, 2, both, 1);
    for (int j = 0; j < per; j++) map[(next - lo) * per + j] = j < 2 ? ks : NoSymbol;
  }
  if (map) XFree(map);
  XSync(dpy, False);
  XCloseDisplay(dpy);
  return rc;
}

static int usage(void) {
  fprintf(stderr, "usage: xshot grab NAME|--root OUT.ppm | close NAME | keymap TEXT | size IN | stamp IN X Y W H PW PH | distinct IN X Y W H |"
                  " match IN X Y W H R G B | diff A B X Y W H | find IN X Y W H REF R G B\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "grab") == 0) return grab(argv[2], argv[3]);
  if (argc == 3 && strcmp(argv[1], "close") == 0) return close_window(argv[2]);
  if (argc == 3 && strcmp(argv[1], "keymap") == 0) return keymap(argv[2]);
  if (argc == 3 && strcmp(argv[1], "id") == 0) return print_id(argv[2]);
  if (argc < 3) return usage();
  int arg[8] = {0};
  int first = strcmp(argv[1], "diff") == 0 ? 4 : 3;
  for (int i = first; i < argc && i - first < 8; i++) arg[i - first] = atoi(argv[i]);
  int nargs = argc - first;
  struct image a = {0}, b = {0};
  if (load(argv[2], &a) != 0) return 2;
  int rc = 2;
  if (strcmp(argv[1], "size") == 0 && nargs == 0) {
    printf("%d %d\n", a.w, a.h);
    rc = 0;
  } else if (strcmp(argv[1], "stamp") == 0 && nargs == 6) {
    rc = read_stamp(&a, arg[0], arg[1], arg[2], arg[3], arg[4], arg[5]);
  } else if (strcmp(argv[1], "distinct") == 0 && nargs == 4) {
    rc = distinct(&a, arg[0], arg[1], arg[2], arg[3]);
  } else if (strcmp(argv[1], "match") == 0 && nargs == 7) {
    rc = match(&a, arg[0], arg[1], arg[2], arg[3], arg[4], arg[5], arg[6]);
  } else if (strcmp(argv[1], "diff") == 0 && nargs == 4) {
    if (load(argv[3], &b) == 0) rc = diff(&a, &b, arg[0], arg[1], arg[2], arg[3]);
  } else if (strcmp(argv[1], "find") == 0 && argc == 11) {
    if (load(argv[7], &b) == 0)
      rc = find(&a, arg[0], arg[1], arg[2], arg[3], &b, atoi(argv[8]), atoi(argv[9]), atoi(argv[10]));
  } else {
    rc = usage();
  }
  free(a.rgb);
  free(b.rgb);
  return rc;
}
