/*
** list.c: the intrusive circular list behind every queue in the runtime.
*/

#include "internal.h"

void green__list_init(green__node *list) {
  list->prev = list->next = list;
}

int green__list_empty(const green__node *list) {
  return list->next == list;
}

/* Append node at the tail. */
void green__list_push(green__node *list, green__node *node) {
  node->prev = list->prev;
  node->next = list;
  list->prev->next = node;
  list->prev = node;
}

/* Unlink node; it then forms an empty list of its own, so removing twice
   is harmless. */
void green__list_remove(green__node *node) {
  node->prev->next = node->next;
  node->next->prev = node->prev;
  node->prev = node->next = node;
}

/* Remove and return the head, or NULL if the list is empty. */
green__node *green__list_shift(green__node *list) {
  green__node *head = list->next;
  if (head == list) return NULL;
  green__list_remove(head);
  return head;
}
