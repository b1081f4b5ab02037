/*
** list.h: the intrusive circular list behind every queue in the runtime.
** Inline: the ready queue and the wait queues use it at every switch.
*/

#ifndef GREEN_LIST_H
#define GREEN_LIST_H

#include <stddef.h>

/* Doubly linked circular list; an empty list points at itself. */
typedef struct green__node {
  struct green__node *prev, *next;
} green__node;

static inline void green__list_init(green__node *list) {
  list->prev = list->next = list;
}

static inline int green__list_empty(const green__node *list) {
  return list->next == list;
}

/* Append node at the tail. */
static inline void green__list_push(green__node *list, green__node *node) {
  node->prev = list->prev;
  node->next = list;
  list->prev->next = node;
  list->prev = node;
}

/* Insert node at the head. */
static inline void green__list_unshift(green__node *list, green__node *node) {
  green__list_push(list->next, node);
}

/* Unlink node; it then forms an empty list of its own, so removing twice
   is harmless. */
static inline void green__list_remove(green__node *node) {
  node->prev->next = node->next;
  node->next->prev = node->prev;
  node->prev = node->next = node;
}

/* Remove and return the head, or NULL if the list is empty. */
static inline green__node *green__list_shift(green__node *list) {
  green__node *head = list->next;
  if (head == list) return NULL;
  green__list_remove(head);
  return head;
}

/* O(n): for statistics, not for paths that run often. */
static inline size_t green__list_length(const green__node *list) {
  const green__node *node;
  size_t n = 0;
  for (node = list->next; node != list; node = node->next) n++;
  return n;
}

#endif
