/*
 * Synthetic tracking clips: planning from a seed and per-frame rendering.
 *
 * A clip is planned once: a background texture larger than the frame (the camera pans inside
 * it), a target shape with its texture, keyframes of the target's path (some outside the frame so
 * it leaves and comes back), abrupt jumps (the path's clock skips ahead), occlusion events (an
 * occluder slides in, sits centred on the target, slides out) and distractors of the target's
 * texture family on straight paths that cross the target's path. Rendering frame t evaluates the
 * plan at t and paints back to front: background, distractors behind, target, distractors in
 * front, occluder; the mask is the target's pixels that survive.
 *
 * Determinism: one splitmix64 stream per clip, integer hashing for textures, and our own sine
 * (a fixed polynomial) instead of libm's, so a seed gives identical bytes on every IEEE-754
 * machine (contraction into fused multiply-adds is disabled for clang, which would otherwise
 * change roundings).
 */
#include "tools/synth/render.h"

#include <math.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define MAX_JUMPS 8
#define MAX_OCC 8
#define MAX_DIST 4
#define MAX_CLUTTER 24
#define PI 3.14159265358979323846

enum { SHAPE_ELLIPSE = 0, SHAPE_RECT = 1 };
enum { TEX_STRIPES = 0, TEX_CHECKER = 1, TEX_RINGS = 2 };

typedef struct texture {
  int kind;
  double c0[3], c1[3];  /* the two colours the pattern blends */
  double fu, fv, phase; /* pattern frequencies in object units and phase */
  uint32_t grain_seed;  /* per-instance fine noise */
  double grain;         /* noise amplitude in levels */
} texture;

typedef struct shape {
  int kind;    /* SHAPE_* */
  double a, b; /* semi-axes in pixels at scale 1 */
  texture tex;
} shape;

/* Where and how one object is drawn in a frame. */
typedef struct placement {
  double cx, cy, angle, scale;
} placement;

struct kat__synth_clip {
  int w, h, frames;
  kat__synth_suite suite;
  /* Background: [bg_h, bg_w*3] u8 RGB with `margin` pixels around the frame for panning. */
  uint8_t *bg;
  int bg_w, bg_h, margin;
  double pan_w, pan_phx, pan_phy;
  /* Target path: Catmull-Rom through keys[j] at path time (j - 1) * key_step. */
  shape target;
  int nkeys, key_step;
  double *kx, *ky;
  int njumps;
  int jump_t[MAX_JUMPS];
  double jump_skip[MAX_JUMPS];
  double s_amp, s_w, s_ph, rot0, rot_w, rot_amp, rot_w2, rot_ph;
  double radius_max; /* bounding radius of the target at its largest */
  /* Occlusion events: slide in over `ramp` frames, hold `occ_len` frames, slide out. */
  int nocc, ramp;
  int occ_t[MAX_OCC], occ_len[MAX_OCC];
  double occ_dx[MAX_OCC], occ_dy[MAX_OCC];
  shape occluder;
  /* Distractors: straight paths crossing the target's path at frame dist_tc. */
  int ndist;
  shape dist[MAX_DIST];
  int dist_front[MAX_DIST];
  double dist_tc[MAX_DIST], dist_x0[MAX_DIST], dist_y0[MAX_DIST], dist_vx[MAX_DIST],
      dist_vy[MAX_DIST], dist_rw[MAX_DIST];
};

uint64_t kat__splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform double in [lo, hi). */
static double uni(uint64_t *st, double lo, double hi) {
  return lo + (hi - lo) * ((double)(kat__splitmix64(st) >> 11) * (1.0 / 9007199254740992.0));
}

static int uni_int(uint64_t *st, int lo, int hi_incl) {
  return lo + (int)(kat__splitmix64(st) % (uint64_t)(hi_incl - lo + 1));
}

/* sin(x) from a fixed odd polynomial after reduction to [-pi/2, pi/2]; |error| < 1e-11. */
static double ksin(double x) {
  double k = floor(x / (2.0 * PI) + 0.5);
  x -= k * (2.0 * PI);
  if (x > PI / 2)
    x = PI - x;
  else if (x < -PI / 2)
    x = -PI - x;
  double x2 = x * x;
  double p = -1.0 / 1307674368000.0;
  p = p * x2 + 1.0 / 6227020800.0;
  p = p * x2 - 1.0 / 39916800.0;
  p = p * x2 + 1.0 / 362880.0;
  p = p * x2 - 1.0 / 5040.0;
  p = p * x2 + 1.0 / 120.0;
  p = p * x2 - 1.0 / 6.0;
  p = p * x2 + 1.0;
  return x * p;
}

static double kcos(double x) {
  return ksin(x + PI / 2);
}

static uint32_t hash3(int32_t x, int32_t y, uint32_t seed) {
  uint32_t h = (uint32_t)x * 0x9E3779B1u ^ (uint32_t)y * 0x85EBCA77u ^ seed * 0xC2B2AE3Du;
  h ^= h >> 16;
  h *= 0x7FEB352Du;
  h ^= h >> 15;
  h *= 0x846CA68Bu;
  h ^= h >> 16;
  return h;
}

/* Hash value in [0, 1]. */
static double hash01(int32_t x, int32_t y, uint32_t seed) {
  return (double)(hash3(x, y, seed) >> 8) * (1.0 / 16777215.0);
}

/* Smooth value noise in [0, 1] at (x, y) lattice units. */
static double vnoise(double x, double y, uint32_t seed) {
  double fx = floor(x), fy = floor(y);
  int32_t ix = (int32_t)fx, iy = (int32_t)fy;
  double tx = x - fx, ty = y - fy;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  double v00 = hash01(ix, iy, seed), v10 = hash01(ix + 1, iy, seed);
  double v01 = hash01(ix, iy + 1, seed), v11 = hash01(ix + 1, iy + 1, seed);
  double top = v00 + (v10 - v00) * tx, bot = v01 + (v11 - v01) * tx;
  return top + (bot - top) * ty;
}

static double tri(double x) {
  double f = x - floor(x);
  return f < 0.5 ? 2 * f : 2 - 2 * f;
}

static uint8_t to_u8(double v) {
  if (v <= 0) return 0;
  if (v >= 255) return 255;
  return (uint8_t)(v + 0.5);
}

/* Texture colour at object coordinates (u, v) (the shape spans [-1, 1]). */
static void tex_color(const texture *t, double u, double v, uint8_t out[3]) {
  double m;
  switch (t->kind) {
    case TEX_STRIPES: m = tri(u * t->fu + v * t->fv + t->phase); break;
    case TEX_CHECKER:
      m = (double)(((int32_t)floor(u * t->fu + t->phase) + (int32_t)floor(v * t->fv)) & 1);
      break;
    default: m = tri(sqrt(u * u + v * v) * t->fu + t->phase); break;
  }
  double g = (hash01((int32_t)floor(u * 24.0), (int32_t)floor(v * 24.0), t->grain_seed) - 0.5) *
             2.0 * t->grain;
  for (int c = 0; c < 3; c++) out[c] = to_u8(t->c0[c] + (t->c1[c] - t->c0[c]) * m + g);
}

static void random_color(uint64_t *st, double c[3], double lo, double hi) {
  for (int i = 0; i < 3; i++) c[i] = uni(st, lo, hi);
}

static void random_texture(uint64_t *st, texture *t) {
  t->kind = uni_int(st, 0, 2);
  random_color(st, t->c0, 20, 235);
  /* A contrasting second colour: mirror around mid-grey with jitter. */
  for (int i = 0; i < 3; i++) t->c1[i] = 255.0 - t->c0[i] + uni(st, -40, 40);
  t->fu = uni(st, 1.0, 3.5);
  t->fv = uni(st, -2.0, 2.0);
  t->phase = uni(st, 0, 1);
  t->grain_seed = (uint32_t)kat__splitmix64(st);
  t->grain = uni(st, 4, 18);
}

/* A look-alike: same pattern kind and similar colours, a different instance. */
static void sibling_texture(uint64_t *st, const texture *base, texture *t) {
  *t = *base;
  for (int i = 0; i < 3; i++) {
    t->c0[i] = base->c0[i] + uni(st, -25, 25);
    t->c1[i] = base->c1[i] + uni(st, -25, 25);
  }
  t->fu = base->fu * uni(st, 0.8, 1.25);
  t->fv = base->fv * uni(st, 0.8, 1.25);
  t->phase = uni(st, 0, 1);
  t->grain_seed = (uint32_t)kat__splitmix64(st);
}

/* Mask effect of a drawn object. */
enum { MASK_KEEP = 0, MASK_SET = 1, MASK_CLEAR = 2 };

/* Paints `s` at `p` on an RGB canvas [h, stride]; updates `mask` ([h, w], may be NULL) as told;
 * returns the number of painted pixels. */
static int draw_shape(uint8_t *canvas, size_t stride, int w, int h, uint8_t *mask, int mask_op,
                      const shape *s, const placement *p) {
  double A = s->a * p->scale, B = s->b * p->scale;
  if (A < 0.5 || B < 0.5) return 0;
  double r = (A > B ? A : B) * (s->kind == SHAPE_RECT ? 1.4143 : 1.0) + 1.0;
  int x0 = (int)floor(p->cx - r), x1 = (int)ceil(p->cx + r);
  int y0 = (int)floor(p->cy - r), y1 = (int)ceil(p->cy + r);
  if (x0 < 0) x0 = 0;
  if (y0 < 0) y0 = 0;
  if (x1 > w - 1) x1 = w - 1;
  if (y1 > h - 1) y1 = h - 1;
  double cs = kcos(p->angle), sn = ksin(p->angle);
  int n = 0;
  for (int y = y0; y <= y1; y++) {
    double dy = y + 0.5 - p->cy;
    uint8_t *row = canvas + (size_t)y * stride;
    for (int x = x0; x <= x1; x++) {
      double dx = x + 0.5 - p->cx;
      double u = (dx * cs + dy * sn) / A, v = (-dx * sn + dy * cs) / B;
      int inside =
          s->kind == SHAPE_RECT ? (fabs(u) <= 1.0 && fabs(v) <= 1.0) : (u * u + v * v <= 1.0);
      if (!inside) continue;
      tex_color(&s->tex, u, v, row + (size_t)x * 3);
      if (mask && mask_op == MASK_SET) mask[(size_t)y * w + x] = 255;
      if (mask && mask_op == MASK_CLEAR) mask[(size_t)y * w + x] = 0;
      n++;
    }
  }
  return n;
}

/* The target path's clock at frame t: frames plus the skips of every jump so far. */
static double path_time(const kat__synth_clip *c, int t) {
  double tau = t;
  for (int i = 0; i < c->njumps; i++)
    if (t >= c->jump_t[i]) tau += c->jump_skip[i];
  return tau;
}

static void target_centre(const kat__synth_clip *c, double tau, double *x, double *y) {
  double q = tau / c->key_step;
  int i = (int)floor(q);
  double f = q - i;
  if (i < 0) i = 0;
  if (i > c->nkeys - 4) {
    i = c->nkeys - 4;
    f = 1.0;
  }
  const double *px = c->kx + i, *py = c->ky + i;
  double f2 = f * f, f3 = f2 * f;
  /* Catmull-Rom through keys i+1 and i+2. */
  *x = 0.5 * (2 * px[1] + (-px[0] + px[2]) * f + (2 * px[0] - 5 * px[1] + 4 * px[2] - px[3]) * f2 +
              (-px[0] + 3 * px[1] - 3 * px[2] + px[3]) * f3);
  *y = 0.5 * (2 * py[1] + (-py[0] + py[2]) * f + (2 * py[0] - 5 * py[1] + 4 * py[2] - py[3]) * f2 +
              (-py[0] + 3 * py[1] - 3 * py[2] + py[3]) * f3);
}

static void target_place(const kat__synth_clip *c, int t, placement *p) {
  double tau = path_time(c, t);
  target_centre(c, tau, &p->cx, &p->cy);
  p->scale = 1.0 + c->s_amp * ksin(c->s_w * tau + c->s_ph);
  p->angle = c->rot0 + c->rot_w * tau + c->rot_amp * ksin(c->rot_w2 * tau + c->rot_ph);
}

void kat__synth_clip_destroy(kat__synth_clip *clip) {
  if (!clip) return;
  kat__free(clip->bg);
  kat__free(clip->kx);
  kat__free(clip->ky);
  kat__free(clip);
}

static void plan_background(kat__synth_clip *c, uint64_t *st) {
  double p0[3], p1[3];
  random_color(st, p0, 30, 200);
  random_color(st, p1, 60, 230);
  uint32_t s1 = (uint32_t)kat__splitmix64(st), s2 = (uint32_t)kat__splitmix64(st);
  uint32_t s3 = (uint32_t)kat__splitmix64(st);
  double big = uni(st, 60, 140), small = uni(st, 10, 24);
  for (int y = 0; y < c->bg_h; y++) {
    uint8_t *row = c->bg + (size_t)y * c->bg_w * 3;
    for (int x = 0; x < c->bg_w; x++) {
      double m = 0.7 * vnoise(x / big, y / big, s1) + 0.3 * vnoise(x / small, y / small, s2);
      double g = (hash01(x, y, s3) - 0.5) * 16.0;
      for (int k = 0; k < 3; k++) row[3 * x + k] = to_u8(p0[k] + (p1[k] - p0[k]) * m + g);
    }
  }
  /* Static clutter of unrelated textured shapes. */
  int n = uni_int(st, 8, MAX_CLUTTER);
  for (int i = 0; i < n; i++) {
    shape s;
    s.kind = uni_int(st, 0, 1);
    s.a = uni(st, 0.03, 0.12) * c->h;
    s.b = s.a * uni(st, 0.3, 1.0);
    random_texture(st, &s.tex);
    placement p = {uni(st, 0, c->bg_w), uni(st, 0, c->bg_h), uni(st, 0, 2 * PI), 1.0};
    draw_shape(c->bg, (size_t)c->bg_w * 3, c->bg_w, c->bg_h, NULL, MASK_KEEP, &s, &p);
  }
}

/* True when the target is wholly inside the frame at frame t. */
static int target_inside(const kat__synth_clip *c, int t) {
  placement p;
  target_place(c, t, &p);
  double r = c->radius_max;
  return p.cx >= r && p.cx <= c->w - r && p.cy >= r && p.cy <= c->h - r;
}

int kat__synth_clip_create(kat__synth_suite suite, uint64_t seed, int width, int height, int frames,
                           kat__synth_clip **out, kat__errbuf *eb) {
  if (!out) return kat__fail(eb, KAT_EINVAL, "synth: out is NULL");
  *out = NULL;
  if (width < 32 || height < 32 || width > 4096 || height > 4096)
    return kat__fail(eb, KAT_EINVAL, "synth: frame size %dx%d outside 32..4096", width, height);
  if (frames < 1 || frames > 1000000)
    return kat__fail(eb, KAT_EINVAL, "synth: frame count %d outside 1..1000000", frames);
  if (suite != KAT_SYNTH_TRAIN && suite != KAT_SYNTH_EVAL)
    return kat__fail(eb, KAT_EINVAL, "synth: unknown suite %d", (int)suite);
  const int hard = suite == KAT_SYNTH_EVAL;
  uint64_t st = seed ^ (hard ? 0x6576616C2D6B6174ull : 0x747261696E2D6B61ull);
  kat__splitmix64(&st);

  kat__synth_clip *c = kat__calloc(1, sizeof *c);
  if (!c) goto nomem;
  c->w = width;
  c->h = height;
  c->frames = frames;
  c->suite = suite;
  c->margin = width / 10 + 8;
  c->bg_w = width + 2 * c->margin;
  c->bg_h = height + 2 * c->margin;
  c->bg = kat__malloc((size_t)c->bg_w * c->bg_h * 3);
  if (!c->bg) goto nomem;
  plan_background(c, &st);
  c->pan_w = uni(&st, 0.01, 0.03);
  c->pan_phx = uni(&st, 0, 2 * PI);
  c->pan_phy = uni(&st, 0, 2 * PI);

  /* Target shape and motion parameters. */
  shape *tg = &c->target;
  tg->kind = uni_int(&st, 0, 1);
  tg->a = uni(&st, 0.07, 0.12) * (width < height ? width : height);
  tg->b = tg->a * uni(&st, 0.5, 0.9);
  random_texture(&st, &tg->tex);
  c->s_amp = uni(&st, 0.15, hard ? 0.4 : 0.3);
  c->s_w = uni(&st, 0.02, 0.06);
  c->s_ph = uni(&st, 0, 2 * PI);
  c->rot0 = uni(&st, 0, 2 * PI);
  c->rot_w = uni(&st, -0.04, 0.04);
  c->rot_amp = uni(&st, 0.1, 0.6);
  c->rot_w2 = uni(&st, 0.03, 0.1);
  c->rot_ph = uni(&st, 0, 2 * PI);
  c->radius_max = tg->a * (1.0 + c->s_amp) * (tg->kind == SHAPE_RECT ? 1.4143 : 1.0) + 1.0;

  /* Abrupt jumps: the path clock skips 6..14 frames at once. */
  double skips = 0;
  int want_jumps = frames / (hard ? 50 : 80);
  for (int i = 0; i < want_jumps && i < MAX_JUMPS; i++) {
    c->jump_t[c->njumps] = uni_int(&st, 1, frames - 1);
    c->jump_skip[c->njumps] = uni_int(&st, 6, 14);
    skips += c->jump_skip[c->njumps++];
  }
  /* Keyframes: inside the frame, except a few placed beyond an edge (leave and re-enter). */
  c->key_step = uni_int(&st, hard ? 10 : 14, hard ? 20 : 28);
  c->nkeys = (int)((frames + skips) / c->key_step) + 5;
  c->kx = kat__malloc(sizeof(double) * (size_t)c->nkeys);
  c->ky = kat__malloc(sizeof(double) * (size_t)c->nkeys);
  if (!c->kx || !c->ky) goto nomem;
  for (int j = 0; j < c->nkeys; j++) {
    c->kx[j] = uni(&st, 0.2, 0.8) * width;
    c->ky[j] = uni(&st, 0.2, 0.8) * height;
  }
  int inner = c->nkeys - 4; /* keys 2 .. nkeys-3 sit strictly inside the clip's time */
  int want_out = frames >= 60 ? (hard ? 1 + frames / 150 : (frames >= 90 ? 1 : 0)) : 0;
  for (int i = 0; i < want_out && inner > 2; i++) {
    int j = 2 + uni_int(&st, 0, inner - 2);
    double off = 2.0 * c->radius_max;
    switch (uni_int(&st, 0, 3)) {
      case 0: c->kx[j] = -off; break;
      case 1: c->kx[j] = width + off; break;
      case 2: c->ky[j] = -off; break;
      default: c->ky[j] = height + off; break;
    }
  }
  /* Occluder: a rectangle big enough to hide the target's bounding circle. */
  c->occluder.kind = SHAPE_RECT;
  c->occluder.a = c->radius_max * 1.15 + 4;
  c->occluder.b = c->radius_max * 1.5 + 4;
  random_texture(&st, &c->occluder.tex);
  c->ramp = 5;
  int want_occ = frames >= 40 ? 1 + frames / (hard ? 90 : 150) : 0;
  for (int i = 0, tries = 0; i < want_occ && i < MAX_OCC && tries < 200; tries++) {
    int len = uni_int(&st, 6, hard ? 16 : 10);
    int span = 2 * c->ramp + len;
    if (span + 2 > frames) break;
    int t0 = uni_int(&st, 1, frames - span - 1);
    /* The hold must happen with the target wholly in view, and events must not overlap. */
    int ok = 1;
    for (int t = t0 + c->ramp; t < t0 + c->ramp + len && ok; t++) ok = target_inside(c, t);
    for (int k = 0; k < c->nocc && ok; k++)
      ok = t0 + span < c->occ_t[k] || t0 > c->occ_t[k] + 2 * c->ramp + c->occ_len[k];
    if (!ok) continue;
    double ang = uni(&st, 0, 2 * PI), dist = (width > height ? width : height) * 0.9;
    c->occ_t[c->nocc] = t0;
    c->occ_len[c->nocc] = len;
    c->occ_dx[c->nocc] = kcos(ang) * dist;
    c->occ_dy[c->nocc] = ksin(ang) * dist;
    c->nocc++;
    i++;
  }
  /* Distractors of the target's family, crossing its path. */
  c->ndist = frames >= 20 ? (hard ? uni_int(&st, 2, 3) : 1) : 0;
  for (int i = 0; i < c->ndist; i++) {
    shape *d = &c->dist[i];
    d->kind = tg->kind;
    d->a = tg->a * uni(&st, 0.8, 1.2);
    d->b = tg->b * uni(&st, 0.8, 1.2);
    sibling_texture(&st, &tg->tex, &d->tex);
    c->dist_front[i] = hard ? (int)(kat__splitmix64(&st) & 1) : 0;
    c->dist_tc[i] = uni(&st, 0.1, 0.9) * frames;
    placement p;
    target_place(c, (int)c->dist_tc[i], &p);
    double ang = uni(&st, 0, 2 * PI), speed = uni(&st, 0.006, 0.015) * (width + height);
    c->dist_x0[i] = p.cx;
    c->dist_y0[i] = p.cy;
    c->dist_vx[i] = kcos(ang) * speed;
    c->dist_vy[i] = ksin(ang) * speed;
    c->dist_rw[i] = uni(&st, -0.05, 0.05);
  }
  *out = c;
  return KAT_OK;
nomem:
  kat__synth_clip_destroy(c);
  return kat__fail(eb, KAT_ENOMEM, "synth: out of memory for a %dx%d clip", width, height);
}

int kat__synth_clip_render(kat__synth_clip *c, int t, uint8_t *rgb, uint8_t *mask,
                           kat__synth_info *info) {
  if (!c || !rgb || !mask || !info || t < 0 || t >= c->frames) return KAT_EINVAL;
  const int w = c->w, h = c->h;
  const size_t stride = (size_t)w * 3;
  /* Background with a slow pan. */
  int ox = c->margin + (int)floor(c->margin * 0.9 * ksin(c->pan_w * t + c->pan_phx));
  int oy = c->margin + (int)floor(c->margin * 0.9 * ksin(c->pan_w * 0.7 * t + c->pan_phy));
  for (int y = 0; y < h; y++)
    memcpy(rgb + (size_t)y * stride, c->bg + ((size_t)(y + oy) * c->bg_w + (size_t)ox) * 3, stride);
  memset(mask, 0, (size_t)w * h);

  placement pd[MAX_DIST];
  for (int i = 0; i < c->ndist; i++) {
    double dt = t - c->dist_tc[i];
    pd[i].cx = c->dist_x0[i] + c->dist_vx[i] * dt;
    pd[i].cy = c->dist_y0[i] + c->dist_vy[i] * dt;
    pd[i].angle = c->dist_rw[i] * t;
    pd[i].scale = 1.0;
    if (!c->dist_front[i]) draw_shape(rgb, stride, w, h, mask, MASK_KEEP, &c->dist[i], &pd[i]);
  }
  placement pt;
  target_place(c, t, &pt);
  int drawn = draw_shape(rgb, stride, w, h, mask, MASK_SET, &c->target, &pt);
  for (int i = 0; i < c->ndist; i++)
    if (c->dist_front[i]) draw_shape(rgb, stride, w, h, mask, MASK_CLEAR, &c->dist[i], &pd[i]);
  for (int k = 0; k < c->nocc; k++) {
    int rel = t - c->occ_t[k], len = c->occ_len[k];
    if (rel < 0 || rel > 2 * c->ramp + len) continue;
    double far; /* 1 = parked far away, 0 = centred on the target */
    if (rel < c->ramp)
      far = 1.0 - (double)rel / c->ramp;
    else if (rel < c->ramp + len)
      far = 0.0;
    else
      far = (double)(rel - c->ramp - len) / c->ramp;
    placement po = {pt.cx + c->occ_dx[k] * far, pt.cy + c->occ_dy[k] * far, 0.0, 1.0};
    draw_shape(rgb, stride, w, h, mask, MASK_CLEAR, &c->occluder, &po);
  }
  /* Visible part's bounding box. */
  int x0 = w, y0 = h, x1 = -1, y1 = -1, vis = 0;
  for (int y = 0; y < h; y++) {
    const uint8_t *m = mask + (size_t)y * w;
    for (int x = 0; x < w; x++)
      if (m[x]) {
        vis++;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
  }
  memset(info, 0, sizeof *info);
  info->visible_px = vis;
  info->drawn_px = drawn;
  info->out_of_view = drawn == 0;
  info->full_occlusion = drawn > 0 && vis == 0;
  if (vis) {
    info->box[0] = x0;
    info->box[1] = y0;
    info->box[2] = x1 - x0 + 1;
    info->box[3] = y1 - y0 + 1;
  }
  return KAT_OK;
}
