/* Reference text for the Hangul checks of tests/ui (issue 15): a word as
 * fontconfig's sans-serif font for a language draws it (for ko, the font a
 * Korean desktop draws Hangul with), rendered here with SDL2_ttf alone,
 * apart from the window's text code, so a screenshot can be searched for
 * it (xshot find). Blended on the background as the software renderer
 * blends the window's text, the pixels are the window's own when the
 * window drew the word with that font; boxes or another font do not match.
 *
 *   textref LANG regular|bold PX TEXT R,G,B R,G,B OUT.ppm
 *     TEXT at PX pixels in the first colour on the second, cropped to its
 *     ink, with fontconfig's best sans-serif for LANG that has TEXT's first
 *     character; prints the font used: "FAMILY FILE INDEX". Exit 1 when no
 *     font has that character. */
#include <SDL.h>
#include <SDL_ttf.h>
#include <fontconfig/fontconfig.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int colour(const char *s, SDL_Color *c) {
  int r, g, b;
  if (sscanf(s, "%d,%d,%d", &r, &g, &b) != 3) return -1;
  *c = (SDL_Color){(Uint8)r, (Uint8)g, (Uint8)b, 255};
  return 0;
}

static FcChar32 first_char(const char *s) {
  FcChar32 c = 0;
  return FcUtf8ToUcs4((const FcChar8 *)s, &c, (int)strlen(s)) > 0 ? c : 0;
}

int main(int argc, char **argv) {
  SDL_Color fg, bg;
  if (argc != 8 || (strcmp(argv[2], "regular") != 0 && strcmp(argv[2], "bold") != 0) || atoi(argv[3]) < 4 ||
      colour(argv[5], &fg) != 0 || colour(argv[6], &bg) != 0) {
    fprintf(stderr, "usage: textref LANG regular|bold PX TEXT R,G,B R,G,B OUT.ppm\n");
    return 2;
  }
  argv++; /* argv[0] is the language from here on */
  bool bold = strcmp(argv[1], "bold") == 0;
  FcConfig *fc = FcInitLoadConfigAndFonts();
  FcPattern *p = FcPatternCreate();
  FcCharSet *cs = FcCharSetCreate();
  FcChar32 ch = first_char(argv[3]);
  if (!fc || !p || !cs || !ch) return 1;
  FcPatternAddString(p, FC_FAMILY, (const FcChar8 *)"sans-serif");
  FcPatternAddString(p, FC_LANG, (const FcChar8 *)argv[0]);
  FcPatternAddInteger(p, FC_WEIGHT, bold ? FC_WEIGHT_BOLD : FC_WEIGHT_REGULAR);
  FcPatternAddInteger(p, FC_SLANT, FC_SLANT_ROMAN);
  FcCharSetAddChar(cs, ch);
  FcPatternAddCharSet(p, FC_CHARSET, cs);
  FcConfigSubstitute(fc, p, FcMatchPattern);
  FcDefaultSubstitute(p);
  FcResult r;
  FcPattern *m = FcFontMatch(fc, p, &r);
  FcChar8 *file = NULL, *family = NULL;
  FcCharSet *has = NULL;
  int index = 0;
  if (!m || FcPatternGetString(m, FC_FILE, 0, &file) != FcResultMatch ||
      FcPatternGetCharSet(m, FC_CHARSET, 0, &has) != FcResultMatch || !FcCharSetHasChar(has, ch)) {
    fprintf(stderr, "textref: fontconfig has no font for U+%04X\n", (unsigned)ch);
    return 1;
  }
  FcPatternGetInteger(m, FC_INDEX, 0, &index);
  FcPatternGetString(m, FC_FAMILY, 0, &family);
  printf("%s %s %d\n", family ? (const char *)family : "?", (const char *)file, index);

  if (TTF_Init() != 0) return 1;
  TTF_Font *font = TTF_OpenFontIndex((const char *)file, atoi(argv[2]), index);
  SDL_Surface *text = font ? TTF_RenderUTF8_Blended(font, argv[3], fg) : NULL;
  SDL_Surface *argb = text ? SDL_ConvertSurfaceFormat(text, SDL_PIXELFORMAT_ARGB8888, 0) : NULL;
  SDL_Surface *out = argb ? SDL_CreateRGBSurfaceWithFormat(0, argb->w, argb->h, 32, SDL_PIXELFORMAT_RGB888) : NULL;
  if (!out) {
    fprintf(stderr, "textref: cannot render (%s)\n", TTF_GetError());
    return 1;
  }
  SDL_FillRect(out, NULL, SDL_MapRGB(out->format, bg.r, bg.g, bg.b));
  SDL_SetSurfaceBlendMode(argb, SDL_BLENDMODE_BLEND);
  SDL_BlitSurface(argb, NULL, out, NULL);

  /* The ink's bounding box: where the text's alpha is not 0. */
  int x0 = argb->w, y0 = argb->h, x1 = -1, y1 = -1;
  for (int y = 0; y < argb->h; y++)
    for (int x = 0; x < argb->w; x++)
      if (((const Uint32 *)((const Uint8 *)argb->pixels + (size_t)y * argb->pitch))[x] >> 24) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
  if (x1 < 0) return 1;
  FILE *f = fopen(argv[6], "wb");
  if (!f) return 1;
  fprintf(f, "P6\n%d %d\n255\n", x1 - x0 + 1, y1 - y0 + 1);
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++) {
      Uint8 px[3];
      Uint32 v = ((const Uint32 *)((const Uint8 *)out->pixels + (size_t)y * out->pitch))[x];
      SDL_GetRGB(v, out->format, &px[0], &px[1], &px[2]);
      fwrite(px, 1, 3, f);
    }
  int rc = fclose(f) == 0 ? 0 : 1;
  SDL_FreeSurface(out);
  SDL_FreeSurface(argb);
  SDL_FreeSurface(text);
  TTF_CloseFont(font);
  TTF_Quit();
  FcPatternDestroy(m);
  FcPatternDestroy(p);
  FcCharSetDestroy(cs);
  FcConfigDestroy(fc);
  return rc;
}
