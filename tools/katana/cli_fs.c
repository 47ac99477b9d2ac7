/*
 * File-system helpers of the CLI (see cli_fs.h).
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "cli_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

int kat_cli_is_dir(const char *path) {
  struct stat sb;
  return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int kat_cli_is_file(const char *path) {
  struct stat sb;
  return path && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Appends component `c` (len n) to the canonical path in out: '.' is skipped, '..' pops. */
static int push_component(char *out, size_t out_size, const char *c, size_t n) {
  if (n == 0 || (n == 1 && c[0] == '.')) return 0;
  size_t len = strlen(out);
  if (n == 2 && c[0] == '.' && c[1] == '.') {
    char *slash = strrchr(out, '/');
    if (slash && slash != out)
      *slash = '\0';
    else
      snprintf(out, out_size, "/");
    return 0;
  }
  int need_slash = len > 0 && out[len - 1] != '/';
  if (len + (size_t)need_slash + n + 1 > out_size) return -1;
  if (need_slash) out[len++] = '/';
  memcpy(out + len, c, n);
  out[len + n] = '\0';
  return 0;
}

int kat_cli_path_canon(const char *path, char *out, size_t out_size) {
  if (!path || !*path || out_size < 2) return -1;
  char abs[PATH_MAX];
  if (path[0] == '/') {
    if (snprintf(abs, sizeof abs, "%s", path) >= (int)sizeof abs) return -1;
  } else {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return -1;
    if (snprintf(abs, sizeof abs, "%s/%s", cwd, path) >= (int)sizeof abs) return -1;
  }
  /* The longest existing prefix, cut at a '/'. */
  size_t cut = strlen(abs);
  char res[PATH_MAX];
  for (;;) {
    char prefix[PATH_MAX];
    memcpy(prefix, abs, cut);
    prefix[cut] = '\0';
    if (cut == 0) snprintf(prefix, sizeof prefix, "/");
    if (realpath(prefix, res)) break;
    if (cut == 0) return -1;
    while (cut > 0 && abs[cut - 1] != '/') cut--; /* back to the previous component */
    while (cut > 0 && abs[cut - 1] == '/') cut--;
  }
  if (snprintf(out, out_size, "%s", res) >= (int)out_size) return -1;
  for (const char *p = abs + cut; *p;) {
    while (*p == '/') p++;
    const char *e = p;
    while (*e && *e != '/') e++;
    if (push_component(out, out_size, p, (size_t)(e - p))) return -1;
    p = e;
  }
  return 0;
}

int kat_cli_same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (!a || !b) return 0;
  int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
  if (ea && eb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (ea != eb) return 0;
  char ca[PATH_MAX], cb[PATH_MAX];
  if (kat_cli_path_canon(a, ca, sizeof ca) || kat_cli_path_canon(b, cb, sizeof cb)) return 0;
  return strcmp(ca, cb) == 0;
}

int kat_cli_path_within(const char *path, const char *dir) {
  char cp[PATH_MAX], cd[PATH_MAX];
  if (kat_cli_path_canon(path, cp, sizeof cp) || kat_cli_path_canon(dir, cd, sizeof cd)) return 0;
  size_t n = strlen(cd);
  if (n == 1 && cd[0] == '/') return 1;
  return strncmp(cp, cd, n) == 0 && (cp[n] == '/' || cp[n] == '\0');
}

int kat_cli_mkdirs(const char *dir) {
  char buf[PATH_MAX];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char c = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    buf[i] = c;
  }
  if (!kat_cli_is_dir(dir)) {
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

/* 1 for the names katana writes into masks/: digits then ".png" (kat_mask_png_write). */
static int is_mask_name(const char *name) {
  size_t n = strlen(name), d = 0;
  while (name[d] >= '0' && name[d] <= '9') d++;
  return d >= 1 && n == d + 4 && strcmp(name + d, ".png") == 0;
}

static int join(char *out, size_t size, const char *a, const char *b) {
  int n = snprintf(out, size, "%s/%s", a, b);
  return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Counts the katana-named PNGs in dir/masks (0 when there is no such folder). */
static long count_masks(const char *masks) {
  DIR *d = opendir(masks);
  if (!d) return 0;
  long n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (is_mask_name(e->d_name)) n++;
  closedir(d);
  return n;
}

/* 1 for the names of per-object folders: digits only. */
static int is_id_name(const char *name) {
  size_t d = 0;
  while (name[d] >= '0' && name[d] <= '9') d++;
  return d >= 1 && name[d] == '\0';
}

/* Checks every dir/objects/<id>/ folder with kat_cli_out_check. */
static int check_objects(const char *dir, char *why, size_t why_size) {
  char objs[PATH_MAX], p[PATH_MAX];
  if (join(objs, sizeof objs, dir, "objects")) return 0;
  DIR *d = opendir(objs);
  if (!d) return 0;
  int rc = 0;
  for (struct dirent *e; rc == 0 && (e = readdir(d));)
    if (is_id_name(e->d_name) && join(p, sizeof p, objs, e->d_name) == 0 && kat_cli_is_dir(p))
      rc = kat_cli_out_check(p, why, why_size);
  closedir(d);
  return rc;
}

int kat_cli_out_check(const char *dir, char *why, size_t why_size) {
  char p[PATH_MAX];
  if (!kat_cli_is_dir(dir)) {
    struct stat sb;
    if (stat(dir, &sb) == 0) {
      snprintf(why, why_size, "'%s' exists and is not a folder", dir);
      return -1;
    }
    return 0;
  }
  if (check_objects(dir, why, why_size)) return -1;
  if (join(p, sizeof p, dir, KAT_CLI_OUT_MARKER) == 0 && kat_cli_is_file(p)) return 0;
  if (join(p, sizeof p, dir, "results.jsonl") == 0 && kat_cli_is_file(p)) return 0;
  int boxes = (join(p, sizeof p, dir, "boxes.txt") == 0 && kat_cli_is_file(p)) ||
              (join(p, sizeof p, dir, "tracks.txt") == 0 && kat_cli_is_file(p));
  long masks = join(p, sizeof p, dir, "masks") == 0 ? count_masks(p) : 0;
  if (boxes || masks) {
    snprintf(why, why_size,
             "'%s' holds %s%s%s that katana track did not write (no %s or results.jsonl): "
             "choose a new or empty --out",
             dir, boxes ? "boxes.txt or tracks.txt" : "", boxes && masks ? " and " : "",
             masks ? "mask PNGs in masks/" : "", KAT_CLI_OUT_MARKER);
    return -1;
  }
  return 0;
}

static int remove_file(const char *path, char *why, size_t why_size) {
  if (unlink(path) == 0 || errno == ENOENT) return 0;
  snprintf(why, why_size, "cannot remove the previous run's '%s': %s", path, strerror(errno));
  return -1;
}

/* Removes boxes.txt, results.jsonl and masks/<digits>.png of `dir` (then masks/ when empty). */
static int clear_outputs(const char *dir, char *why, size_t why_size) {
  char p[PATH_MAX], masks[PATH_MAX];
  if (join(p, sizeof p, dir, "boxes.txt") || join(masks, sizeof masks, dir, "masks")) {
    snprintf(why, why_size, "'%s': path too long", dir);
    return -1;
  }
  if (remove_file(p, why, why_size)) return -1;
  join(p, sizeof p, dir, "results.jsonl");
  if (remove_file(p, why, why_size)) return -1;
  DIR *d = opendir(masks);
  if (d) {
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
      if (!is_mask_name(e->d_name)) continue;
      if (join(p, sizeof p, masks, e->d_name) == 0) rc = remove_file(p, why, why_size);
    }
    closedir(d);
    if (rc) return -1;
    rmdir(masks); /* fails, harmlessly, when other files remain */
  }
  return 0;
}

/* Removes a previous run's tracks.txt and objects/<id>/ folders (their outputs and markers; a
 * folder that keeps other files stays). */
static int clear_objects(const char *dir, char *why, size_t why_size) {
  char objs[PATH_MAX], p[PATH_MAX], m[PATH_MAX];
  if (join(p, sizeof p, dir, "tracks.txt") || join(objs, sizeof objs, dir, "objects")) {
    snprintf(why, why_size, "'%s': path too long", dir);
    return -1;
  }
  if (remove_file(p, why, why_size)) return -1;
  DIR *d = opendir(objs);
  if (!d) return 0;
  int rc = 0;
  for (struct dirent *e; rc == 0 && (e = readdir(d));) {
    if (!is_id_name(e->d_name) || join(p, sizeof p, objs, e->d_name) || !kat_cli_is_dir(p))
      continue;
    rc = clear_outputs(p, why, why_size);
    if (rc == 0 && join(m, sizeof m, p, KAT_CLI_OUT_MARKER) == 0)
      rc = remove_file(m, why, why_size);
    if (rc == 0) rmdir(p);
  }
  closedir(d);
  if (rc == 0) rmdir(objs);
  return rc;
}

int kat_cli_out_clear(const char *dir, char *why, size_t why_size) {
  char p[PATH_MAX];
  if (kat_cli_out_check(dir, why, why_size)) return -1;
  if (clear_outputs(dir, why, why_size) || clear_objects(dir, why, why_size)) return -1;
  if (join(p, sizeof p, dir, KAT_CLI_OUT_MARKER)) {
    snprintf(why, why_size, "'%s': path too long", dir);
    return -1;
  }
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0666);
  if (fd < 0) {
    snprintf(why, why_size, "cannot write into '%s': %s", dir, strerror(errno));
    return -1;
  }
  static const char k_text[] =
      "written by katana track; its outputs here are replaced by the "
      "next run into this folder\n";
  ssize_t w = write(fd, k_text, sizeof k_text - 1);
  close(fd);
  if (w != (ssize_t)(sizeof k_text - 1)) {
    snprintf(why, why_size, "cannot write into '%s'", dir);
    return -1;
  }
  return 0;
}
