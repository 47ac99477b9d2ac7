/*
 * Tests for the bounded pipeline queue: FIFO order across threads with backpressure, drain on
 * close, cancellation waking blocked producers and consumers, and drop-oldest accounting.
 */
#include <pthread.h>
#include <time.h>

#include "kat_test.h"
#include "pipeline/queue.h"

#define N_ITEMS 20000

static intptr_t g_items[N_ITEMS];

static void *producer(void *arg) {
  kat__queue *q = arg;
  for (int i = 0; i < N_ITEMS; i++)
    if (kat__queue_push(q, &g_items[i]) != KAT_OK) return NULL;
  kat__queue_close(q);
  return NULL;
}

KAT_TEST(test_order_and_backpressure) {
  kat__queue q;
  KAT_CHECK_INT_EQ(kat__queue_init(&q, 2), KAT_OK);
  for (int i = 0; i < N_ITEMS; i++) g_items[i] = i;
  pthread_t th;
  pthread_create(&th, NULL, producer, &q);
  int expected = 0, bad = 0, rc;
  void *item;
  while ((rc = kat__queue_pop(&q, &item)) == KAT_OK) {
    if (*(intptr_t *)item != expected) bad++;
    expected++;
  }
  pthread_join(th, NULL);
  KAT_CHECK_INT_EQ(rc, KAT_EOF);
  KAT_CHECK_INT_EQ(expected, N_ITEMS);
  KAT_CHECK_INT_EQ(bad, 0);
  kat__queue_counters st;
  kat__queue_stats(&q, &st);
  KAT_CHECK(st.max_depth <= 2);
  KAT_CHECK_INT_EQ(st.pushed, N_ITEMS);
  KAT_CHECK_INT_EQ(st.popped, N_ITEMS);
  /* Pushing after close is refused. */
  KAT_CHECK_INT_EQ(kat__queue_push(&q, &g_items[0]), KAT_ESTATE);
  kat__queue_cleanup(&q);
}

static void *blocked_pop(void *arg) {
  kat__queue *q = arg;
  void *item;
  return (void *)(intptr_t)kat__queue_pop(q, &item);
}

static void *blocked_push(void *arg) {
  kat__queue *q = arg;
  return (void *)(intptr_t)kat__queue_push(q, &g_items[1]);
}

KAT_TEST(test_cancel_wakes_waiters) {
  kat__queue empty, full;
  KAT_CHECK_INT_EQ(kat__queue_init(&empty, 1), KAT_OK);
  KAT_CHECK_INT_EQ(kat__queue_init(&full, 1), KAT_OK);
  KAT_CHECK_INT_EQ(kat__queue_push(&full, &g_items[0]), KAT_OK);
  pthread_t a, b;
  pthread_create(&a, NULL, blocked_pop, &empty);
  pthread_create(&b, NULL, blocked_push, &full);
  struct timespec ts = {0, 20 * 1000 * 1000};
  nanosleep(&ts, NULL);
  kat__queue_cancel(&empty);
  kat__queue_cancel(&full);
  void *ra, *rb;
  pthread_join(a, &ra);
  pthread_join(b, &rb);
  KAT_CHECK_INT_EQ((intptr_t)ra, KAT_ECANCELED);
  KAT_CHECK_INT_EQ((intptr_t)rb, KAT_ECANCELED);
  void *item;
  KAT_CHECK_INT_EQ(kat__queue_pop(&full, &item), KAT_ECANCELED);
  kat__queue_cleanup(&empty);
  kat__queue_cleanup(&full);
}

KAT_TEST(test_drop_oldest) {
  kat__queue q;
  KAT_CHECK_INT_EQ(kat__queue_init(&q, 2), KAT_OK);
  void *ev;
  for (int i = 0; i < 5; i++) {
    g_items[i] = i;
    KAT_CHECK_INT_EQ(kat__queue_push_drop_oldest(&q, &g_items[i], &ev), KAT_OK);
    if (i < 2)
      KAT_CHECK(ev == NULL);
    else
      KAT_CHECK(ev == &g_items[i - 2]);
  }
  void *item;
  KAT_CHECK_INT_EQ(kat__queue_try_pop(&q, &item), KAT_OK);
  KAT_CHECK(item == &g_items[3]);
  KAT_CHECK_INT_EQ(kat__queue_try_pop(&q, &item), KAT_OK);
  KAT_CHECK(item == &g_items[4]);
  KAT_CHECK_INT_EQ(kat__queue_try_pop(&q, &item), KAT_ESTATE);
  kat__queue_counters st;
  kat__queue_stats(&q, &st);
  KAT_CHECK_INT_EQ(st.dropped, 3);
  kat__queue_close(&q);
  KAT_CHECK_INT_EQ(kat__queue_try_pop(&q, &item), KAT_EOF);
  KAT_CHECK_INT_EQ(kat__queue_init(&q, 0), KAT_EINVAL);
  kat__queue_cleanup(&q);
}

KAT_TEST_MAIN(KAT_CASE(test_order_and_backpressure), KAT_CASE(test_cancel_wakes_waiters),
              KAT_CASE(test_drop_oldest))
