/*
 * Overlay video writer (libavcodec + libavformat + libswscale), overlay drawing and mask PNGs.
 *
 * The writer prefers libx264 (preset veryfast, crf 20) and falls back to FFmpeg's native MPEG-4
 * part 2 encoder (qscale 3). Each RGB24 frame is converted to YUV 4:2:0 into one reused AVFrame,
 * sent to the encoder, and every packet the encoder returns is written with its timestamps
 * rescaled to the stream. Close sends the flush frame, drains, writes the trailer.
 */
#include "media/encode.h"

#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "media/decode.h"
#include "media/image_io.h"

struct kat__video_writer {
  AVFormatContext *fmt;
  AVCodecContext *enc;
  AVStream *st;
  AVFrame *frame; /* YUV420P, reused */
  AVPacket *pkt;  /* reused */
  struct SwsContext *sws;
  int src_w, src_h;
  int64_t next_pts;
  int header_written;
  char codec[32];
  kat__errbuf eb;
};

static int av_fail(kat__errbuf *eb, int averr, const char *what, const char *path) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(averr, buf, sizeof buf);
  return kat__fail(eb, KAT_EMEDIA, "%s: %s: %s", path ? path : "video", what, buf);
}

static void writer_free(kat__video_writer *vw) {
  if (!vw) return;
  if (vw->fmt && !(vw->fmt->oformat->flags & AVFMT_NOFILE)) avio_closep(&vw->fmt->pb);
  avformat_free_context(vw->fmt);
  avcodec_free_context(&vw->enc);
  av_frame_free(&vw->frame);
  av_packet_free(&vw->pkt);
  sws_freeContext(vw->sws);
  kat__free(vw);
}

int kat__video_writer_open(const char *path, int width, int height, double fps,
                           kat__video_writer **out, kat__errbuf *eb) {
  int rc = KAT_OK, err;
  if (!out) return kat__fail(eb, KAT_EINVAL, "video writer: out is NULL");
  *out = NULL;
  if (!path || width < 2 || height < 2 || width > 16384 || height > 16384 || !(fps > 0) ||
      fps > 1000)
    return kat__fail(eb, KAT_EINVAL, "video writer: bad arguments (%dx%d at %g fps)", width, height,
                     fps);
  kat__media_ffmpeg_init();
  kat__video_writer *vw = kat__calloc(1, sizeof *vw);
  if (!vw) return kat__fail(eb, KAT_ENOMEM, "video writer: out of memory");
  vw->src_w = width;
  vw->src_h = height;
  const int ew = width & ~1, eh = height & ~1;

  err = avformat_alloc_output_context2(&vw->fmt, NULL, NULL, path);
  if (err < 0 || !vw->fmt) err = avformat_alloc_output_context2(&vw->fmt, NULL, "mp4", path);
  if (err < 0 || !vw->fmt) {
    rc = av_fail(eb, err, "cannot choose a container", path);
    goto fail;
  }
  const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
  if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
  if (!codec) {
    rc = kat__fail(eb, KAT_EMEDIA, "%s: FFmpeg has neither libx264 nor an MPEG-4 encoder", path);
    goto fail;
  }
  kat__strlcpy(vw->codec, codec->name, sizeof vw->codec);
  vw->st = avformat_new_stream(vw->fmt, NULL);
  vw->enc = avcodec_alloc_context3(codec);
  vw->frame = av_frame_alloc();
  vw->pkt = av_packet_alloc();
  if (!vw->st || !vw->enc || !vw->frame || !vw->pkt) {
    rc = kat__fail(eb, KAT_ENOMEM, "%s: out of memory in FFmpeg", path);
    goto fail;
  }
  AVRational rate = av_d2q(fps, 100000);
  vw->enc->width = ew;
  vw->enc->height = eh;
  vw->enc->pix_fmt = AV_PIX_FMT_YUV420P;
  vw->enc->time_base = av_inv_q(rate);
  vw->enc->framerate = rate;
  vw->enc->gop_size = 50;
  if (strcmp(codec->name, "libx264") == 0) {
    av_opt_set(vw->enc->priv_data, "preset", "veryfast", 0);
    av_opt_set(vw->enc->priv_data, "crf", "20", 0);
  } else {
    vw->enc->flags |= AV_CODEC_FLAG_QSCALE;
    vw->enc->global_quality = FF_QP2LAMBDA * 3;
  }
  if (vw->fmt->oformat->flags & AVFMT_GLOBALHEADER) vw->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if ((err = avcodec_open2(vw->enc, codec, NULL)) < 0) {
    rc = av_fail(eb, err, "cannot open the encoder", path);
    goto fail;
  }
  if ((err = avcodec_parameters_from_context(vw->st->codecpar, vw->enc)) < 0) {
    rc = av_fail(eb, err, "cannot set stream parameters", path);
    goto fail;
  }
  vw->st->time_base = vw->enc->time_base;
  vw->frame->format = AV_PIX_FMT_YUV420P;
  vw->frame->width = ew;
  vw->frame->height = eh;
  if ((err = av_frame_get_buffer(vw->frame, 0)) < 0) {
    rc = av_fail(eb, err, "cannot allocate a frame", path);
    goto fail;
  }
  vw->sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, ew, eh, AV_PIX_FMT_YUV420P,
                           SWS_BILINEAR, NULL, NULL, NULL);
  if (!vw->sws) {
    rc = kat__fail(eb, KAT_EMEDIA, "%s: cannot create the RGB->YUV converter", path);
    goto fail;
  }
  if (!(vw->fmt->oformat->flags & AVFMT_NOFILE) &&
      (err = avio_open(&vw->fmt->pb, path, AVIO_FLAG_WRITE)) < 0) {
    rc = av_fail(eb, err, "cannot open for writing", path);
    goto fail;
  }
  if ((err = avformat_write_header(vw->fmt, NULL)) < 0) {
    rc = av_fail(eb, err, "cannot write the header", path);
    goto fail;
  }
  vw->header_written = 1;
  *out = vw;
  return KAT_OK;
fail:
  writer_free(vw);
  return rc;
}

/* Sends `frame` (NULL to flush) and writes every packet that comes back. */
static int encode_send(kat__video_writer *vw, AVFrame *frame) {
  int err = avcodec_send_frame(vw->enc, frame);
  if (err < 0) return av_fail(&vw->eb, err, "encoder refused a frame", NULL);
  for (;;) {
    err = avcodec_receive_packet(vw->enc, vw->pkt);
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return KAT_OK;
    if (err < 0) return av_fail(&vw->eb, err, "encoding failed", NULL);
    /* Every frame lasts one tick of the encoder's time base. Without a duration the MP4 muxer
     * gives the last sample length 0 and its edit list cuts that frame off when decoding. */
    if (vw->pkt->duration <= 0) vw->pkt->duration = 1;
    av_packet_rescale_ts(vw->pkt, vw->enc->time_base, vw->st->time_base);
    vw->pkt->stream_index = vw->st->index;
    err = av_interleaved_write_frame(vw->fmt, vw->pkt); /* takes the packet's reference */
    if (err < 0) return av_fail(&vw->eb, err, "cannot write a packet", NULL);
  }
}

int kat__video_writer_write(kat__video_writer *vw, const uint8_t *rgb, size_t stride) {
  if (!vw || !rgb) return KAT_EINVAL;
  int err = av_frame_make_writable(vw->frame);
  if (err < 0) return av_fail(&vw->eb, err, "frame not writable", NULL);
  const uint8_t *src[1] = {rgb};
  int sstride[1] = {(int)stride};
  sws_scale(vw->sws, src, sstride, 0, vw->src_h, vw->frame->data, vw->frame->linesize);
  vw->frame->pts = vw->next_pts++;
  return encode_send(vw, vw->frame);
}

int kat__video_writer_close(kat__video_writer *vw, kat__errbuf *eb) {
  if (!vw) return KAT_OK;
  int rc = encode_send(vw, NULL);
  if (rc != KAT_OK) kat__fail(eb, rc, "%s", vw->eb.msg);
  if (vw->header_written) {
    int err = av_write_trailer(vw->fmt);
    if (err < 0 && rc == KAT_OK) rc = av_fail(eb, err, "cannot finish the file", NULL);
  }
  writer_free(vw);
  return rc;
}

const char *kat__video_writer_codec(const kat__video_writer *vw) {
  return vw ? vw->codec : "";
}

const char *kat__video_writer_last_error(const kat__video_writer *vw) {
  return vw ? vw->eb.msg : "";
}

void kat__overlay_draw(uint8_t *rgb, size_t stride, int w, int h, const uint8_t *mask,
                       size_t mask_stride, const float box[4], const uint8_t color[3],
                       float alpha) {
  if (!rgb || w < 1 || h < 1) return;
  if (alpha < 0) alpha = 0;
  if (alpha > 1) alpha = 1;
  const int a = (int)(alpha * 256.0f + 0.5f);
  if (mask) {
    for (int y = 0; y < h; y++) {
      uint8_t *p = rgb + (size_t)y * stride;
      const uint8_t *m = mask + (size_t)y * mask_stride;
      for (int x = 0; x < w; x++) {
        if (!m[x]) continue;
        for (int c = 0; c < 3; c++)
          p[3 * x + c] = (uint8_t)((p[3 * x + c] * (256 - a) + color[c] * a) >> 8);
      }
    }
  }
  if (box && box[2] > 0 && box[3] > 0) {
    int x0 = (int)(box[0] + 0.5f), y0 = (int)(box[1] + 0.5f);
    int x1 = (int)(box[0] + box[2] + 0.5f) - 1, y1 = (int)(box[1] + box[3] + 0.5f) - 1;
    for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < h; y++) {
      for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < w; x++) {
        int edge = x - x0 < 2 || x1 - x < 2 || y - y0 < 2 || y1 - y < 2;
        if (!edge) {
          if (x - x0 >= 2 && x1 - x >= 2) x = x1 - 2; /* jump to the right edge */
          continue;
        }
        memcpy(rgb + (size_t)y * stride + (size_t)x * 3, color, 3);
      }
    }
  }
}

int kat__mask_png_write(const char *dir, int64_t index, const uint8_t *mask, int w, int h,
                        size_t stride, kat__errbuf *eb) {
  char path[4096];
  if (!dir || index < 0) return kat__fail(eb, KAT_EINVAL, "mask write: bad arguments");
  int n = snprintf(path, sizeof path, "%s/%05lld.png", dir, (long long)index);
  if (n < 0 || (size_t)n >= sizeof path)
    return kat__fail(eb, KAT_EINVAL, "mask write: folder name too long");
  return kat__png_write_mask(path, mask, w, h, stride, eb);
}
