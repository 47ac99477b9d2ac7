/*
 * Bounded pointer queue between pipeline stages (see queue.h for the design).
 */
#include "pipeline/queue.h"

#include <string.h>

int kat__queue_init(kat__queue *q, int capacity) {
  if (!q || capacity < 1) return KAT_EINVAL;
  memset(q, 0, sizeof *q);
  q->slots = kat__calloc((size_t)capacity, sizeof *q->slots);
  if (!q->slots) return KAT_ENOMEM;
  q->capacity = capacity;
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->not_empty, NULL);
  pthread_cond_init(&q->not_full, NULL);
  return KAT_OK;
}

void kat__queue_cleanup(kat__queue *q) {
  if (!q || !q->slots) return;
  pthread_cond_destroy(&q->not_full);
  pthread_cond_destroy(&q->not_empty);
  pthread_mutex_destroy(&q->mu);
  kat__free(q->slots);
  q->slots = NULL;
}

/* Appends under the lock; the caller checked there is room. */
static void put_locked(kat__queue *q, void *item) {
  q->slots[(q->head + q->count) % q->capacity] = item;
  q->count++;
  q->pushed++;
  if (q->count > q->max_depth) q->max_depth = q->count;
  pthread_cond_signal(&q->not_empty);
}

static void *take_locked(kat__queue *q) {
  void *item = q->slots[q->head];
  q->slots[q->head] = NULL;
  q->head = (q->head + 1) % q->capacity;
  q->count--;
  return item;
}

int kat__queue_push(kat__queue *q, void *item) {
  pthread_mutex_lock(&q->mu);
  uint64_t t0 = 0;
  while (!q->canceled && !q->closed && q->count == q->capacity) {
    if (!t0) t0 = kat__now_ns();
    pthread_cond_wait(&q->not_full, &q->mu);
  }
  if (t0) q->push_wait_ns += kat__now_ns() - t0;
  int rc = q->canceled ? KAT_ECANCELED : q->closed ? KAT_ESTATE : KAT_OK;
  if (rc == KAT_OK) put_locked(q, item);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int kat__queue_push_drop_oldest(kat__queue *q, void *item, void **evicted) {
  return kat__queue_push_drop(q, item, 0, evicted);
}

/* Removes the second oldest item under the lock (count >= 2): later items move up one place. */
static void *take_second_locked(kat__queue *q) {
  const int at = (q->head + 1) % q->capacity;
  void *item = q->slots[at];
  for (int k = 1; k + 1 < q->count; k++)
    q->slots[(q->head + k) % q->capacity] = q->slots[(q->head + k + 1) % q->capacity];
  q->slots[(q->head + q->count - 1) % q->capacity] = NULL;
  q->count--;
  return item;
}

int kat__queue_push_drop(kat__queue *q, void *item, int keep_oldest, void **evicted) {
  *evicted = NULL;
  pthread_mutex_lock(&q->mu);
  int rc = q->canceled ? KAT_ECANCELED : q->closed ? KAT_ESTATE : KAT_OK;
  if (rc == KAT_OK) {
    if (q->count == q->capacity) {
      q->dropped++;
      if (!keep_oldest) {
        *evicted = take_locked(q);
      } else if (q->count >= 2) {
        *evicted = take_second_locked(q);
      } else {
        *evicted = item; /* one slot, holding the item that must stay */
        item = NULL;
      }
    }
    if (item) put_locked(q, item);
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int kat__queue_try_push(kat__queue *q, void *item) {
  pthread_mutex_lock(&q->mu);
  int rc = q->canceled                              ? KAT_ECANCELED
           : (q->closed || q->count == q->capacity) ? KAT_ESTATE
                                                    : KAT_OK;
  if (rc == KAT_OK) put_locked(q, item);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int kat__queue_pop(kat__queue *q, void **item) {
  pthread_mutex_lock(&q->mu);
  uint64_t t0 = 0;
  while (!q->canceled && !q->closed && q->count == 0) {
    if (!t0) t0 = kat__now_ns();
    pthread_cond_wait(&q->not_empty, &q->mu);
  }
  if (t0) q->pop_wait_ns += kat__now_ns() - t0;
  int rc;
  if (q->canceled) {
    rc = KAT_ECANCELED;
  } else if (q->count == 0) {
    rc = KAT_EOF; /* closed and drained */
  } else {
    *item = take_locked(q);
    q->popped++;
    pthread_cond_signal(&q->not_full);
    rc = KAT_OK;
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int kat__queue_try_pop(kat__queue *q, void **item) {
  pthread_mutex_lock(&q->mu);
  int rc;
  if (q->canceled) {
    rc = KAT_ECANCELED;
  } else if (q->count == 0) {
    rc = q->closed ? KAT_EOF : KAT_ESTATE;
  } else {
    *item = take_locked(q);
    q->popped++;
    pthread_cond_signal(&q->not_full);
    rc = KAT_OK;
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

void kat__queue_close(kat__queue *q) {
  pthread_mutex_lock(&q->mu);
  q->closed = 1;
  pthread_cond_broadcast(&q->not_empty);
  pthread_cond_broadcast(&q->not_full);
  pthread_mutex_unlock(&q->mu);
}

void kat__queue_cancel(kat__queue *q) {
  pthread_mutex_lock(&q->mu);
  q->canceled = 1;
  pthread_cond_broadcast(&q->not_empty);
  pthread_cond_broadcast(&q->not_full);
  pthread_mutex_unlock(&q->mu);
}

void kat__queue_stats(kat__queue *q, kat__queue_counters *out) {
  pthread_mutex_lock(&q->mu);
  out->push_wait_ns = q->push_wait_ns;
  out->pop_wait_ns = q->pop_wait_ns;
  out->pushed = q->pushed;
  out->popped = q->popped;
  out->dropped = q->dropped;
  out->depth = q->count;
  out->max_depth = q->max_depth;
  pthread_mutex_unlock(&q->mu);
}
