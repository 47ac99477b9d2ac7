/*
 * Frame sources: FFmpeg demux+decode, image folders and raw RGB24 streams behind one interface.
 *
 * The FFmpeg path is the standard send/receive loop: receive a frame if the decoder has one; if
 * it wants input, read the next packet of our stream and send it; at the end of the file send the
 * flush packet and drain. Decoded frames are converted to RGB24 by swscale into one buffer of
 * ours, then av_frame_unref'd so the decoder can recycle them. Packets are unref'd after sending.
 * Errors copy FFmpeg's text (av_strerror) into the source's error buffer.
 *
 * DESIGN (FFmpeg's log). FFmpeg has one process-wide log callback (ours, installed once). While a
 * thread opens a source, a thread-local pointer names that open's capture buffer: the callback
 * puts the warning and error lines logged on that thread (e.g. "moov atom not found") there
 * instead of logging them, so a failed open's message ends with "(FFmpeg: ...)" and nothing else
 * reaches stderr, and opens on other threads never see each other's lines. After a successful
 * open the captured lines are logged as one warning. Lines from FFmpeg's own threads, and every
 * line outside an open, go to the log as before.
 */
#include "media/decode.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#ifdef KAT_HAVE_AVDEVICE
#include <libavdevice/avdevice.h>
#endif

#include "media/image_io.h"

/* Consecutive undecodable packets tolerated before the stream counts as broken. */
#define MAX_BAD_PACKETS 64

struct kat__source {
  kat__source_kind kind;
  kat__errbuf eb;
  int width, height;
  double fps;
  int64_t frame_count;
  int64_t next_index;
  int pending; /* the frame decoded at open has not been delivered yet */
  int status;  /* sticky KAT_EOF or error once reached */
  char codec[32];
  double cur_time;
  /* FFmpeg */
  AVFormatContext *fmt;
  AVCodecContext *dec;
  AVFrame *frame;
  AVPacket *pkt;
  struct SwsContext *sws;
  int stream;
  int flushing;
  AVRational tb;
  /* FFmpeg and raw: [height, width*3] u8 RGB24 */
  uint8_t *rgb;
  /* Folder */
  kat__file_list files;
  kat__image img;
  /* Raw */
  int fd;
};

/* FFmpeg's warning and error lines during one open, "; "-joined (repeats of the last line
 * dropped), truncated to the buffer. */
typedef struct ffmpeg_capture {
  char text[512];
  size_t n;
  char last[256];
} ffmpeg_capture;

static _Thread_local ffmpeg_capture *t_capture; /* the open running on this thread, or NULL */

static void capture_add(ffmpeg_capture *c, const char *line) {
  if (strncmp(c->last, line, sizeof c->last - 1) == 0) return;
  kat__strlcpy(c->last, line, sizeof c->last);
  int w = snprintf(c->text + c->n, sizeof c->text - c->n, "%s%s", c->n ? "; " : "", line);
  if (w > 0) c->n = (size_t)w < sizeof c->text - c->n ? c->n + (size_t)w : sizeof c->text - 1;
}

static void ffmpeg_log(void *avcl, int level, const char *fmt, va_list ap) {
  ffmpeg_capture *c = level <= AV_LOG_WARNING ? t_capture : NULL;
  int print_prefix = c ? 0 : 1; /* per call: no shared state between threads */
  char line[1024];
  if (level > AV_LOG_VERBOSE) return;
  av_log_format_line2(avcl, level, fmt, ap, line, sizeof line, &print_prefix);
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  if (!n) return;
  if (c) {
    capture_add(c, line);
    return;
  }
  kat_log_level kl = level <= AV_LOG_ERROR     ? KAT_LOG_ERROR
                     : level <= AV_LOG_WARNING ? KAT_LOG_WARN
                     : level <= AV_LOG_INFO    ? KAT_LOG_DEBUG
                                               : KAT_LOG_VERBOSE;
  kat__log_raw(kl, "ffmpeg", line);
}

static pthread_once_t g_ffmpeg_once = PTHREAD_ONCE_INIT;

static void ffmpeg_init_once(void) {
  av_log_set_callback(ffmpeg_log);
  avformat_network_init();
#ifdef KAT_HAVE_AVDEVICE
  avdevice_register_all();
#endif
}

void kat__media_ffmpeg_init(void) {
  pthread_once(&g_ffmpeg_once, ffmpeg_init_once);
}

void kat__source_options_init(kat__source_options *opts) {
  if (!opts) return;
  memset(opts, 0, sizeof *opts);
  opts->folder_fps = 30.0;
}

void kat__source_options_from(kat__source_options *opts, const kat_source_options *pub) {
  kat__source_options_init(opts);
  if (!pub) return;
  opts->raw_width = pub->raw_width;
  opts->raw_height = pub->raw_height;
  opts->raw_fd = pub->raw_fd;
  opts->input_format = pub->input_format;
  if (pub->fps > 0) opts->folder_fps = pub->fps;
}

void kat__source_info_to_public(const kat__source *src, kat_source_info *info) {
  memset(info, 0, sizeof *info);
  kat__source_info si;
  kat__source_get_info(src, &si);
  info->width = si.width;
  info->height = si.height;
  info->fps = si.fps;
  info->frame_count = si.frame_count;
  kat__strlcpy(info->codec, si.codec, sizeof info->codec);
}

static int av_fail(kat__errbuf *eb, int averr, const char *uri, const char *what) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(averr, buf, sizeof buf);
  return kat__fail(eb, averr == AVERROR(ENOENT) ? KAT_ENOENT : KAT_EMEDIA, "%s: %s: %s", uri, what,
                   buf);
}

static int size_check(kat__source *s, int w, int h, const char *where) {
  if (s->width == 0) {
    s->width = w;
    s->height = h;
    return KAT_OK;
  }
  if (w != s->width || h != s->height)
    return kat__fail(&s->eb, KAT_EMEDIA,
                     "%s: frame %lld is %dx%d but the stream started at %dx%d; a size change "
                     "mid-stream is not supported",
                     where, (long long)s->next_index, w, h, s->width, s->height);
  return KAT_OK;
}

/* ---- FFmpeg ---- */

static int ffmpeg_convert(kat__source *s, const char *uri) {
  AVFrame *f = s->frame;
  int rc = size_check(s, f->width, f->height, uri);
  if (rc != KAT_OK) return rc;
  if (!s->rgb) {
    s->rgb = kat__malloc((size_t)s->width * s->height * 3);
    if (!s->rgb) return kat__fail(&s->eb, KAT_ENOMEM, "%s: out of memory for frames", uri);
  }
  s->sws =
      sws_getCachedContext(s->sws, f->width, f->height, (enum AVPixelFormat)f->format, s->width,
                           s->height, AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL, NULL, NULL);
  if (!s->sws)
    return kat__fail(&s->eb, KAT_EMEDIA, "%s: cannot convert pixel format %s to RGB24", uri,
                     av_get_pix_fmt_name((enum AVPixelFormat)f->format));
  uint8_t *dst[4] = {s->rgb, NULL, NULL, NULL};
  int dst_stride[4] = {s->width * 3, 0, 0, 0};
  sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_stride);
  int64_t ts = f->best_effort_timestamp;
  if (ts != AV_NOPTS_VALUE) {
    int64_t start = s->fmt->streams[s->stream]->start_time;
    if (start != AV_NOPTS_VALUE) ts -= start;
    s->cur_time = ts * av_q2d(s->tb);
  } else {
    s->cur_time = s->fps > 0 ? s->next_index / s->fps : 0.0;
  }
  return KAT_OK;
}

/* Decodes the next frame into s->rgb. */
static int ffmpeg_read(kat__source *s) {
  const char *uri = s->fmt->url ? s->fmt->url : "input";
  int bad = 0;
  for (;;) {
    int ret = avcodec_receive_frame(s->dec, s->frame);
    if (ret == 0) {
      int rc = ffmpeg_convert(s, uri);
      av_frame_unref(s->frame);
      return rc;
    }
    if (ret == AVERROR_EOF) return KAT_EOF;
    if (ret != AVERROR(EAGAIN)) return av_fail(&s->eb, ret, uri, "decoding failed");
    if (s->flushing) return KAT_EOF;
    ret = av_read_frame(s->fmt, s->pkt);
    if (ret == AVERROR_EOF) {
      s->flushing = 1;
      ret = avcodec_send_packet(s->dec, NULL);
      if (ret < 0 && ret != AVERROR_EOF) return av_fail(&s->eb, ret, uri, "flushing failed");
      continue;
    }
    if (ret < 0) return av_fail(&s->eb, ret, uri, "reading failed");
    if (s->pkt->stream_index != s->stream) {
      av_packet_unref(s->pkt);
      continue;
    }
    ret = avcodec_send_packet(s->dec, s->pkt);
    av_packet_unref(s->pkt);
    if (ret == AVERROR_INVALIDDATA) {
      kat__log(KAT_LOG_WARN, "%s: skipping an undecodable packet", uri);
      if (++bad > MAX_BAD_PACKETS) return av_fail(&s->eb, ret, uri, "too many undecodable packets");
      continue;
    }
    if (ret < 0 && ret != AVERROR(EAGAIN)) return av_fail(&s->eb, ret, uri, "decoding failed");
    bad = 0;
  }
}

static int ffmpeg_open_capturing(kat__source *s, const char *uri, const kat__source_options *o) {
  const AVInputFormat *ifmt = NULL;
  const AVCodec *codec = NULL;
  int ret;
  kat__media_ffmpeg_init();
  if (o->input_format && o->input_format[0]) {
    ifmt = av_find_input_format(o->input_format);
    if (!ifmt)
      return kat__fail(&s->eb, KAT_EMEDIA, "%s: FFmpeg has no input format '%s'%s", uri,
                       o->input_format,
#ifdef KAT_HAVE_AVDEVICE
                       ""
#else
                       " (this build has no libavdevice)"
#endif
      );
  }
  if ((ret = avformat_open_input(&s->fmt, uri, ifmt, NULL)) < 0)
    return av_fail(&s->eb, ret, uri, "cannot open");
  if ((ret = avformat_find_stream_info(s->fmt, NULL)) < 0)
    return av_fail(&s->eb, ret, uri, "cannot read stream info");
  ret = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (ret < 0) return av_fail(&s->eb, ret, uri, "no decodable video stream");
  s->stream = ret;
  AVStream *st = s->fmt->streams[s->stream];
  s->dec = avcodec_alloc_context3(codec);
  s->frame = av_frame_alloc();
  s->pkt = av_packet_alloc();
  if (!s->dec || !s->frame || !s->pkt)
    return kat__fail(&s->eb, KAT_ENOMEM, "%s: out of memory in FFmpeg", uri);
  if ((ret = avcodec_parameters_to_context(s->dec, st->codecpar)) < 0)
    return av_fail(&s->eb, ret, uri, "bad codec parameters");
  s->dec->thread_count = 0; /* FFmpeg picks */
  if ((ret = avcodec_open2(s->dec, codec, NULL)) < 0)
    return av_fail(&s->eb, ret, uri, "cannot open the decoder");
  s->tb = st->time_base;
  AVRational fr = av_guess_frame_rate(s->fmt, st, NULL);
  s->fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 0.0;
  s->frame_count = st->nb_frames > 0 ? st->nb_frames : -1;
  kat__strlcpy(s->codec, codec->name, sizeof s->codec);
  return KAT_OK;
}

/* Opens with FFmpeg's log lines of this thread captured (DESIGN above): on failure they end the
 * message, on success they are logged as one warning. */
static int ffmpeg_open(kat__source *s, const char *uri, const kat__source_options *o) {
  ffmpeg_capture cap;
  memset(&cap, 0, sizeof cap);
  kat__media_ffmpeg_init();
  t_capture = &cap;
  int rc = ffmpeg_open_capturing(s, uri, o);
  t_capture = NULL;
  if (!cap.n) return rc;
  if (rc == KAT_OK) {
    kat__log_raw(KAT_LOG_WARN, "ffmpeg", cap.text);
    return rc;
  }
  size_t len = strlen(s->eb.msg);
  snprintf(s->eb.msg + len, sizeof s->eb.msg - len, " (FFmpeg: %s)", cap.text);
  return rc;
}

/* ---- Folder and raw ---- */

static int folder_read(kat__source *s) {
  if ((size_t)s->next_index >= s->files.count) return KAT_EOF;
  const char *path = s->files.paths[s->next_index];
  int rc = kat__image_read(path, &s->img, &s->eb);
  if (rc != KAT_OK) return rc;
  rc = size_check(s, s->img.width, s->img.height, path);
  if (rc != KAT_OK) return rc;
  s->cur_time = s->next_index / s->fps;
  return KAT_OK;
}

static int raw_read(kat__source *s) {
  size_t want = (size_t)s->width * s->height * 3, got = 0;
  while (got < want) {
    ssize_t n = read(s->fd, s->rgb + got, want - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return kat__fail(&s->eb, KAT_EIO, "raw input: %s", strerror(errno));
    if (n == 0) break;
    got += (size_t)n;
  }
  if (got == 0) return KAT_EOF;
  if (got < want)
    return kat__fail(&s->eb, KAT_EMEDIA,
                     "raw input: truncated frame %lld (%zu of %zu bytes of a %dx%d RGB24 frame)",
                     (long long)s->next_index, got, want, s->width, s->height);
  s->cur_time = s->next_index / s->fps;
  return KAT_OK;
}

static int source_read(kat__source *s) {
  switch (s->kind) {
    case KAT__SOURCE_FFMPEG: return ffmpeg_read(s);
    case KAT__SOURCE_FOLDER: return folder_read(s);
    default: return raw_read(s);
  }
}

void kat__source_close(kat__source *s) {
  if (!s) return;
  avformat_close_input(&s->fmt);
  avcodec_free_context(&s->dec);
  av_frame_free(&s->frame);
  av_packet_free(&s->pkt);
  sws_freeContext(s->sws);
  kat__free(s->rgb);
  kat__file_list_cleanup(&s->files);
  kat__image_cleanup(&s->img);
  kat__free(s);
}

int kat__source_open(const char *uri, const kat__source_options *opts, kat__source **out,
                     kat__errbuf *eb) {
  kat__source_options defaults;
  int rc;
  if (!out) return kat__fail(eb, KAT_EINVAL, "source: out is NULL");
  *out = NULL;
  if (!uri) return kat__fail(eb, KAT_EINVAL, "source: no input given");
  if (!opts) {
    kat__source_options_init(&defaults);
    opts = &defaults;
  }
  kat__source *s = kat__calloc(1, sizeof *s);
  if (!s) return kat__fail(eb, KAT_ENOMEM, "source: out of memory");
  s->fps = opts->folder_fps > 0 ? opts->folder_fps : 30.0;
  s->frame_count = -1;
  struct stat sb;
  if (opts->raw_width > 0 || opts->raw_height > 0) {
    s->kind = KAT__SOURCE_RAW;
    if (opts->raw_width < 1 || opts->raw_height < 1 || opts->raw_width > 16384 ||
        opts->raw_height > 16384 || opts->raw_fd < 0) {
      rc = kat__fail(&s->eb, KAT_EINVAL, "raw input: bad size %dx%d or descriptor", opts->raw_width,
                     opts->raw_height);
      goto fail;
    }
    s->width = opts->raw_width;
    s->height = opts->raw_height;
    s->fd = opts->raw_fd;
    kat__strlcpy(s->codec, "rawvideo", sizeof s->codec);
    s->rgb = kat__malloc((size_t)s->width * s->height * 3);
    if (!s->rgb) {
      rc = kat__fail(&s->eb, KAT_ENOMEM, "raw input: out of memory");
      goto fail;
    }
    if (rc = raw_read(s), rc == KAT_EOF) kat__fail(&s->eb, KAT_EOF, "raw input: no frames");
  } else if (stat(uri, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    s->kind = KAT__SOURCE_FOLDER;
    kat__strlcpy(s->codec, "png/jpeg", sizeof s->codec);
    rc = kat__image_dir_list(uri, &s->files, &s->eb);
    if (rc != KAT_OK) goto fail;
    if (s->files.count == 0) {
      rc = kat__fail(&s->eb, KAT_EMEDIA, "%s: no *.jpg, *.jpeg or *.png images in the folder", uri);
      goto fail;
    }
    s->frame_count = (int64_t)s->files.count;
    rc = folder_read(s);
  } else {
    s->kind = KAT__SOURCE_FFMPEG;
    rc = ffmpeg_open(s, uri, opts);
    if (rc == KAT_OK) {
      rc = ffmpeg_read(s);
      if (rc == KAT_EOF) rc = kat__fail(&s->eb, KAT_EMEDIA, "%s: no video frames", uri);
    }
  }
  if (rc != KAT_OK) goto fail;
  s->pending = 1;
  *out = s;
  return KAT_OK;
fail:
  kat__fail(eb, rc, "%s", s->eb.msg);
  kat__source_close(s);
  return rc;
}

int kat__source_next(kat__source *s, kat_frame *frame) {
  if (!s || !frame) return KAT_EINVAL;
  if (s->status != KAT_OK) return s->status;
  if (!s->pending) {
    int rc = source_read(s);
    if (rc != KAT_OK) {
      s->status = rc;
      return rc;
    }
  }
  s->pending = 0;
  memset(frame, 0, sizeof *frame);
  frame->format = KAT_PIXEL_RGB24;
  frame->width = s->width;
  frame->height = s->height;
  frame->data[0] = s->kind == KAT__SOURCE_FOLDER ? s->img.data : s->rgb;
  frame->stride[0] = s->kind == KAT__SOURCE_FOLDER ? s->img.stride : (size_t)s->width * 3;
  frame->index = s->next_index++;
  frame->time_s = s->cur_time;
  return KAT_OK;
}

void kat__source_get_info(const kat__source *s, kat__source_info *info) {
  if (!s || !info) return;
  memset(info, 0, sizeof *info);
  info->kind = s->kind;
  info->width = s->width;
  info->height = s->height;
  info->fps = s->fps;
  info->frame_count = s->frame_count;
  kat__strlcpy(info->codec, s->codec, sizeof info->codec);
}

const char *kat__source_last_error(const kat__source *s) {
  return s ? s->eb.msg : "";
}
