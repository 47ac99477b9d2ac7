/*
 * A bounded FIFO of pointers between pipeline stages: one mutex, two condition variables.
 *
 * DESIGN
 * The queue never owns what its slots point to: stages hand items (frame buffers, feature
 * tensors) from fixed pools created at start, so the steady state allocates nothing. A producer
 * blocks while the queue is full (backpressure) or, for live input, evicts the oldest item and
 * gets it back to recycle (kat__queue_push_drop_oldest). Closing marks the end of the stream:
 * pushes fail, pops drain what is left and then return KAT_EOF. Cancelling wakes every waiter at
 * once: pushes and pops then return KAT_ECANCELED, so any thread can stop all stages. Each wait
 * loop re-checks its condition (spurious wake-ups). Time spent blocked is accumulated per side.
 *
 * Thread-safety: every function except init/cleanup may be called from any thread concurrently.
 */
#ifndef KAT_PIPELINE_QUEUE_H
#define KAT_PIPELINE_QUEUE_H

#include <pthread.h>
#include <stdint.h>

#include "core/core.h"

typedef struct kat__queue {
  pthread_mutex_t mu;
  pthread_cond_t not_empty;
  pthread_cond_t not_full;
  void **slots; /* [capacity] ring of borrowed item pointers; owned array */
  int capacity;
  int head;  /* index of the oldest item */
  int count; /* items in the queue */
  int closed;
  int canceled;
  uint64_t push_wait_ns; /* total time producers spent blocked on a full queue */
  uint64_t pop_wait_ns;  /* total time consumers spent blocked on an empty queue */
  uint64_t pushed, popped, dropped;
  int max_depth;
} kat__queue;

/* Initialises a queue of `capacity` (>= 1) slots. KAT_ENOMEM/KAT_EINVAL; nothing to clean then. */
int kat__queue_init(kat__queue *q, int capacity);
/* Frees the slot array and the synchronisation objects. No thread may be using the queue. */
void kat__queue_cleanup(kat__queue *q);

/* Appends `item`, blocking while full. KAT_OK, KAT_ECANCELED, or KAT_ESTATE once closed. */
int kat__queue_push(kat__queue *q, void *item);
/*
 * Appends `item` without blocking: when full, the oldest item is removed and returned through
 * *evicted (else *evicted = NULL) so the caller can recycle it and report the drop.
 */
int kat__queue_push_drop_oldest(kat__queue *q, void *item, void **evicted);
/*
 * Like kat__queue_push_drop_oldest, but with `keep_oldest` the oldest item stays (the stream's
 * conditioning frame): the second oldest is evicted instead, or, in a queue of one slot, `item`
 * itself is returned through *evicted without being queued. Never blocks.
 */
int kat__queue_push_drop(kat__queue *q, void *item, int keep_oldest, void **evicted);
/* Appends `item` without blocking: KAT_ESTATE if full or closed, KAT_ECANCELED if cancelled. */
int kat__queue_try_push(kat__queue *q, void *item);
/* Removes the oldest item into *item, blocking while empty. KAT_OK, KAT_EOF, KAT_ECANCELED. */
int kat__queue_pop(kat__queue *q, void **item);
/* Like pop but never blocks: KAT_EOF if closed and empty, KAT_ESTATE if merely empty. */
int kat__queue_try_pop(kat__queue *q, void **item);

/* End of stream: no more pushes; consumers drain and then get KAT_EOF. */
void kat__queue_close(kat__queue *q);
/* Wakes every waiter; all later pushes and pops return KAT_ECANCELED. */
void kat__queue_cancel(kat__queue *q);

/* Snapshot of the counters (any thread). */
typedef struct kat__queue_counters {
  uint64_t push_wait_ns, pop_wait_ns, pushed, popped, dropped;
  int depth, max_depth;
} kat__queue_counters;
void kat__queue_stats(kat__queue *q, kat__queue_counters *out);

#endif /* KAT_PIPELINE_QUEUE_H */
